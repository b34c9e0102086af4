"""The house's layer rules, checked over the import graph of src/heart (every import,
including those inside functions).

Layers, lowest first: a module may import its own layer and the ones below, never a
higher one. DEVELOPERS.md draws the same picture; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# (layer name, module prefixes), lowest first. A module belongs to the layer of the
# longest prefix that matches it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("domain", ("heart.domain",)),
    ("errors", ("heart.errors",)),
    ("database helpers", ("heart.db",)),
    ("batch", ("heart.batch",)),
    ("geocoding", ("heart.geocoding",)),
    ("realtime", ("heart.live",)),
    ("accounts", ("heart.accounts",)),
    ("events", ("heart.events",)),
    ("jobs", ("heart.jobs",)),
    ("shared web", ("heart.program_in_force", "heart.apikit")),
    ("calls", ("heart.calls",)),
    ("teams", ("heart.teams",)),
    ("intake", ("heart.intake",)),
    ("care", ("heart.care",)),
    ("cad write-back", ("heart.cad",)),
    ("planning", ("heart.planning",)),
    ("reports", ("heart.reports",)),
    ("board", ("heart.board",)),
    ("public", ("heart.public",)),
    ("project", ("heart.web", "heart.live.serve")),
    ("demo", ("heart.demo",)),
    ("cli", ("heart.cli",)),
]
# the apps: none may import another app's api module, the CLI or the demo
APPS = (
    "accounts",
    "events",
    "calls",
    "teams",
    "intake",
    "care",
    "planning",
    "reports",
    "board",
    "public",
)


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            out.add(target)
            # "from heart.care import services" imports the module heart.care.services
            out.update(f"{target}.{a.name}" for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    files = [p for p in (SRC / "heart").rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p): p for p in files}
    out = {}
    for name, path in modules.items():
        out[name] = {m for m in imports_of(path) if m in modules}
    return out


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and DEVELOPERS.md)")
    return best


def app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in APPS else None


GRAPH = graph()


def test_every_module_has_a_layer():
    for module in GRAPH:
        if module != "heart":
            layer_of(module)


def test_no_import_runs_up_a_layer():
    up = []
    for module, targets in GRAPH.items():
        if module == "heart":
            continue
        for target in targets:
            if target != "heart" and layer_of(target) > layer_of(module):
                up.append(
                    f"{module} ({LAYERS[layer_of(module)][0]}) -> "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not up, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(up))


def test_domain_imports_no_django_and_no_app():
    bad = []
    for path in (SRC / "heart" / "domain").rglob("*.py"):
        for target in imports_of(path):
            if target.split(".")[0] == "django" or (
                target.startswith("heart.") and not target.startswith("heart.domain")
            ):
                bad.append(f"{module_name(path)} -> {target}")
    assert not bad, bad


def test_apps_never_import_cli_demo_or_another_apps_api():
    bad = []
    for module, targets in GRAPH.items():
        app = app_of(module)
        if app is None:
            continue
        for target in targets:
            upward = target.startswith(("heart.cli", "heart.demo"))
            foreign_api = target.endswith(".api") and app_of(target) not in (None, app)
            if upward or foreign_api:
                bad.append(f"{module} -> {target}")
    assert not bad, bad


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    "module, extra, rule",
    [
        ("heart.domain.dispatch", "django.db.models", test_domain_imports_no_django_and_no_app),
        ("heart.calls.services", "heart.intake.services", test_no_import_runs_up_a_layer),
        (
            "heart.teams.api",
            "heart.intake.api",
            test_apps_never_import_cli_demo_or_another_apps_api,
        ),
        ("heart.care.selectors", "heart.care.views", test_no_import_circles),
    ],
)
def test_the_rules_fail_when_broken(monkeypatch, module, extra, rule):
    """Each rule above is shown to catch the break it names (an import added in a copy of
    the graph; the domain rule reads files, so it gets a planted file)."""
    if rule is test_domain_imports_no_django_and_no_app:
        planted = SRC / "heart" / "domain" / "_planted_for_test.py"
        planted.write_text(f"import {extra}\n")
        try:
            with pytest.raises(AssertionError):
                rule()
        finally:
            planted.unlink()
        return
    broken = {k: set(v) for k, v in GRAPH.items()}
    broken[module].add(extra)
    if rule is test_no_import_circles:
        broken[extra].add(module)
    monkeypatch.setitem(globals(), "GRAPH", broken)
    with pytest.raises(AssertionError):
        rule()

"""The labelled narrative corpus: the exclusions hold on realistic CAD text.

tests/data/narratives.csv holds CAD narratives written for this project (no real
narratives exist in ../shared), upper-case CAD style and plain English, with shorthand
and typos. Each row has a class (weapon, violence, medical: unsafe for an unarmed team
and for a phone clinician; plain, negated, trap: safe), a finer kind, an eligible Durham
call type and the safe route for a call in the pilot area during the team's hours.

The ``tune`` rows were written first and the Durham lists were grown from them; the
``holdout`` rows were written after the lists were tuned and are reported separately.
Every call is judged as if it came on a Tuesday at 10:00 in beat 113 (pilot area,
co-response operating), so the narrative alone decides.

    PYTHONPATH=src python -m tests.unit.test_narrative_corpus   # prints the tables
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from heart.domain.program import Program
from heart.domain.program_file import load_program
from heart.domain.triage import CallInput, decide

CORPUS = Path(__file__).resolve().parent.parent / "data" / "narratives.csv"
UNSAFE = ("weapon", "violence", "medical")
SAFE = ("plain", "negated", "trap")
CLASSES = UNSAFE + SAFE
WHEN = dt.datetime(2022, 10, 4, 10, 0, tzinfo=ZoneInfo("America/New_York"))  # a Tuesday
KEPT_FROM = ("crt", "ccd")  # the unarmed team and the phone clinician


@dataclass(frozen=True)
class Row:
    id: str
    split: str
    cls: str
    kind: str
    nature: str
    narrative: str
    safe_route: str


def load_corpus() -> list[Row]:
    with CORPUS.open(newline="") as fh:
        return [
            Row(
                r["id"],
                r["split"],
                r["class"],
                r["kind"],
                r["nature"],
                r["narrative"],
                r["safe_route"],
            )
            for r in csv.DictReader(fh)
        ]


def route_of(program: Program, row: Row) -> str:
    call = CallInput(received_at=WHEN, nature=row.nature, beat="113", narrative=row.narrative)
    return decide(program, call).route


@dataclass
class ClassResult:
    n: int = 0
    kept: int = 0  # unsafe: kept from crt and ccd
    to_team: int = 0  # safe: sent to the team
    exact: int = 0  # the route equals the labelled safe route


def evaluate(program: Program, rows: list[Row], route=route_of) -> dict[str, ClassResult]:
    out: dict[str, ClassResult] = defaultdict(ClassResult)
    for row in rows:
        got = route(program, row)
        r = out[row.cls]
        r.n += 1
        r.kept += got not in KEPT_FROM
        r.to_team += got == "crt"
        r.exact += got == row.safe_route
    return out


def misses(program: Program, rows: list[Row], route=route_of) -> list[tuple[Row, str]]:
    """Rows judged unsafely (unsafe sent to crt/ccd) or losing reach (safe not to crt)."""
    wrong = []
    for row in rows:
        got = route(program, row)
        if (row.cls in UNSAFE and got in KEPT_FROM) or (row.cls in SAFE and got != "crt"):
            wrong.append((row, got))
    return wrong


def table(results: dict[str, ClassResult]) -> str:
    """The per-class table in Markdown (docs/programs.md)."""
    lines = [
        "| class | calls | kept from team and phone clinician | sent to the team | route as labelled |",
        "|---|---|---|---|---|",
    ]
    for cls in CLASSES:
        r = results.get(cls)
        if r is None or r.n == 0:
            continue
        kept = f"{r.kept}/{r.n} ({100 * r.kept / r.n:.0f}%)" if cls in UNSAFE else "–"
        team = f"{r.to_team}/{r.n} ({100 * r.to_team / r.n:.0f}%)" if cls in SAFE else "–"
        lines.append(f"| {cls} | {r.n} | {kept} | {team} | {r.exact}/{r.n} |")
    unsafe = [results[c] for c in UNSAFE if c in results]
    safe = [results[c] for c in SAFE if c in results]
    n_u, k_u = sum(r.n for r in unsafe), sum(r.kept for r in unsafe)
    n_s, t_s = sum(r.n for r in safe), sum(r.to_team for r in safe)
    lines.append(
        f"| **all unsafe** | {n_u} | **{k_u}/{n_u} ({100 * k_u / max(n_u, 1):.1f}%)** | – | |"
    )
    lines.append(
        f"| **all safe** | {n_s} | – | **{t_s}/{n_s} ({100 * t_s / max(n_s, 1):.1f}%)** | |"
    )
    return "\n".join(lines)


ROWS = load_corpus()
PROGRAMS = ["durham-heart-2022", "durham-heart-2023"]


def test_the_corpus_is_large_and_covers_every_class():
    assert len(ROWS) >= 300
    assert len({r.id for r in ROWS}) == len(ROWS)
    counts = Counter(r.cls for r in ROWS)
    assert set(counts) == set(CLASSES), counts
    assert all(n >= 20 for n in counts.values()), counts
    holdout = sum(r.split == "holdout" for r in ROWS)
    assert holdout >= 0.24 * len(ROWS)
    for r in ROWS:
        assert r.safe_route in ("crt", "co_response", "standard"), r
        if r.cls in SAFE:
            assert r.safe_route == "crt", r
        else:
            assert r.safe_route != "crt", r


@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("split", ["tune", "holdout"])
def test_every_unsafe_call_is_kept_from_the_team_and_the_phone_clinician(name, split):
    program = load_program(name)
    rows = [r for r in ROWS if r.split == split and r.cls in UNSAFE]
    wrong = misses(program, rows)
    assert wrong == [], "\n".join(f"{r.id} {r.cls}: {r.narrative!r} -> {got}" for r, got in wrong)


@pytest.mark.parametrize("name", PROGRAMS)
def test_at_least_95_percent_of_safe_calls_reach_the_team(name):
    """Over the whole corpus; the held-out share is reported in docs/programs.md."""
    program = load_program(name)
    rows = [r for r in ROWS if r.cls in SAFE]
    results = evaluate(program, rows)
    sent = sum(results[c].to_team for c in SAFE if c in results)
    wrong = misses(program, rows)
    assert sent >= 0.95 * len(rows), "\n".join(
        f"{r.id} {r.cls}: {r.narrative!r} -> {got}" for r, got in wrong
    )


def main() -> None:
    program = load_program("durham-heart-2022")
    for split in ("tune", "holdout"):
        rows = [r for r in ROWS if r.split == split]
        print(f"\n### {split} ({len(rows)} narratives)\n")
        print(table(evaluate(program, rows)))
        for row, got in misses(program, rows):
            print(f"- {row.id} [{row.cls}/{row.kind}] {row.narrative!r} -> {got}")


if __name__ == "__main__":
    main()

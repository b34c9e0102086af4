"""Browser tests: Debian's chromium driven by Playwright, against `heart serve --demo`.

Locally they skip when /usr/bin/chromium or Playwright is missing; under CI (env CI
set) they fail instead, so a broken set-up cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HEART_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-pass-123"


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} (required under CI: run scripts/setup.sh)")
    pytest.skip(what)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            if "server" in item.fixturenames:
                # runs in the PostgreSQL pass too: then the server has two processes
                item.add_marker(pytest.mark.db)


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} not found (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    # Playwright's sync API keeps an event loop in this thread while the browser lives;
    # the ORM calls tests make between browser steps are still synchronous and safe.
    # Package scope: the setting is undone before the rest of the suite runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            yield b
            b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def server(tmp_path_factory, browser):
    """`heart serve --demo --no-replay` on a free port with its own SQLite file."""
    with serving(tmp_path_factory) as running:
        yield running


@contextmanager
def serving(tmp_path_factory, extra_env: dict | None = None):
    """A `heart serve --demo --no-replay` of its own (settings through ``extra_env``,
    e.g. HEART_GEOCODER), stopped when the block ends."""
    import httpx

    if not (ROOT / "node_modules" / "leaflet" / "dist" / "leaflet.js").exists():
        _missing("Leaflet is not installed (bash scripts/frontend.sh)")

    data = tmp_path_factory.mktemp("heart-e2e")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HEART_PROGRAM")}
    env.update(HEART_DATA_DIR=str(data), HEART_DEMO_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    workers = 1
    scratch = _scratch_postgres(os.environ.get("DATABASE_URL", ""), suffix=str(_free_port()))
    if scratch:  # the PostgreSQL pass: two server processes sharing events by LISTEN/NOTIFY
        env["DATABASE_URL"] = scratch.url
        workers = 2
    heart = shutil.which("heart", path=str(Path(sys.executable).parent)) or "heart"
    port = _free_port()
    log = open(data / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [heart, "serve", "--demo", "--no-replay", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    # migrations + the demo's seeding on a fresh PostgreSQL database take ~45 s on a busy
    # 2-core machine; a server that never answers still fails here
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail("heart serve did not start:\n" + (data / "server.log").read_text())
        time.sleep(0.3)
    token = subprocess.run(
        [heart, "apiclient", "create", "cad-e2e"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        yield {"base": base, "token": token, "log": data / "server.log", "env": env}
    finally:
        proc.send_signal(2)  # Ctrl-C: the server stops cleanly
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        if scratch:
            scratch.drop()


class _ScratchDatabase:
    """A database of its own on the test PostgreSQL server, dropped afterwards."""

    def __init__(self, admin_url: str, name: str):
        import psycopg

        self.admin_url, self.name = admin_url, name
        self.url = admin_url.rsplit("/", 1)[0] + "/" + name
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _scratch_postgres(url: str, suffix: str = "") -> _ScratchDatabase | None:
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    return _ScratchDatabase(url, f"heart_e2e_{os.getpid()}_{suffix}".rstrip("_"))

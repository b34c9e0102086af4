"""`HEART_PRODUCTION=1` (issue 11, item 4): `heart manage check --deploy` is clean, and
the service refuses to start with a weak key or no host names, saying why. Run as
separate processes: the settings are read once per process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _heart(tmp_path, *args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HEART_", "DATABASE_URL"))}
    full.update(PYTHONPATH=str(ROOT / "src"), HEART_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "heart.cli", *args],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    r = _heart(
        tmp_path,
        "manage",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        HEART_PRODUCTION="1",
        HEART_SECRET_KEY=secrets.token_urlsafe(64),
        HEART_ALLOWED_HOSTS="heart.example.org",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout
    for code in ("W004", "W008", "W009", "W012", "W016"):
        assert code not in r.stdout + r.stderr


def test_production_refuses_a_weak_key_and_missing_hosts(tmp_path):
    r = _heart(tmp_path, "serve", "--port", "1", HEART_PRODUCTION="1", HEART_SECRET_KEY="short")
    assert r.returncode == 2
    assert "HEART_SECRET_KEY: 5 characters" in r.stderr
    assert "HEART_ALLOWED_HOSTS: required in production" in r.stderr
    assert "Traceback" not in r.stderr

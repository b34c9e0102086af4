"""Shared fixtures: built-in programs, the ../shared data folder, a local clock."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from heart.domain.program_file import load_program

ROOT = Path(__file__).resolve().parent.parent
NY = ZoneInfo("America/New_York")


def pytest_collection_modifyitems(config, items):
    # anything using the database is a `db` test: CI runs those on PostgreSQL too
    for item in items:
        if "django_db" in item.keywords or "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
        if "shared_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)
        if "postgres_only" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres_only)


def _flush_lifts_the_audit_guard() -> None:
    """Test databases are reset by Django's flush (TRUNCATE on PostgreSQL, DELETE on
    SQLite), which the append-only audit tables refuse. The flush may lift the guard
    inside its own transaction only (heart.accounts.chain.maintenance_sql); nothing
    else in the tests can."""
    from django.db.backends.postgresql.base import DatabaseWrapper as Pg
    from django.db.backends.sqlite3.base import DatabaseWrapper as Sqlite

    for ops in (Pg.ops_class, Sqlite.ops_class):
        original = ops.sql_flush

        def sql_flush(self, style, tables, *args, _original=original, **kwargs):
            from heart.accounts.chain import maintenance_sql

            before, after = maintenance_sql(self.connection.vendor)
            sql = _original(self, style, tables, *args, **kwargs)
            return [*before, *sql, *after] if sql else sql

        ops.sql_flush = sql_flush


_flush_lifts_the_audit_guard()


def shared_path() -> Path:
    """../shared (or HEART_SHARED_DIR); skips the test locally when absent, fails under CI."""
    path = Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared"))
    if not (path / "data").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data folder missing at {path} (set HEART_SHARED_DIR)")
        pytest.skip(f"shared data folder missing at {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def durham_2022():
    return load_program("durham-heart-2022")


@pytest.fixture(scope="session")
def durham_2023():
    return load_program("durham-heart-2023")


def ny(*args: int) -> dt.datetime:
    """A local Durham time."""
    return dt.datetime(*args, tzinfo=NY)

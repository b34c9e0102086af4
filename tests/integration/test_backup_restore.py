"""Backup and restore as docs/operations.md describes them (issue 11, item 11): dump the
database, restore it into a new one, and find the same rows and an intact audit chain.

SQLite: the online backup API (what `sqlite3 heart.sqlite3 ".backup FILE"` uses), taken
while the service's connection is open. PostgreSQL: `pg_dump -Fc` of the test database,
`pg_restore` into a database of its own, dropped afterwards."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from heart.accounts import chain
from heart.accounts.actors import SYSTEM, Actor
from heart.care import services as care
from heart.teams.models import Position

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _some_of_everything(person, staffed_team) -> None:
    now = timezone.now()
    team = staffed_team("Backup team", now=now)
    Position.objects.create(team=team, lon=-78.9, lat=35.99, recorded_at=now, received_at=now)
    nav = Actor.for_user(person("care_navigator"))
    p = care.create_person(actor=nav, name="Ana Diaz", phone="919 555 0110")
    care.update_person(person_id=p.pk, actor=nav, notes="prefers text")
    care.create_provider(actor=nav, name="Crisis Center", services=["mental_health"])
    from heart.accounts.services import audit

    audit(actor=SYSTEM, action="backup.test", obj=team, at=now - dt.timedelta(minutes=1))


def _tables() -> list[str]:
    return sorted(
        m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy
    )


def _live_counts() -> dict[str, int]:
    with connection.cursor() as cur:
        out = {}
        for table in _tables():
            cur.execute(f'SELECT count(*) FROM "{table}"')
            out[table] = cur.fetchone()[0]
    return out


def _verify_restored(tmp_path, **env) -> None:
    """`heart manage verify_audit` on the restored database, as an operator runs it."""
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HEART_TEST_DB_NAME")}
    full.update(PYTHONPATH=str(ROOT / "src"), HEART_DATA_DIR=str(tmp_path), **env)
    r = subprocess.run(
        [sys.executable, "-m", "heart.cli", "manage", "verify_audit"],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for model in chain.chained_models():
        live = chain.verify(model)
        assert live.ok and live.rows > 0
        assert (
            f"{model._meta.db_table}: {live.rows} rows, chain intact; head #{live.head_seq} {live.head_hash}"
            in r.stdout
        )


def test_sqlite_online_backup_restores_every_row(person, staffed_team, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backup")
    _some_of_everything(person, staffed_team)
    target = tmp_path / "heart-backup.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(target) as dest:
        connection.connection.backup(dest)  # = sqlite3 heart.sqlite3 ".backup FILE"
    dest.close()
    with sqlite3.connect(target) as restored:
        counts = {
            t: restored.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables()
        }
    assert counts == _live_counts()
    target.rename(tmp_path / "heart.sqlite3")  # where HEART_DATA_DIR puts it
    _verify_restored(tmp_path)


def test_postgresql_dump_and_restore_into_a_new_database(
    person, staffed_team, postgres_only, tmp_path
):
    _some_of_everything(person, staffed_team)
    s = connection.settings_dict
    common = ["-h", s["HOST"] or "127.0.0.1", "-p", str(s["PORT"] or 5432), "-U", s["USER"]]
    dump = tmp_path / "heart.dump"
    subprocess.run(["pg_dump", "-Fc", *common, "-f", str(dump), s["NAME"]], check=True)
    name = f"heart_restore_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", *common, name], check=True)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", *common, "-d", name, str(dump)],
            check=True,
        )
        import psycopg

        url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
        with psycopg.connect(url) as restored:
            counts = {
                t: restored.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables()
            }
        assert counts == _live_counts()
        _verify_restored(tmp_path, DATABASE_URL=url)
    finally:
        subprocess.run(["dropdb", "--force", *common, name], check=False)

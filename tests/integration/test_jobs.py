"""Scheduled jobs (heart.jobs) and the GPS retention purge (issue 11, item 7).

The job functions are plain functions; on SQLite a thread in the server process runs
them at their cron times, on PostgreSQL procrastinate periodic tasks run by a worker."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from heart import jobs
from heart.accounts.models import AuditEntry
from heart.teams.models import Position
from heart.teams.services import purge_positions

pytestmark = pytest.mark.django_db


def _positions(team, ages_days: list[float], now: dt.datetime) -> None:
    Position.objects.bulk_create(
        [
            Position(
                team=team,
                lon=-78.9,
                lat=35.99,
                recorded_at=now - dt.timedelta(days=d),
                received_at=now - dt.timedelta(days=d),
            )
            for d in ages_days
        ]
    )


def test_gps_history_older_than_the_retention_is_purged(staffed_team, settings):
    now = timezone.now()
    team = staffed_team("T1", now=now)
    _positions(team, [0, 1, 89.9, 90.1, 120, 400], now)
    assert purge_positions(now=now) == 3
    left = sorted(
        round((now - p.received_at).total_seconds() / 86400, 1) for p in Position.objects.all()
    )
    assert left == [0.0, 1.0, 89.9]
    team.refresh_from_db()
    assert team.lon is not None  # the latest position stays on the team
    entry = AuditEntry.objects.get(action="positions.purged")
    assert entry.data["deleted"] == 3 and entry.data["days"] == 90
    assert purge_positions(now=now) == 0  # again: nothing left to do
    settings.HEART_GPS_RETENTION_DAYS = 0.5
    assert purge_positions(now=now) == 2


def test_the_purge_is_a_registered_daily_job():
    job = {j.name: j for j in jobs.registered()}["teams.purge_positions"]
    assert job.func is purge_positions and job.cron == "17 3 * * *"


def test_on_sqlite_a_thread_runs_jobs_at_their_times(settings):
    settings.HEART_JOBS_BACKEND = "thread"
    ran = []
    jobs.register(name="test.tick", cron="* * * * * *", func=lambda: ran.append(time.monotonic()))
    try:
        scheduler = jobs.Scheduler().start()
        deadline = time.monotonic() + 5
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler.stop()
        assert len(ran) >= 2 and "test.tick" in scheduler.runs
    finally:
        jobs._jobs.pop("test.tick", None)


def test_the_backend_follows_the_database(settings):
    from django.db import connection

    settings.HEART_JOBS_BACKEND = "auto"
    expected = "procrastinate" if connection.vendor == "postgresql" else "thread"
    assert jobs.backend_name() == expected


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_procrastinate_worker_runs_the_purge(postgres_only, staffed_team):
    from procrastinate.contrib.django import app

    now = timezone.now()
    team = staffed_team("T1", now=now)
    _positions(team, [1, 100, 200], now)
    task = app.tasks["heart.teams.purge_positions"]
    assert any(p.task is task for p in app.periodic_registry.periodic_tasks.values())
    task.defer(timestamp=int(now.timestamp()))
    from heart.jobs.worker import run_worker

    run_worker(wait=False)  # runs what is queued, then returns
    assert Position.objects.count() == 1
    assert AuditEntry.objects.filter(action="positions.purged").count() == 1

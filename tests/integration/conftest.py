"""Fixtures for the live-operations tests: people in every role, staffed teams."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.roles import RESPONDER, ROLES
from heart.accounts.services import create_user
from heart.domain.dispatch import UnitState

_n = itertools.count()

# a point inside Durham (city area) and a daytime instant inside HEART hours
DURHAM = (-78.8986, 35.9940)


@pytest.fixture
def program(durham_2023):
    return durham_2023


@pytest.fixture
def on_duty_now():
    """A fixed 'now' inside HEART hours (Tuesday 2024-03-05 10:00 Durham)."""
    from zoneinfo import ZoneInfo

    return dt.datetime(2024, 3, 5, 10, 0, tzinfo=ZoneInfo("America/New_York"))


# training completions that make a responder current both for the fixed 2024 instants
# the tests use (on_duty_now) and for today
TRAINED_ON = (dt.date(2024, 1, 2),)


def train(user, discipline: str, *, program=None, days=TRAINED_ON) -> None:
    """Record every training the program requires of the discipline (current today and
    on 2024-03-05). One bulk insert: fixtures make many people (the service,
    record_training, is tested on its own)."""
    from heart.program_in_force import current_program
    from heart.teams.models import TrainingRecord

    program = program or current_program()
    now = timezone.now()
    today = now.astimezone(program.zone).date()
    TrainingRecord.objects.bulk_create(
        [
            TrainingRecord(
                user=user,
                training=t.key,
                completed_on=day,
                recorded_at=now,
                recorded_by_label="test",
            )
            for t in program.trainings_for(discipline)
            for day in (*days, today - dt.timedelta(days=30))
        ]
    )


@pytest.fixture
def person(db):
    """make(role, discipline='', trained=True): a person; responders get a discipline
    (default clinician) and, unless trained=False, the program's trainings current."""

    def make(role: str, discipline: str = "", *, trained: bool = True):
        if role == RESPONDER and not discipline:
            discipline = "clinician"
        user = create_user(
            username=f"{role}{next(_n)}", password="pw-test-123", role=role, discipline=discipline
        )
        if role == RESPONDER and trained:
            train(user, discipline)
        return user

    return make


@pytest.fixture
def people(person):
    return {role: person(role) for role in ROLES}


@pytest.fixture
def staffed_team(db, person):
    """make(name, lon, lat, now=..., status='available') -> a fully staffed team on shift."""
    from heart.teams.services import change_status, create_team, start_shift

    def make(
        name=None, lon=DURHAM[0], lat=DURHAM[1], *, now=None, status="available", members=None
    ):
        now = now or timezone.now()
        team = create_team(name=name or f"HEART-{next(_n)}")
        if members is None:
            members = [(person(RESPONDER, d), d) for d in ("clinician", "peer_support", "emt")]
        start_shift(
            team=team,
            members=members,
            starts_at=now - dt.timedelta(hours=2),
            ends_at=now + dt.timedelta(hours=8),
        )
        if status == UnitState.AVAILABLE:
            change_status(team=team, status="available", actor=SYSTEM, now=now)
        from heart.teams.models import Team

        Team.objects.filter(pk=team.pk).update(lon=lon, lat=lat, position_at=now)
        team.refresh_from_db()
        return team

    return make


@pytest.fixture
def co_response_unit(db, person):
    """make(name, lon, lat, now=..., clinician=None) -> (team, clinician): a co-response
    unit (the program's co_response unit) on shift with one trained clinician."""
    from heart.teams.models import Team
    from heart.teams.services import change_status, create_team, start_shift

    def make(name=None, lon=DURHAM[0], lat=DURHAM[1], *, now=None, clinician=None):
        now = now or timezone.now()
        team = create_team(name=name or f"CR-{next(_n)}", unit_key="co_response")
        clinician = clinician or person(RESPONDER, "clinician")
        start_shift(
            team=team,
            members=[(clinician, "clinician")],
            starts_at=now - dt.timedelta(hours=2),
            ends_at=now + dt.timedelta(hours=8),
        )
        change_status(team=team, status="available", actor=SYSTEM, now=now)
        Team.objects.filter(pk=team.pk).update(lon=lon, lat=lat, position_at=now)
        team.refresh_from_db()
        return team, clinician

    return make


def open_call(route: str, *, at=None, **kw):
    """A stored open call already routed (no triage): for dispatch tests."""
    from heart.calls.models import Call

    return Call.objects.create(
        received_at=at or timezone.now(),
        nature=kw.pop("nature", "CRISIS"),
        route=route,
        reasons=kw.pop("reasons", [{"code": f"route_{route}", "text": f"Routed {route}."}]),
        rules_version="test",
        program="durham-heart-2023",
        lon=kw.pop("lon", DURHAM[0]),
        lat=kw.pop("lat", DURHAM[1]),
        **kw,
    )


def actor_of(user) -> Actor:
    return Actor.for_user(user)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Per-process caches (shift roster, team snapshots) must not leak between tests."""
    from heart.live.local import forget_delivered
    from heart.teams.selectors import invalidate_roster, invalidate_snapshots

    invalidate_roster()
    invalidate_snapshots()
    forget_delivered()
    yield
    invalidate_roster()
    invalidate_snapshots()


def race(jobs):
    """Run jobs at the same instant on separate connections; (wins, conflicts, errors)."""
    import threading

    from django.db import connections

    from heart.errors import Conflict

    barrier = threading.Barrier(len(jobs))
    wins, conflicts, errors = [], [], []

    def run(job):
        try:
            barrier.wait()
            wins.append(job())
        except Conflict as exc:
            conflicts.append(exc.message)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return wins, conflicts, errors


@pytest.fixture
def postgres_only():
    """For tests that only PostgreSQL can show (row locks, LISTEN/NOTIFY, restarts).

    Every test using it is marked ``postgres_only`` (tests/conftest.py), and the SQLite
    pass of scripts/test.sh deselects that mark; so under CI a skip can only mean a
    misconfigured run, and it fails instead. Locally on SQLite it skips.
    """
    import os

    from django.db import connection

    if connection.vendor != "postgresql":
        why = "PostgreSQL only (row locks, LISTEN/NOTIFY): run with DATABASE_URL=postgres://…"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; under CI the SQLite pass must deselect -m postgres_only")
        pytest.skip(why)

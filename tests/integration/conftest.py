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


@pytest.fixture
def person(db):
    def make(role: str, discipline: str = ""):
        if role == RESPONDER and not discipline:
            discipline = "clinician"
        return create_user(
            username=f"{role}{next(_n)}", password="pw-test-123", role=role, discipline=discipline
        )

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
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency test: PostgreSQL only")

"""Many dispatchers assigning at the same moment: exactly one wins (PostgreSQL only).

SQLite serialises writers itself (IMMEDIATE transactions), so this runs only where
row locks matter: `HEART_TEST_DB_NAME=test_live DATABASE_URL=postgres://… pytest -m db`.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.calls.models import Call
from heart.program_in_force import current_program
from heart.teams.models import Assignment, Team
from heart.teams.services import assign_team
from tests.integration.conftest import race

pytestmark = [pytest.mark.django_db(transaction=True)]

N = 16


@pytest.fixture(autouse=True)
def _postgres_only(postgres_only):
    """Row locks are the point here; SQLite serialises writers by itself."""


def _call():
    return Call.objects.create(
        received_at=timezone.now(), nature="CRISIS", route="crt", rules_version="v", program="p"
    )


def test_many_dispatchers_same_team(staffed_team):
    team = staffed_team("Contested")
    calls = [_call() for _ in range(N)]
    program = current_program()
    jobs = [
        (
            lambda c=c, i=i: assign_team(
                call=c, team=team, actor=Actor(f"user:d{i}"), program=program
            )
        )
        for i, c in enumerate(calls)
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == []
    assert len(wins) == 1 and len(conflicts) == N - 1
    assert all("not available" in m or "dispatched" in m for m in conflicts), conflicts[:3]
    assert Assignment.objects.filter(team=team, active=True).count() == 1
    assert Team.objects.get(pk=team.pk).status == "dispatched"


def test_many_dispatchers_same_call(staffed_team):
    teams = [staffed_team(f"T{i}") for i in range(N)]
    call = _call()
    program = current_program()
    jobs = [
        (
            lambda t=t, i=i: assign_team(
                call=call, team=t, actor=Actor(f"user:d{i}"), program=program
            )
        )
        for i, t in enumerate(teams)
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == []
    assert len(wins) == 1 and len(conflicts) == N - 1
    assert all("already assigned" in m for m in conflicts), conflicts[:3]
    assert Assignment.objects.filter(call=call, active=True).count() == 1
    assert Team.objects.filter(status="dispatched").count() == 1
    assert Team.objects.filter(status="available").count() == N - 1


def test_crossed_assignments_do_not_deadlock(staffed_team):
    """Pairs of (call, team) crossing each other: each call and team used at most once.

    This guards the lock ORDER (call row, then team row), not the locks themselves:
    with the locks removed the partial unique indexes still keep one active assignment
    per call and per team, and this test passes (the two tests above fail then, on
    their messages). A path that locks the team before the call makes PostgreSQL
    report "deadlock detected" here (tried: it does)."""
    teams = [staffed_team(f"X{i}") for i in range(4)]
    calls = [_call() for _ in range(4)]
    program = current_program()
    jobs = [
        (lambda c=c, t=t: assign_team(call=c, team=t, actor=Actor("user:x"), program=program))
        for c in calls
        for t in teams
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == []
    assert len(wins) + len(conflicts) == 16
    active = Assignment.objects.filter(active=True)
    assert len({a.call_id for a in active}) == active.count() == len(wins)
    assert len({a.team_id for a in active}) == active.count()

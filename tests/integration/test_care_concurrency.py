"""Two (and many) navigators taking the same follow-up at once: exactly one wins, the
others are told who has it; the encounter hooks racing on one source row record one
encounter. PostgreSQL only (SQLite serialises writers itself):
`HEART_TEST_DB_NAME=test_care DATABASE_URL=postgres://… pytest -m db`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.calls.models import CcdOutcome, Disposition
from heart.care import services
from heart.care.models import Encounter, FollowUpAttempt, FollowUpTask, Person, PersonAudit
from tests.integration.conftest import race
from tests.integration.test_care_support import actor, disposition, make_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture(autouse=True)
def _postgres_only(postgres_only):
    """Row locks are the point here; SQLite serialises writers by itself."""


@pytest.mark.parametrize("n", [2, 12])
def test_one_navigator_wins_the_task(person, n):
    navs = [actor(person("care_navigator")) for _ in range(n)]
    task = disposition(at=timezone.now() - dt.timedelta(hours=1)).follow_up
    wins, conflicts, errors = race(
        [lambda a=a: services.take_task(task_id=task.pk, actor=a) for a in navs]
    )
    assert errors == []
    assert len(wins) == 1 and len(conflicts) == n - 1
    winner = FollowUpTask.objects.get(pk=task.pk).taken_by
    assert winner == wins[0].taken_by
    assert all(f"{winner.username} took follow-up {task.pk} first" in m for m in conflicts)


def test_racing_attempts_on_an_untaken_task_one_logs(person):
    navs = [actor(person("care_navigator")) for _ in range(8)]
    task = disposition(at=timezone.now() - dt.timedelta(hours=1)).follow_up
    wins, conflicts, errors = race(
        [
            lambda a=a: services.log_attempt(
                task_id=task.pk, actor=a, channel="phone", outcome="connected_to_care"
            )
            for a in navs
        ]
    )
    assert errors == [] and len(wins) == 1 and len(conflicts) == 7
    assert FollowUpAttempt.objects.filter(task_id=task.pk).count() == 1


@pytest.mark.parametrize("n", [2, 8])
def test_racing_disposition_hooks_record_one_encounter(n):
    """The hook may run twice at once (e.g. an after-commit subscriber delivered twice):
    one encounter, one person, one follow-up; every caller gets that encounter."""
    call = make_call(at=timezone.now() - dt.timedelta(hours=1))
    d = Disposition.objects.create(
        call=call,
        outcome="resolved_on_scene",
        consent_follow_up=True,
        contact_name="Racing Person",
        contact_phone="919-555-0177",
        recorded_at=timezone.now(),
        recorded_by_label="user:responder",
    )
    wins, conflicts, errors = race(
        [
            lambda: services.record_encounter_from_disposition(
                disposition=Disposition.objects.get(pk=d.pk), actor=SYSTEM
            )
            for _ in range(n)
        ]
    )
    assert errors == [] and conflicts == [] and len(wins) == n
    enc = Encounter.objects.get(disposition=d)
    assert {e.pk for e in wins} == {enc.pk}
    assert Person.objects.filter(name="Racing Person").count() == 1
    assert FollowUpTask.objects.filter(encounter=enc).count() == 1
    assert PersonAudit.objects.filter(person_id=enc.person_id, action="create").count() == 1


def test_racing_ccd_outcome_hooks_record_one_encounter():
    call = make_call(at=timezone.now() - dt.timedelta(hours=1), route="ccd")
    o = CcdOutcome.objects.create(
        call=call, outcome="resolved_by_phone", recorded_at=timezone.now()
    )
    wins, conflicts, errors = race(
        [
            lambda: services.record_encounter_from_ccd_outcome(
                ccd_outcome=CcdOutcome.objects.get(pk=o.pk), actor=SYSTEM
            )
            for _ in range(4)
        ]
    )
    assert errors == [] and conflicts == [] and len(wins) == 4
    assert {e.pk for e in wins} == {Encounter.objects.get(ccd_outcome=o).pk}

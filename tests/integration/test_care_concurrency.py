"""Two (and many) navigators taking the same follow-up at once: exactly one wins, the
others are told who has it. PostgreSQL only (SQLite serialises writers itself):
`HEART_TEST_DB_NAME=test_care DATABASE_URL=postgres://… pytest -m db`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from heart.care import services
from heart.care.models import FollowUpAttempt, FollowUpTask
from tests.integration.conftest import race
from tests.integration.test_care_support import actor, disposition

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

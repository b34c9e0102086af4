"""The follow-up timeliness page: figures per week and per navigator, for the right roles."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from heart.care import services
from heart.care.models import PersonAudit
from tests.integration.test_care_support import actor, disposition

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_page_shows_share_in_time(person):
    navigator = person("care_navigator")
    now = timezone.now()
    late = disposition(at=now - dt.timedelta(hours=100), name="A A").follow_up
    disposition(at=now - dt.timedelta(hours=100), name="B B")  # never attempted
    services.log_attempt(
        task_id=late.pk,
        actor=actor(navigator),
        channel="phone",
        outcome="declined",
        at=now - dt.timedelta(hours=90),
    )
    audits = PersonAudit.objects.count()
    page = signed_in(person("supervisor")).get("/care/sla")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1 of 2 due follow-ups had a first attempt in time (50%)" in html
    assert navigator.username in html and "(none)" in html
    assert "A A" not in html  # aggregates only: no person details
    assert PersonAudit.objects.count() == audits


@pytest.mark.parametrize(
    "role, status",
    [
        ("care_navigator", 200),
        ("supervisor", 200),
        ("analyst", 200),
        ("dispatcher", 403),
        ("responder", 403),
        ("call_taker", 403),
    ],
)
def test_who_may_see_it(person, role, status):
    assert signed_in(person(role)).get("/care/sla").status_code == status

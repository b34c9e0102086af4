"""The care navigator's pages (issue 13, item 6): no default attempt outcome, the
provider directory (add, edit, deactivate; navigators and supervisors; audited), queue
columns (phone, attempts, last contact), badges only when non-zero, human labels.
Who may open the directory pages is checked role by role in test_care_api.py's matrix."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.models import AuditEntry
from heart.accounts.roles import CARE_NAVIGATOR, CRISIS_CLINICIAN
from heart.care.models import FollowUpAttempt, Provider
from heart.care.templatetags.care_labels import human_label
from tests.integration.test_care_support import disposition

pytestmark = pytest.mark.django_db


@pytest.fixture
def nav(person):
    c = Client()
    c.force_login(person(CARE_NAVIGATOR))
    return c


def open_task(hours=5, **kw):
    return disposition(at=timezone.now() - dt.timedelta(hours=hours), **kw).follow_up


def test_an_attempt_without_an_outcome_is_refused_beside_the_field(nav):
    t = open_task()
    html = nav.get(f"/care/tasks/{t.pk}").content.decode()
    # the outcome select starts on an empty "choose…" option (nothing pre-selected)
    select = re.search(r'<select name="outcome" id="attempt-outcome".*?</select>', html, re.S)[0]
    assert '<option value="">choose…</option>' in select and "selected" not in select
    r = nav.post(f"/care/tasks/{t.pk}", {"op": "attempt", "channel": "phone", "outcome": ""})
    html = r.content.decode()
    assert r.status_code == 422
    assert 'id="err-outcome"' in html and "choose what happened" in html
    assert 'aria-describedby="err-outcome"' in html
    # the channel the navigator chose is kept
    assert '<option value="phone" selected>' in html
    assert FollowUpAttempt.objects.filter(task=t).count() == 0


def test_a_voicemail_keeps_the_task_open(nav):
    t = open_task()
    r = nav.post(
        f"/care/tasks/{t.pk}", {"op": "attempt", "channel": "phone", "outcome": "left_message"}
    )
    assert r.status_code == 302
    t.refresh_from_db()
    assert t.state == "open"
    html = nav.get(f"/care/tasks/{t.pk}").content.decode()
    assert "Phone: Left a message" in html and ">Open<" in html


def test_directory_add_edit_deactivate_audited(nav):
    r = nav.post(
        "/care/providers",
        {"name": "", "services": ["housing"], "phone": "919-555-0142", "languages": "en"},
    )
    assert r.status_code == 422 and 'id="err-name"' in r.content.decode()
    r = nav.post("/care/providers", {"name": "Bull City Housing Help", "languages": "en"})
    assert r.status_code == 422 and 'id="err-services"' in r.content.decode()
    assert Provider.objects.count() == 0
    r = nav.post(
        "/care/providers",
        {
            "name": "Bull City Housing Help",
            "services": ["housing", "food"],
            "phone": "919-555-0142",
            "languages": "en, es",
            "walk_in": "on",
        },
    )
    assert r.status_code == 302
    p = Provider.objects.get(name="Bull City Housing Help")
    assert p.services == ["housing", "food"] and p.languages == ["en", "es"] and p.walk_in
    html = nav.get("/care/providers").content.decode()
    assert "Housing, Food" in html and "Active" in html

    r = nav.post(
        f"/care/providers/{p.pk}",
        {"op": "save", "name": "Bull City Housing Help", "services": ["housing"], "phone": "x"},
    )
    assert r.status_code == 422 and 'id="err-phone"' in r.content.decode()
    r = nav.post(
        f"/care/providers/{p.pk}",
        {"op": "save", "name": "Bull City Housing Help", "services": ["housing"], "hours": "9-5"},
    )
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.services == ["housing"] and p.hours == "9-5"

    t = open_task()
    assert "Bull City Housing Help" in nav.get(f"/care/tasks/{t.pk}").content.decode()
    r = nav.post(f"/care/providers/{p.pk}", {"op": "deactivate", "reason": "closed for good"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert not p.active
    # a deactivated provider is listed (marked) but no longer offered for referrals
    assert "Deactivated" in nav.get("/care/providers").content.decode()
    page = nav.get(f"/care/tasks/{t.pk}").content.decode()
    assert "Bull City Housing Help" not in page and 'id="no-providers"' in page

    actions = list(
        AuditEntry.objects.filter(object_type="provider", object_id=str(p.pk))
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )
    assert actions == ["care.provider.create", "care.provider.update", "care.provider.deactivate"]
    last = AuditEntry.objects.filter(action="care.provider.deactivate").get()
    assert last.data == {"reason": "closed for good"}


def test_a_referral_without_a_provider_names_the_field(nav):
    Provider.objects.create(name="Clinic", services=["mental_health"])
    t = open_task()
    r = nav.post(f"/care/tasks/{t.pk}", {"op": "referral", "provider_id": "", "service": "food"})
    html = r.content.decode()
    assert r.status_code == 422 and 'id="err-provider_id"' in html
    assert "choose a provider" in html and "None" not in html


def test_a_crisis_clinician_cannot_open_the_directory(person):
    c = Client()
    c.force_login(person(CRISIS_CLINICIAN))
    assert c.get("/care/providers").status_code == 403
    assert c.post("/care/providers", {"name": "X", "services": ["food"]}).status_code == 403
    assert Provider.objects.count() == 0


def test_queue_columns_badges_and_labels(nav):
    t = open_task(name="Ana Diaz", phone="919-555-0177")
    html = nav.get("/care/queue").content.decode()
    for head in ("Phone", "Attempts", "Last contact"):
        assert f">{head}</th>" in html
    row = re.search(rf'<tr[^>]*data-task="{t.pk}".*?</tr>', html, re.S)[0]
    assert "919-555-0177" in row and "none yet" in row
    assert "overdue" not in html.lower()  # nothing overdue: no "0 overdue" badge
    assert "in_person" not in html and "In person" in row
    nav.post(f"/care/tasks/{t.pk}", {"op": "attempt", "channel": "text", "outcome": "left_message"})
    nav.post(
        f"/care/tasks/{t.pk}", {"op": "attempt", "channel": "phone", "outcome": "unable_to_reach"}
    )
    row = re.search(
        rf'<tr[^>]*data-task="{t.pk}".*?</tr>', nav.get("/care/queue").content.decode(), re.S
    )[0]
    assert '<span class="count">2</span>' in row and "none yet" not in row
    overdue = open_task(hours=60, name="Late Person", phone="919-555-0178")
    html = nav.get("/care/queue").content.decode()
    assert 'id="overdue-badge">1 overdue<' in html
    assert overdue.pk


def test_every_code_has_human_words():
    assert human_label("in_person") == "In person"
    assert human_label("left_message") == "Left a message"
    assert human_label("resolved_on_scene") == "Resolved on scene"
    assert human_label("mental_health") == "Mental health"
    assert human_label("sent") == "Sent"
    assert human_label("some_new_code") == "Some new code"

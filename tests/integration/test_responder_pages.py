"""The responder page (phone) and the crisis call diversion queue page."""

from __future__ import annotations

import pytest
from django.test import Client

from heart.accounts.actors import SYSTEM
from heart.calls.models import Call, Disposition
from heart.domain.triage import CallInput
from heart.intake.services import receive_call
from heart.program_in_force import current_program
from heart.teams.services import assign_team
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db


def signed_in(user, **kw) -> Client:
    c = Client(**kw)
    c.force_login(user)
    return c


@pytest.fixture
def on_call(staffed_team, person, on_duty_now):
    """(responder client, team, call): a team dispatched to a crisis call received in the
    team's hours (a fixed instant: with the wall clock the call went to police whenever
    the suite ran in the evening)."""
    from heart.teams.models import ShiftMember

    team = staffed_team("T1")
    call = receive_call(
        call=CallInput(
            received_at=on_duty_now,
            nature="CRISIS",
            lon=DURHAM[0],
            lat=DURHAM[1],
            narrative="Man pacing, no weapons",
        ),
        actor=SYSTEM,
        address="9 Elm St",
    ).call
    assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    member = ShiftMember.objects.filter(shift__team=team).first().user
    return signed_in(member), team, call


def test_responder_sees_assignment_and_allowed_buttons(on_call):
    client, team, call = on_call
    r = client.get("/responder/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "9 Elm St" in html and "Man pacing" in html and f"#{call.pk}" in html
    assert 'data-status="en_route"' in html and 'data-status="on_scene"' in html
    assert 'data-status="clearing"' not in html  # not allowed from dispatched
    assert "REQUEST POLICE BACKUP" in html and "csrfmiddlewaretoken" in html


def test_statuses_backup_and_disposition(on_call):
    client, team, call = on_call
    for s in ("en_route", "on_scene"):
        assert client.post("/responder/status", {"status": s}).status_code == 302
    team.refresh_from_db()
    assert team.status == "on_scene"
    # a transition the table forbids: 409 with the reason, nothing changed
    r = client.post("/responder/status", {"status": "en_route"})
    assert r.status_code == 409 and b"cannot become en_route" in r.content
    r = client.post("/responder/status", {"status": "flying"})
    assert r.status_code == 422 and b"status" in r.content
    r = client.post("/responder/backup", {"note": ""})
    assert r.status_code == 302
    backup = Call.objects.get(parent=call)
    assert backup.priority == "1" and backup.route == "standard"
    # disposition: missing destination names the field; nothing stored
    r = client.post("/responder/clear", {"outcome": "transported"})
    assert r.status_code == 422 and b"destination" in r.content
    assert not Disposition.objects.exists()
    r = client.post(
        "/responder/clear",
        {
            "outcome": "referred",
            "referred_to": "Alliance",
            "consent_follow_up": "on",
            "contact_phone": "919-555-0100",
        },
    )
    assert r.status_code == 302
    d = Disposition.objects.get(call=call)
    assert d.outcome == "referred" and d.consent_follow_up and d.contact_phone
    team.refresh_from_db()
    call.refresh_from_db()
    assert team.status == "available" and call.state == "closed"


def test_forms_need_csrf(on_call):
    _, team, _ = on_call
    from heart.teams.models import ShiftMember

    member = ShiftMember.objects.filter(shift__team=team).first().user
    strict = signed_in(member, enforce_csrf_checks=True)
    assert strict.post("/responder/status", {"status": "en_route"}).status_code == 403
    team.refresh_from_db()
    assert team.status == "dispatched"


def test_only_responders_on_shift(person):
    assert signed_in(person("dispatcher")).get("/responder/").status_code == 403
    off = signed_in(person("responder"))
    assert b"not on shift" in off.get("/responder/").content
    assert off.post("/responder/status", {"status": "en_route"}).status_code == 403


def test_ccd_queue_page_and_outcomes(person, program, on_duty_now):
    # no team exists: crt falls back to the crisis line
    call = receive_call(
        call=CallInput(received_at=on_duty_now, nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1]),
        actor=SYSTEM,
        program=program,
        now=on_duty_now,
    ).call
    assert call.route == "ccd"
    clin = signed_in(person("crisis_clinician"))
    r = clin.get("/ccd/")
    assert r.status_code == 200 and f"ccd-{call.pk}".encode() in r.content
    assert signed_in(person("dispatcher")).get("/ccd/").status_code == 403
    r = clin.post(f"/ccd/{call.pk}/outcome", {"outcome": "maybe"})
    assert r.status_code == 422 and b"outcome" in r.content
    assert clin.post("/ccd/999999/outcome", {"outcome": "hand_back"}).status_code == 404
    r = clin.post(f"/ccd/{call.pk}/outcome", {"outcome": "resolved_by_phone", "notes": "ok"})
    assert r.status_code == 302
    call.refresh_from_db()
    assert call.state == "closed"
    r = clin.post(f"/ccd/{call.pk}/outcome", {"outcome": "hand_back"})
    assert r.status_code == 409

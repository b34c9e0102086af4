"""The dispatch guard: a unit goes only to calls whose current route its kind of unit
serves; anything else is refused (409, nothing changed) unless a dispatcher or
supervisor writes an override reason, which is stored, on the timeline, in the audit
log and counted from the stored ``dispatch.override`` events. Every path: the service,
the API, the co-response pairing, the demo's auto-dispatch, a re-triaged call."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import AuditEntry
from heart.accounts.roles import DISPATCHER, SUPERVISOR
from heart.calls.models import Call, TimelineEvent
from heart.domain.triage import CallInput
from heart.errors import Conflict, Forbidden, Invalid
from heart.events.models import Event
from heart.intake.services import receive_call
from heart.program_in_force import current_program
from heart.teams.models import Assignment, RouteOverride, Team
from heart.teams.services import (
    assign_team,
    change_status,
    keep_team_on_call,
    pair_co_response,
)
from tests.integration.conftest import DURHAM, open_call

pytestmark = pytest.mark.django_db

REASON = "Police on scene asked for the team; caller is calm and unarmed now."


def _nothing_changed(call, team):
    team.refresh_from_db()
    assert team.status == "available" and team.current_call_id is None
    assert not Assignment.objects.filter(call=call).exists()
    assert not TimelineEvent.objects.filter(call=call, kind__in=["dispatched", "override"]).exists()
    assert not RouteOverride.objects.filter(call=call).exists()
    assert not AuditEntry.objects.filter(action="dispatch.override").exists()


@pytest.mark.parametrize("route", ["standard", "ccd", "co_response"])
def test_service_refuses_a_team_for_a_route_it_does_not_serve(staffed_team, route):
    team = staffed_team("HEART 1")
    call = open_call(route, reasons=[{"code": "weapon_in_narrative", "text": "A gun is reported."}])
    with pytest.raises(Conflict) as err:
        assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    assert f"routed {route}" in err.value.message and "A gun is reported." in err.value.message
    assert err.value.code.startswith("route_") and err.value.path == "override_reason"
    _nothing_changed(call, team)


def test_override_needs_a_person_who_dispatches_and_real_words(staffed_team, person):
    team = staffed_team("HEART 1")
    call = open_call("standard")
    program = current_program()
    dispatcher = Actor.for_user(person(DISPATCHER))
    with pytest.raises(Conflict):  # a blank reason is no reason
        assign_team(call=call, team=team, actor=dispatcher, program=program, override_reason="  ")
    with pytest.raises(Invalid, match="override_reason: say why"):
        assign_team(call=call, team=team, actor=dispatcher, program=program, override_reason="ok")
    with pytest.raises(Invalid, match="at most 500"):
        assign_team(
            call=call, team=team, actor=dispatcher, program=program, override_reason="why " * 200
        )
    with pytest.raises(Forbidden):  # the system (the demo, a script) never overrides
        assign_team(call=call, team=team, actor=SYSTEM, program=program, override_reason=REASON)
    with pytest.raises(Forbidden):  # nor a signed-in person without the dispatch capability
        assign_team(
            call=call,
            team=team,
            actor=Actor.for_user(person("call_taker")),
            program=program,
            override_reason=REASON,
        )
    _nothing_changed(call, team)


def test_override_is_stored_on_timeline_audit_and_event_stream(
    staffed_team, person, django_capture_on_commit_callbacks
):
    team = staffed_team("HEART 1")
    call = open_call("standard")
    user = person(SUPERVISOR)
    with django_capture_on_commit_callbacks(execute=True):
        a = assign_team(
            call=call,
            team=team,
            actor=Actor.for_user(user),
            program=current_program(),
            override_reason=REASON,
        )
    o = a.route_override
    assert (o.action, o.route, o.unit_key, o.reason, o.by_id) == (
        "assign",
        "standard",
        "crt",
        REASON,
        user.pk,
    )
    assert o.refusal_code == "route_not_served"
    line = TimelineEvent.objects.get(call=call, kind="override")
    assert line.data["code"] == "route_override" and REASON in line.text
    assert user.username in line.text and line.team_id == team.pk
    audit = AuditEntry.objects.get(action="dispatch.override")
    assert audit.actor_id == user.pk and audit.data["route"] == "standard"
    # stored although nobody subscribes: the public report counts these; ids only
    event = Event.objects.get(name="dispatch.override")
    assert event.payload == {"call_id": call.pk, "team_id": team.pk, "route": "standard"}
    assert not event.deliveries.exists()
    team.refresh_from_db()
    assert team.status == "dispatched" and team.current_call_id == call.pk


def test_a_reason_given_when_none_is_needed_is_not_an_override(staffed_team, person):
    team = staffed_team("HEART 1")
    call = open_call("crt")
    a = assign_team(
        call=call,
        team=team,
        actor=Actor.for_user(person(DISPATCHER)),
        program=current_program(),
        override_reason=REASON,
    )
    assert a.route_override is None and not RouteOverride.objects.exists()


def test_a_co_response_unit_is_paired_not_assigned(co_response_unit):
    team, _ = co_response_unit("CR 1")
    call = open_call("co_response")
    with pytest.raises(Conflict) as err:
        assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    assert err.value.code == "pair_with_police"


def test_pairing_goes_through_the_same_guard(staffed_team, co_response_unit, person):
    crt_team = staffed_team("HEART 1")
    clinician = crt_team.shifts.get().members.get(discipline="clinician").user
    call = open_call("co_response")
    # a HEART clinician is on shift, but with a crt team: the guard refuses that team
    with pytest.raises(Conflict) as err:
        pair_co_response(call=call, clinician=clinician, police_call_sign="D2-14", actor=SYSTEM)
    assert err.value.code == "route_served_by_other_unit"
    # a co-response unit on a crt call: refused too
    cr, cr_clin = co_response_unit("CR 1")
    crt_call = open_call("crt")
    with pytest.raises(Conflict) as err:
        pair_co_response(call=crt_call, clinician=cr_clin, police_call_sign="D2-14", actor=SYSTEM)
    assert "routed crt" in err.value.message
    assert not Assignment.objects.exists()


# ------------------------------------------------------------------ the API


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_api_refuses_then_accepts_with_an_override(staffed_team, person):
    team = staffed_team("HEART 1")
    call = open_call(
        "co_response", reasons=[{"code": "weapon_in_narrative", "text": "Knife reported."}]
    )
    client = _client(person(DISPATCHER))
    r = _post(client, f"/api/calls/{call.pk}/assign", {"team_id": team.pk})
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "route_served_by_other_unit"
    assert "routed co_response" in body["detail"] and "Knife reported." in body["detail"]
    assert body["errors"][0]["path"] == "override_reason"
    team.refresh_from_db()
    assert team.status == "available"
    r = _post(
        client, f"/api/calls/{call.pk}/assign", {"team_id": team.pk, "override_reason": "short"}
    )
    assert r.status_code == 422 and "override_reason" in r.json()["detail"]
    r = _post(
        client, f"/api/calls/{call.pk}/assign", {"team_id": team.pk, "override_reason": REASON}
    )
    assert r.status_code == 200, r.content
    o = r.json()["override"]
    assert o["reason"] == REASON and o["route"] == "co_response" and o["action"] == "assign"
    listed = client.get(f"/api/calls/{call.pk}/overrides").json()
    assert [x["id"] for x in listed] == [o["id"]]
    detail = client.get(f"/api/calls/{call.pk}").json()
    assert any(t["kind"] == "override" for t in detail["timeline"])


def test_api_override_reason_is_refused_for_api_clients(staffed_team):
    """An API client token never dispatches, let alone overrides."""
    from heart.accounts.services import clear_token_cache, create_api_client

    clear_token_cache()
    _, token = create_api_client(name="cad", scopes=["intake"])
    team = staffed_team("HEART 1")
    call = open_call("standard")
    r = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        f"/api/calls/{call.pk}/assign",
        data=json.dumps({"team_id": team.pk, "override_reason": REASON}),
        content_type="application/json",
    )
    assert r.status_code == 403


def test_recommendation_lists_only_units_serving_the_route(staffed_team, co_response_unit, person):
    crt_team = staffed_team("HEART 1", DURHAM[0] + 0.01, DURHAM[1])
    cr, _ = co_response_unit("CR 1", DURHAM[0] + 0.001, DURHAM[1])
    client = _client(person(DISPATCHER))
    rec = client.get(f"/api/calls/{open_call('crt').pk}/recommendation").json()
    assert [p["team_id"] for p in rec["picks"]] == [crt_team.pk]  # CR 1 is nearer, not listed
    rec = client.get(f"/api/calls/{open_call('co_response').pk}/recommendation").json()
    assert [p["team_id"] for p in rec["picks"]] == [cr.pk] and rec["unit_kind"] == "co_response"
    for route, code in (("standard", "route_not_served"), ("ccd", "route_served_by_phone")):
        rec = client.get(f"/api/calls/{open_call(route).pk}/recommendation").json()
        assert rec["picks"] == [] and rec["unit"] is None and rec["code"] == code
        assert f"route {route}" in rec["why_none"]


def test_override_counts_per_month(staffed_team, person):
    user = person(SUPERVISOR)
    for i in range(2):
        assign_team(
            call=open_call("standard"),
            team=staffed_team(f"T{i}"),
            actor=Actor.for_user(user),
            program=current_program(),
            override_reason=REASON,
        )
    month = timezone.now().astimezone(current_program().zone).strftime("%Y-%m")
    r = _client(user).get("/api/reports/overrides")
    assert r.json() == [{"month": month, "overrides": 2, "by_route": {"standard": 2}}]
    assert _client(person(DISPATCHER)).get("/api/reports/overrides").status_code == 403


# ------------------------------------------------------------------ re-triage


@pytest.fixture
def team_on_retriaged_call(staffed_team, on_duty_now, program):
    team = staffed_team("T1", now=on_duty_now)
    crisis = dict(nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1])
    call = receive_call(
        call=CallInput(received_at=on_duty_now, narrative="man pacing", **crisis),
        actor=SYSTEM,
        program=program,
        cad_incident_id="CAD-9",
        now=on_duty_now,
    ).call
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=on_duty_now)
    call = receive_call(
        call=CallInput(
            received_at=on_duty_now, narrative="he has a gun and hit his brother", **crisis
        ),
        actor=SYSTEM,
        program=program,
        cad_incident_id="CAD-9",
        now=on_duty_now,
    ).call
    assert call.route == "standard"
    line = call.timeline.get(kind="rerouted")
    assert line.data["needs_decision"] is True and "keep it with an override" in line.text
    return team, call


def test_keeping_a_team_on_a_retriaged_call_needs_an_override(
    team_on_retriaged_call, person, program, on_duty_now
):
    team, call = team_on_retriaged_call
    dispatcher = Actor.for_user(person(DISPATCHER))
    with pytest.raises(Invalid, match="written reason"):
        keep_team_on_call(call=call, actor=dispatcher, reason=" ", program=program)
    with pytest.raises(Forbidden):
        keep_team_on_call(call=call, actor=SYSTEM, reason=REASON, program=program)
    o = keep_team_on_call(call=call, actor=dispatcher, reason=REASON, program=program)
    assert (o.action, o.route, o.team_id) == ("keep", "standard", team.pk)
    assert call.timeline.filter(kind="override").count() == 1
    assert Event.objects.filter(name="dispatch.override").count() == 1
    with pytest.raises(Conflict, match="already recorded"):
        keep_team_on_call(call=call, actor=dispatcher, reason=REASON, program=program)


def test_releasing_a_team_from_a_retriaged_call(team_on_retriaged_call, person, on_duty_now):
    team, call = team_on_retriaged_call
    change_status(team=team, status="en_route", actor=SYSTEM, now=on_duty_now)
    change_status(team=team, status="on_scene", actor=SYSTEM, now=on_duty_now)
    client = _client(person(DISPATCHER))
    r = _post(client, f"/api/calls/{call.pk}/release", {"note": "police taking it"})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "available" and r.json()["current_call_id"] is None
    call.refresh_from_db()
    assert call.state == "open" and not call.assignments.filter(active=True).exists()
    assert list(call.timeline.filter(team=team).values_list("kind", flat=True))[-2:] == [
        "clearing",
        "unassigned",
    ]
    assert _post(client, f"/api/calls/{call.pk}/release", {}).status_code == 409
    r = _post(client, f"/api/calls/{call.pk}/keep-team", {"override_reason": REASON})
    assert r.status_code == 409  # nobody left to keep


def test_keep_is_refused_when_the_team_serves_the_route(staffed_team, person):
    team = staffed_team("HEART 1")
    call = open_call("crt")
    assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    r = _post(
        _client(person(DISPATCHER)),
        f"/api/calls/{call.pk}/keep-team",
        {"override_reason": REASON},
    )
    assert r.status_code == 409 and r.json()["code"] == "route_served"


# ------------------------------------------------------------------ the demo


def test_demo_auto_dispatch_goes_through_the_guard(settings, tmp_path, person):
    """The replay's auto-dispatcher sends teams to crt calls, pairs co-response calls
    with a police unit, and never sends anyone to a standard call."""
    import datetime as dt

    from heart.demo.live import Replay, demo_program_path, seed
    from heart.program_in_force import _load

    settings.DATA_DIR = tmp_path
    settings.HEART_PROGRAM = str(demo_program_path())
    _load.cache_clear()
    try:
        seed(password="pw-demo-123")
        seed(password="pw-demo-123")  # idempotent: shifts are not double-booked
        past = timezone.now() - dt.timedelta(minutes=30)
        calls = {
            r: open_call(r, at=past, source="demo") for r in ("standard", "crt", "co_response")
        }
        replay = Replay(auto_dispatch_after=0)
        replay._dispatch_waiting()
        for c in calls.values():
            c.refresh_from_db()
        assert not calls["standard"].assignments.exists()
        assert calls["crt"].assignments.get().team.unit_key == "crt"
        pair = calls["co_response"].co_responses.get()
        assert pair.team.name == "CR 1" and pair.police_unit.call_sign.startswith("DPD")
        assert not RouteOverride.objects.exists()
        assert Team.objects.get(name="CR 1").status == "dispatched"
    finally:
        _load.cache_clear()


def test_board_shows_the_override_and_what_each_unit_serves(staffed_team, person):
    team = staffed_team("HEART 1")
    user = person(DISPATCHER)
    call = open_call("standard")
    assign_team(
        call=call,
        team=team,
        actor=Actor.for_user(user),
        program=current_program(),
        override_reason=REASON,
    )
    client = _client(user)
    state = client.get("/board/state").json()
    card = next(c for c in state["calls"] if c["id"] == call.pk)
    assert card["override"]["by"] == user.username and card["override"]["reason"] == REASON
    page = client.get("/board/").content.decode()
    raw = page.split('id="board-config" type="application/json">', 1)[1].split("</script>", 1)[0]
    config = json.loads(raw)
    assert config["serves"] == {"ccd": ["ccd"], "co_response": ["co_response"], "crt": ["crt"]}
    assert config["fieldRoutes"] == ["co_response", "crt"]
    assert Call.objects.filter(pk=call.pk, state="open").exists()


def test_the_teams_phone_shows_the_route_and_the_override(staffed_team, person):
    team = staffed_team("HEART 1")
    call = open_call(
        "standard", reasons=[{"code": "weapon_in_narrative", "text": "A gun is reported."}]
    )
    assign_team(
        call=call,
        team=team,
        actor=Actor.for_user(person(SUPERVISOR)),
        program=current_program(),
        override_reason=REASON,
    )
    member = team.shifts.get().members.first().user
    page = _client(member).get("/responder/").content.decode()
    assert 'id="rerouted"' in page and 'id="override"' in page
    assert "Police on scene asked for the team" in page

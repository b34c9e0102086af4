"""Co-response as a real workflow: an on-duty clinician (clinician discipline, on shift
with a co-response unit, training current) paired with a police unit; the pair moves
through the unit statuses of the one transition table (paired = dispatched, en route,
on scene, clearing, clear) and its disposition closes the call like a team's."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.roles import CRISIS_CLINICIAN, DISPATCHER, RESPONDER
from heart.calls.models import Call, Disposition
from heart.care.models import Encounter, FollowUpTask
from heart.errors import Conflict
from heart.teams.models import CoResponse, Team, TrainingRecord
from heart.teams.services import (
    DispositionInput,
    change_status,
    clear_call,
    pair_co_response,
    release_team,
)
from tests.integration.conftest import open_call

pytestmark = pytest.mark.django_db


def test_any_user_is_not_a_clinician(co_response_unit, person):
    co_response_unit("CR 1")
    call = open_call("co_response")
    for someone in (person(CRISIS_CLINICIAN), person(DISPATCHER), person(RESPONDER, "emt")):
        with pytest.raises(Conflict, match="not on shift in a clinician position"):
            pair_co_response(call=call, clinician=someone, police_call_sign="D2-14", actor=SYSTEM)
    assert not CoResponse.objects.exists()


def test_a_clinician_whose_training_lapsed_cannot_pair(co_response_unit):
    _, clinician = co_response_unit("CR 1")
    TrainingRecord.objects.filter(user=clinician, training="de_escalation").delete()
    call = open_call("co_response")
    with pytest.raises(Conflict, match="cannot co-respond: no record of de-escalation"):
        pair_co_response(call=call, clinician=clinician, police_call_sign="D2-14", actor=SYSTEM)


def test_the_pair_lifecycle_through_the_transition_table(
    co_response_unit, person, django_capture_on_commit_callbacks
):
    team, clinician = co_response_unit("CR 1")
    call = open_call("co_response")
    dispatcher = Actor.for_user(person(DISPATCHER))
    with django_capture_on_commit_callbacks(execute=True):
        pair = pair_co_response(
            call=call,
            clinician=clinician,
            police_call_sign=" D2-14 ",
            agency="Durham Police Department",
            actor=dispatcher,
        )
    assert (pair.team_id, pair.clinician_id, pair.police_unit.call_sign) == (
        team.pk,
        clinician.pk,
        "D2-14",
    )
    team.refresh_from_db()
    assert team.status == "dispatched" and team.current_call_id == call.pk
    with pytest.raises(Conflict, match="already assigned"):
        pair_co_response(call=call, clinician=clinician, police_call_sign="D2-15", actor=SYSTEM)
    with pytest.raises(Conflict, match="dispatched cannot become clearing"):
        change_status(team=team, status="clearing", actor=SYSTEM)
    for status in ("en_route", "on_scene"):
        change_status(team=team, status=status, actor=Actor.for_user(clinician))
    with django_capture_on_commit_callbacks(execute=True):
        d = clear_call(
            team=team,
            disposition=DispositionInput(
                outcome="referred",
                referred_to="Alliance Health",
                consent_follow_up=True,
                contact_phone="919-555-0123",
            ),
            actor=Actor.for_user(clinician),
        )
    call.refresh_from_db()
    pair.refresh_from_db()
    assert call.state == "closed" and d.team_id == team.pk
    assert pair.ended_at is not None  # the pair is clear
    kinds = list(call.timeline.values_list("kind", flat=True))
    assert kinds[:3] == ["co_response", "dispatched", "en_route"]
    assert kinds[-4:] == ["clearing", "disposition", "cleared", "closed"]
    # care opened the encounter and its 48-hour follow-up from call.closed
    encounter = Encounter.objects.get(call=call)
    assert FollowUpTask.objects.filter(encounter=encounter).exists()
    assert Disposition.objects.get(call=call).outcome == "referred"


def test_pairing_through_the_api_and_the_board(co_response_unit, person):
    team, clinician = co_response_unit("CR 1")
    call = open_call("co_response")
    client = Client()
    client.force_login(person(DISPATCHER))
    r = client.post(
        f"/api/calls/{call.pk}/co-response",
        data=json.dumps({"team_id": team.pk, "police_call_sign": "D3-21"}),
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "paired" and body["clinician"] == clinician.username
    assert body["police_unit"] == "D3-21" and body["override"] is None
    row = next(t for t in client.get("/board/state").json()["teams"] if t["id"] == team.pk)
    assert row["kind"] == "co_response" and row["paired_with"] == "D3-21 (police)"
    assert row["status"] == "dispatched"
    teams = client.get("/api/teams").json()["items"]
    assert next(t for t in teams if t["id"] == team.pk)["paired_with"] == "D3-21 (police)"
    # bad input: nothing changed, the field named
    other = open_call("co_response")
    r = client.post(
        f"/api/calls/{other.pk}/co-response",
        data=json.dumps({"police_call_sign": "D1"}),
        content_type="application/json",
    )
    assert r.status_code == 422 and "clinician_username" in r.json()["detail"]
    r = client.post(
        f"/api/calls/{other.pk}/co-response",
        data=json.dumps({"clinician_username": "nobody", "police_call_sign": "D1"}),
        content_type="application/json",
    )
    assert r.status_code == 422


def test_a_released_pair_is_clear_and_the_call_can_be_paired_again(co_response_unit):
    team, clinician = co_response_unit("CR 1")
    call = open_call("co_response")
    first = pair_co_response(call=call, clinician=clinician, police_call_sign="D2-14", actor=SYSTEM)
    release_team(call=call, actor=SYSTEM, note="police unit reassigned")
    first.refresh_from_db()
    assert first.ended_at is not None and Team.objects.get(pk=team.pk).status == "available"
    second = pair_co_response(call=call, team=team, police_call_sign="D4-07", actor=SYSTEM)
    assert second.clinician_id == clinician.pk
    assert Call.objects.get(pk=call.pk).co_responses.count() == 2


def test_the_pair_ends_with_its_shift_clinician_elsewhere(co_response_unit, person):
    """A clinician's pairing names the unit they are on shift with; a unit id that does
    not match the clinician is refused."""
    team, clinician = co_response_unit("CR 1")
    other, _ = co_response_unit("CR 2")
    call = open_call("co_response")
    from heart.errors import Invalid

    with pytest.raises(Invalid, match="is on shift with CR 1"):
        pair_co_response(
            call=call,
            clinician=clinician,
            team=other,
            police_call_sign="D2-14",
            actor=SYSTEM,
            now=timezone.now() + dt.timedelta(minutes=1),
        )

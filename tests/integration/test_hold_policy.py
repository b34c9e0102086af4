"""The live side of [no_team_free] = "hold": the call waits on its route, marked with its
deadline; a team that comes free is recommended; at the deadline it falls back."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.management import call_command

from heart.accounts.actors import SYSTEM
from heart.domain.program import NoTeamFreePolicy
from heart.domain.triage import CallInput
from heart.intake.models import HeldCall
from heart.intake.services import check_held_calls, receive_call
from heart.teams.services import assign_team, change_status
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def holding(durham_2023):
    return dataclasses.replace(
        durham_2023, no_team_free=NoTeamFreePolicy(action="hold", hold_minutes=10)
    )


def crisis(at, **kw):
    return CallInput(received_at=at, nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1], **kw)


def busy_team(staffed_team, now, holding):
    team = staffed_team("T1", now=now)
    first = receive_call(call=crisis(now), actor=SYSTEM, program=holding, now=now)
    assign_team(call=first.call, team=team, actor=SYSTEM, program=holding, now=now)
    return team


def test_call_waits_then_falls_back_at_the_deadline(holding, staffed_team, on_duty_now):
    busy_team(staffed_team, on_duty_now, holding)
    t = on_duty_now + dt.timedelta(minutes=1)
    res = receive_call(call=crisis(t), actor=SYSTEM, program=holding, cad_incident_id="W", now=t)
    assert res.call.route == "crt"  # stays on its route, unassigned
    held = HeldCall.objects.get(call=res.call)
    assert held.until == t + dt.timedelta(minutes=10)
    line = res.call.timeline.get(kind="waiting")
    assert "Waiting for a team until 10:11" in line.text and "every team is busy" in line.text
    # a repeated CAD delivery keeps the first deadline
    receive_call(call=crisis(t), actor=SYSTEM, program=holding, cad_incident_id="W", now=t)
    assert HeldCall.objects.get(call=res.call).until == held.until
    assert check_held_calls(now=t + dt.timedelta(minutes=5), program=holding).waiting == 1
    done = check_held_calls(now=t + dt.timedelta(minutes=10), program=holding)
    assert done.fell_back == 1 and not HeldCall.objects.exists()
    res.call.refresh_from_db()
    assert res.call.route == "ccd" and "crt_unavailable" in res.call.reason_codes
    assert "waited 10 min" in res.call.timeline.get(kind="fell_back").text


def test_a_team_coming_free_is_recommended_to_the_waiting_call(holding, staffed_team, on_duty_now):
    team = busy_team(staffed_team, on_duty_now, holding)
    t = on_duty_now + dt.timedelta(minutes=1)
    res = receive_call(call=crisis(t), actor=SYSTEM, program=holding, now=t)
    for status in ("on_scene", "clearing", "available"):
        change_status(team=team, status=status, actor=SYSTEM, now=t + dt.timedelta(minutes=3))
    done = check_held_calls(now=t + dt.timedelta(minutes=3), program=holding)
    assert done.recommended == 1 and not HeldCall.objects.exists()
    assert res.call.timeline.filter(kind="recommended").exists()


def test_no_team_on_shift_never_waits(holding, staffed_team, on_duty_now):
    staffed_team("off", now=on_duty_now - dt.timedelta(hours=12))  # its shift is over
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=holding, now=on_duty_now)
    assert res.call.route == "ccd" and not HeldCall.objects.exists()


def test_assigned_meanwhile_stops_waiting_and_the_command_runs(
    holding, staffed_team, on_duty_now, settings, capsys
):
    busy_team(staffed_team, on_duty_now, holding)
    t = on_duty_now + dt.timedelta(minutes=1)
    res = receive_call(call=crisis(t), actor=SYSTEM, program=holding, now=t)
    other = staffed_team("T2", now=t)
    assign_team(call=res.call, team=other, actor=SYSTEM, program=holding, now=t)
    assert check_held_calls(now=t, program=holding).released == 1
    call_command("check_held_calls")
    assert "0 recommended a team" in capsys.readouterr().out


def test_durham_falls_back_at_once(durham_2023, staffed_team, on_duty_now):
    assert durham_2023.no_team_free.action == "fall_back"
    busy_team(staffed_team, on_duty_now, durham_2023)
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=durham_2023, now=on_duty_now)
    assert res.call.route == "ccd" and not HeldCall.objects.exists()

"""A CAD update that re-triages a call a team is already on raises an alarm."""

from __future__ import annotations

import pytest
from django.test import Client

from heart.accounts.actors import SYSTEM
from heart.domain.triage import CallInput
from heart.intake.services import receive_call
from heart.live import broadcast as events
from heart.teams.models import ShiftMember
from heart.teams.services import assign_team
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db


def crisis(at, narrative):
    return CallInput(
        received_at=at, nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1], narrative=narrative
    )


@pytest.fixture
def team_on_call(program, staffed_team, on_duty_now):
    team = staffed_team("T1", now=on_duty_now)
    call = receive_call(
        call=crisis(on_duty_now, "man pacing, no weapons seen"),
        actor=SYSTEM,
        program=program,
        cad_incident_id="CAD-77",
        now=on_duty_now,
    ).call
    assert call.route == "crt"
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=on_duty_now)
    return team, call


def test_update_with_a_weapon_warns_board_and_team(
    program, team_on_call, on_duty_now, django_capture_on_commit_callbacks
):
    team, call = team_on_call
    got = []
    unsub = events.subscribe(lambda n, p: got.append((n, p)))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            updated = receive_call(
                call=crisis(on_duty_now, "caller now says he has a gun and is attacking people"),
                actor=SYSTEM,
                program=program,
                cad_incident_id="CAD-77",
                now=on_duty_now,
            ).call
    finally:
        unsub()
    assert updated.pk == call.pk and updated.route == "standard"
    event = updated.timeline.get(kind="rerouted")
    assert "from crt to standard" in event.text and "T1" in event.text
    rerouted = [p for n, p in got if n == "call.rerouted"]
    assert rerouted == [
        {
            "alarm": True,
            "call_id": call.pk,
            "team_id": team.pk,
            "from": "crt",
            "to": "standard",
            "reasons": updated.reason_codes,
            "needs_decision": True,
            "at": on_duty_now.isoformat(),
        }
    ]


def test_the_teams_phone_shows_the_warning(staffed_team, settings, tmp_path):
    from django.utils import timezone

    from heart.demo.live import demo_program_path
    from heart.domain.program_file import load_program

    settings.DATA_DIR = tmp_path
    always_on = load_program(demo_program_path())  # the 2023 rules, round the clock
    now = timezone.now()
    team = staffed_team("T2", now=now)
    call = receive_call(
        call=crisis(now, "man pacing"), actor=SYSTEM, program=always_on, cad_incident_id="C9"
    ).call
    assign_team(call=call, team=team, actor=SYSTEM, program=always_on)
    member = ShiftMember.objects.filter(shift__team=team).first().user
    client = Client()
    client.force_login(member)
    assert 'id="rerouted"' not in client.get("/responder/").content.decode()
    receive_call(
        call=crisis(now, "he has a gun and hit his brother"),
        actor=SYSTEM,
        program=always_on,
        cad_incident_id="C9",
    )
    page = client.get("/responder/").content.decode()
    assert 'id="rerouted"' in page
    assert "gun" in page and "Stay clear and check with dispatch" in page


def test_update_that_keeps_the_route_raises_nothing(
    program, team_on_call, on_duty_now, django_capture_on_commit_callbacks
):
    _, call = team_on_call
    got = []
    unsub = events.subscribe(lambda n, p: got.append(n))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            receive_call(
                call=crisis(on_duty_now, "man pacing, calmer now"),
                actor=SYSTEM,
                program=program,
                cad_incident_id="CAD-77",
                now=on_duty_now,
            )
    finally:
        unsub()
    assert "call.rerouted" not in got
    assert not call.timeline.filter(kind="rerouted").exists()


def test_team_stream_passes_the_reroute_to_its_own_team_only():
    from heart.board.views import _team_filter

    payload = {"alarm": True, "call_id": 5, "team_id": 2, "from": "crt", "to": "standard"}
    assert _team_filter(2)("call.rerouted", payload) == {
        "team_id": 2,
        "call_id": 5,
        "to": "standard",
    }
    assert _team_filter(3)("call.rerouted", payload) is None

"""Intake, recommendation, fallback, status path, backup, disposition, ccd, co-response."""

from __future__ import annotations

import datetime as dt

import pytest

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import AuditEntry
from heart.calls.models import Call
from heart.domain.triage import CallInput
from heart.errors import Conflict, Invalid
from heart.intake.services import receive_call, record_ccd_outcome
from heart.live import broadcast as events
from heart.teams.models import StatusWriteError, Team
from heart.teams.services import (
    DispositionInput,
    Fix,
    assign_team,
    change_status,
    clear_call,
    record_positions,
    request_backup,
)
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db(transaction=False)


def crisis(at, cad="CAD-1", **kw):
    return CallInput(received_at=at, nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1], **kw)


def kinds(call):
    return list(call.timeline.values_list("kind", flat=True))


def test_crt_call_gets_the_nearest_team(program, staffed_team, on_duty_now):
    near = staffed_team("near", DURHAM[0] + 0.01, DURHAM[1], now=on_duty_now)
    staffed_team("far", DURHAM[0] + 0.2, DURHAM[1], now=on_duty_now)
    res = receive_call(
        call=crisis(on_duty_now),
        actor=SYSTEM,
        program=program,
        cad_incident_id="A",
        now=on_duty_now,
    )
    assert res.created and res.call.route == "crt"
    assert res.recommendation.best.unit_id == str(near.pk)
    assert kinds(res.call) == ["received", "triaged", "recommended"]


def test_no_team_falls_back_with_reason(program, staffed_team, on_duty_now):
    staffed_team("busy", now=on_duty_now, status="out_of_service")
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    assert res.call.route == "ccd"
    assert "crt_unavailable" in res.call.reason_codes
    ev = res.call.timeline.get(kind="fell_back")
    assert "busy" in ev.text or "out of service" in ev.text
    assert ev.data["from"] == "crt" and ev.data["to"] == "ccd"


def test_understaffed_team_is_not_dispatchable(program, staffed_team, person, on_duty_now):
    members = [(person("responder", "clinician"), "clinician")]
    team = staffed_team("short", now=on_duty_now, members=members)
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    assert res.call.route == "ccd"  # fell back
    c = Call.objects.create(
        received_at=on_duty_now, nature="CRISIS", route="crt", rules_version="x", program="p"
    )
    with pytest.raises(Conflict, match="lacks emt, peer_support"):
        assign_team(call=c, team=team, actor=SYSTEM, program=program, now=on_duty_now)


def test_repeated_delivery_is_idempotent_and_older_is_ignored(program, on_duty_now):
    t1 = on_duty_now
    a = receive_call(
        call=crisis(t1), actor=SYSTEM, program=program, cad_incident_id="X", source_updated_at=t1
    )
    b = receive_call(
        call=crisis(t1, narrative="he has a gun and hit his brother"),
        actor=SYSTEM,
        program=program,
        cad_incident_id="X",
        source_updated_at=t1 + dt.timedelta(minutes=1),
    )
    old = receive_call(
        call=crisis(t1), actor=SYSTEM, program=program, cad_incident_id="X", source_updated_at=t1
    )
    assert a.call.pk == b.call.pk == old.call.pk and not b.created
    assert Call.objects.count() == 1
    stored = Call.objects.get()
    assert stored.route == "standard"
    assert kinds(stored).count("updated") == 1


def test_full_flow_statuses_backup_disposition(
    program, staffed_team, person, on_duty_now, django_capture_on_commit_callbacks
):
    team = staffed_team("T1", now=on_duty_now)
    dispatcher = Actor.for_user(person("dispatcher"))
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    call = res.call
    got = []
    unsub = events.subscribe(lambda n, p: got.append(n))
    commits = django_capture_on_commit_callbacks(execute=True)
    commits.__enter__()
    try:
        assign_team(call=call, team=team, actor=dispatcher, program=program, now=on_duty_now)
        for s in ("en_route", "on_scene"):
            change_status(team=team, status=s, actor=dispatcher, now=on_duty_now)
        backup = request_backup(team=team, actor=dispatcher, now=on_duty_now)
        with pytest.raises(Invalid, match="destination"):
            clear_call(
                team=team, disposition=DispositionInput(outcome="transported"), actor=dispatcher
            )
        d = clear_call(
            team=team,
            disposition=DispositionInput(
                outcome="transported",
                destination="Durham Recovery Response Center",
                consent_follow_up=True,
                contact_phone="919-555-0100",
            ),
            actor=dispatcher,
            now=on_duty_now,
        )
    finally:
        commits.__exit__(None, None, None)
        unsub()
    assert backup.parent_id == call.pk and backup.priority == "1" and backup.route == "standard"
    call.refresh_from_db()
    team.refresh_from_db()
    assert call.state == "closed" and team.status == "available" and team.current_call is None
    assert d.consent_follow_up
    assert kinds(call) == [
        "received",
        "triaged",
        "recommended",
        "dispatched",
        "en_route",
        "on_scene",
        "backup_requested",
        "clearing",
        "disposition",
        "cleared",
        "closed",
    ]
    ev = call.timeline.get(kind="dispatched")
    assert ev.actor_label == dispatcher.label and ev.team_id == team.pk
    assert (
        AuditEntry.objects.filter(action="team.status", object_id=str(team.pk)).count() == 6
    )  # incl. going available
    assert "backup.requested" in got and "call.closed" in got and "team.status" in got


def test_forbidden_transition_is_a_conflict(program, staffed_team, on_duty_now):
    team = staffed_team(now=on_duty_now)
    with pytest.raises(Conflict, match="cannot become on_scene"):
        change_status(team=team, status="on_scene", actor=SYSTEM)
    with pytest.raises(Conflict, match="unknown status"):
        change_status(team=team, status="flying", actor=SYSTEM)


def test_status_cannot_be_written_another_way(staffed_team, on_duty_now):
    team = staffed_team(now=on_duty_now)
    team.status = "on_scene"
    with pytest.raises(StatusWriteError):
        team.save()
    with pytest.raises(StatusWriteError):
        Team.objects.filter(pk=team.pk).update(status="on_scene")
    with pytest.raises(StatusWriteError):
        Team.objects.create(name="sneaky", status="available")


def test_second_assignment_of_team_or_call_conflicts(program, staffed_team, on_duty_now):
    t1, t2 = staffed_team(now=on_duty_now), staffed_team(now=on_duty_now)
    c1 = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now).call
    c2 = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now).call
    assign_team(call=c1, team=t1, actor=SYSTEM, program=program, now=on_duty_now)
    with pytest.raises(Conflict, match="already assigned"):
        assign_team(call=c1, team=t2, actor=SYSTEM, program=program, now=on_duty_now)
    with pytest.raises(Conflict, match="not available"):
        assign_team(call=c2, team=t1, actor=SYSTEM, program=program, now=on_duty_now)


def test_positions_are_stored_then_published(
    staffed_team, on_duty_now, django_capture_on_commit_callbacks
):
    team = staffed_team(now=on_duty_now)
    seen = []

    def check(name, payload):
        if name == "avl.positions":
            # stored before broadcast
            seen.append(team.positions.count())

    unsub = events.subscribe(check)
    later = on_duty_now + dt.timedelta(seconds=30)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            record_positions(
                team=team,
                fixes=[Fix(-78.9, 35.99, on_duty_now), Fix(-78.91, 35.995, later)],
                actor=SYSTEM,
                now=later,
            )
    finally:
        unsub()
    team.refresh_from_db()
    assert seen == [2]
    assert (team.lon, team.lat, team.position_at) == (-78.91, 35.995, later)
    with pytest.raises(Invalid, match=r"fixes\[0\]"):
        record_positions(team=team, fixes=[Fix(200, 0, later)], actor=SYSTEM)


def test_ccd_outcomes(program, person, on_duty_now):
    clinician = Actor.for_user(person("crisis_clinician"))
    calls = [
        receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now).call
        for _ in range(3)
    ]
    assert {c.route for c in calls} == {"ccd"}  # no teams at all -> ccd
    record_ccd_outcome(call=calls[0], outcome="resolved_by_phone", actor=clinician, program=program)
    record_ccd_outcome(call=calls[1], outcome="hand_back", actor=clinician, program=program)
    record_ccd_outcome(
        call=calls[2], outcome="send_team", actor=clinician, program=program, now=on_duty_now
    )
    for c in calls:
        c.refresh_from_db()
    assert calls[0].state == "closed"
    assert calls[1].route == "standard" and "ccd_hand_back" in calls[1].reason_codes
    assert calls[2].route == "standard"  # send a team, but no team could go
    with pytest.raises(Conflict):
        record_ccd_outcome(call=calls[1], outcome="hand_back", actor=clinician, program=program)


def test_stale_gps_and_off_shift(program, staffed_team, on_duty_now):
    from heart.teams.selectors import board_teams

    old = staffed_team("old-fix", now=on_duty_now)
    Team.objects.filter(pk=old.pk).update(position_at=on_duty_now - dt.timedelta(hours=1))
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    assert res.recommendation.best.stale_position
    assert "stale" in res.call.timeline.get(kind="recommended").text
    rows = {r["name"]: r for r in board_teams(now=on_duty_now)}
    assert rows["old-fix"]["position_stale"] is True
    # two hours later the shift has not ended, ten hours later it has
    later = on_duty_now + dt.timedelta(hours=9)
    assert not board_teams(now=later)[0]["on_shift"]


def test_osrm_etas_when_configured(program, staffed_team, on_duty_now, settings, monkeypatch):
    import io
    import json as _json

    from heart.teams import selectors

    near = staffed_team("near", DURHAM[0] + 0.001, DURHAM[1], now=on_duty_now)
    far = staffed_team("far", DURHAM[0] + 0.2, DURHAM[1], now=on_duty_now)
    settings.HEART_OSRM_URL = "http://osrm.invalid"
    seen = []

    def fake_urlopen(url, timeout):
        seen.append(url)
        # the road network makes the far team quicker (a bridge is closed, say)
        coords = url.split("?")[0].split(";")[1:]
        durations = [[900.0] if f"{near.lon}" in part else [60.0] for part in coords]
        return io.BytesIO(_json.dumps({"durations": durations}).encode())

    monkeypatch.setattr(selectors.urllib.request, "urlopen", fake_urlopen)
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    assert seen and "/table/v1/driving/" in seen[0]
    assert res.recommendation.best.unit_id == str(far.pk)
    assert "by road" in res.recommendation.best.reason

    def broken(url, timeout):
        raise OSError("down")

    monkeypatch.setattr(selectors.urllib.request, "urlopen", broken)
    res = receive_call(call=crisis(on_duty_now), actor=SYSTEM, program=program, now=on_duty_now)
    assert res.recommendation.best.unit_id == str(near.pk)  # travel model fallback
    assert "estimated" in res.recommendation.best.reason


def test_intake_snapshot_cache_is_cleared_by_local_changes(
    program, staffed_team, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    team = staffed_team("only")
    now = timezone.now()
    call = CallInput(received_at=on_hours(now), nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1])
    first = receive_call(call=call, actor=SYSTEM, program=program)
    assert first.recommendation.best.unit_id == str(team.pk)
    with django_capture_on_commit_callbacks(execute=True):
        change_status(team=team, status="out_of_service", actor=SYSTEM)
    second = receive_call(call=call, actor=SYSTEM, program=program)
    assert second.recommendation is None or second.recommendation.best is None
    assert second.call.route == "ccd"


def on_hours(now):
    """The most recent weekday 10:00 in Durham (HEART hours), as the call time."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("America/New_York")).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return local if local <= now else local - dt.timedelta(days=1)

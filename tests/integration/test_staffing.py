"""Staffing that can be trusted: a position takes only a responder of its discipline
with the program's training current through the shift; one shift at a time per person
(concurrent double-booking on PostgreSQL: one wins); supervisors manage it on a page."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.accounts.models import AuditEntry
from heart.accounts.roles import ANALYST, CALL_TAKER, DISPATCHER, RESPONDER, SUPERVISOR
from heart.errors import Conflict, Invalid
from heart.teams.models import Shift, ShiftMember, TrainingRecord
from heart.teams.services import (
    assign_team,
    create_team,
    end_shift,
    record_training,
    start_shift,
)
from tests.integration.conftest import open_call, race

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2024, 3, 5, 15, 0, tzinfo=dt.UTC)  # 10:00 in Durham
DAY = dict(starts_at=NOW, ends_at=NOW + dt.timedelta(hours=9))


def crew(person):
    return [(person(RESPONDER, d), d) for d in ("clinician", "peer_support", "emt")]


def test_a_full_trained_crew_is_accepted(person):
    team = create_team(name="HEART 1")
    shift = start_shift(team=team, members=crew(person), **DAY)
    assert shift.members.count() == 3
    entry = AuditEntry.objects.get(action="shift.create")
    assert entry.data["disciplines"] == ["clinician", "emt", "peer_support"]


def test_a_call_taker_and_an_analyst_cannot_staff_a_team(person):
    team = create_team(name="HEART 1")
    taker, analyst = person(CALL_TAKER), person(ANALYST)
    members = [(taker, "clinician"), (person(RESPONDER, "peer_support"), "peer_support")]
    members.append((analyst, "emt"))
    with pytest.raises(Invalid) as err:
        start_shift(team=team, members=members, **DAY)
    msg = err.value.message
    assert f"members[0].username: {taker.username} cannot take the Clinician position" in msg
    assert "their role (call_taker) does not work in the field" in msg
    assert f"members[2].username: {analyst.username} cannot take the EMT position" in msg
    assert err.value.path == "members[0].username"
    assert not Shift.objects.exists()


def test_a_responder_only_takes_their_own_discipline(person):
    team = create_team(name="HEART 1")
    emt = person(RESPONDER, "emt")
    with pytest.raises(
        Invalid, match="cannot take the Clinician position: their discipline is EMT"
    ):
        start_shift(team=team, members=[(emt, "clinician")], **DAY)


def test_untrained_or_lapsed_responders_are_refused_naming_the_training(person):
    team = create_team(name="HEART 1")
    fresh = person(RESPONDER, "emt", trained=False)
    record_training(
        user=fresh, training="de_escalation", completed_on=dt.date(2023, 1, 10), actor=SYSTEM
    )
    record_training(
        user=fresh,
        training="situational_awareness",
        completed_on=dt.date(2024, 1, 10),
        actor=SYSTEM,
    )
    with pytest.raises(Invalid) as err:
        start_shift(team=team, members=[(fresh, "emt")], **DAY)
    msg = err.value.message
    assert f"{fresh.username} cannot take the EMT position" in msg
    assert "de-escalation and crisis intervention expired on 2024-01-10" in msg
    assert "no record of CPR / basic life support" in msg
    assert "situational awareness" not in msg


def test_a_certificate_running_out_during_the_shift_is_refused(person):
    team = create_team(name="HEART 1")
    emt = person(RESPONDER, "emt", trained=False)
    for t in ("de_escalation", "situational_awareness"):
        record_training(user=emt, training=t, completed_on=dt.date(2024, 1, 2), actor=SYSTEM)
    record_training(
        user=emt,
        training="cpr_bls",
        completed_on=dt.date(2022, 6, 1),
        expires_on=dt.date(2024, 3, 6),
        actor=SYSTEM,
    )
    night = dict(starts_at=NOW + dt.timedelta(hours=10), ends_at=NOW + dt.timedelta(hours=20))
    with pytest.raises(Invalid, match="expires on 2024-03-06, during the shift"):
        start_shift(team=team, members=[(emt, "emt")], **night)
    start_shift(team=team, members=[(emt, "emt")], **DAY)  # the day before is fine


def test_one_person_one_shift_at_a_time(person):
    t1, t2 = create_team(name="HEART 1"), create_team(name="HEART 2")
    nurse = person(RESPONDER, "clinician")
    start_shift(team=t1, members=[(nurse, "clinician")], **DAY)
    later = dict(starts_at=NOW + dt.timedelta(hours=8), ends_at=NOW + dt.timedelta(hours=12))
    with pytest.raises(Conflict) as err:
        start_shift(team=t2, members=[(nurse, "clinician")], **later)
    assert f"{nurse.username} is already on HEART 1's shift" in err.value.message
    assert "overlaps this one" in err.value.message
    after = dict(starts_at=DAY["ends_at"], ends_at=DAY["ends_at"] + dt.timedelta(hours=8))
    start_shift(team=t2, members=[(nurse, "clinician")], **after)  # back to back is fine
    with pytest.raises(Invalid, match="listed twice"):
        start_shift(
            team=t2,
            members=[(nurse, "clinician"), (nurse, "clinician")],
            starts_at=NOW + dt.timedelta(days=3),
            ends_at=NOW + dt.timedelta(days=3, hours=2),
        )


def test_positions_the_unit_does_not_have_and_silly_shifts(person):
    cr = create_team(name="CR 1", unit_key="co_response")
    with pytest.raises(Invalid, match="has no emt position"):
        start_shift(team=cr, members=[(person(RESPONDER, "emt"), "emt")], **DAY)
    team = create_team(name="HEART 1")
    with pytest.raises(Invalid, match="at most 24 hours"):
        start_shift(
            team=team, members=crew(person), starts_at=NOW, ends_at=NOW + dt.timedelta(days=3)
        )
    with pytest.raises(Invalid, match="at least one person"):
        start_shift(team=team, members=[], **DAY)


def test_concurrent_double_booking_one_wins(postgres_only, transactional_db, person):
    """Two supervisors put the same EMT on two teams at the same moment."""
    emt = person(RESPONDER, "emt")
    teams = [create_team(name=f"HEART {i}") for i in range(4)]

    def book(team):
        return lambda: start_shift(team=team, members=[(emt, "emt")], **DAY)

    wins, conflicts, errors = race([book(t) for t in teams])
    assert errors == []
    assert len(wins) == 1 and len(conflicts) == 3, (wins, conflicts)
    assert all("already on" in c for c in conflicts)
    assert ShiftMember.objects.filter(user=emt).count() == 1


def test_end_a_shift_and_cancel_a_future_one(staffed_team, person):
    team = staffed_team("HEART 1")
    shift = team.shifts.get()
    call = open_call("crt")
    from heart.program_in_force import current_program

    assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
    with pytest.raises(Conflict, match="clear or release the call"):
        end_shift(shift=shift, actor=SYSTEM)
    other = staffed_team("HEART 2")
    ended = end_shift(shift=other.shifts.get(), actor=SYSTEM)
    assert ended.ends_at <= timezone.now()
    future = start_shift(
        team=other,
        members=crew(person),
        starts_at=timezone.now() + dt.timedelta(days=1),
        ends_at=timezone.now() + dt.timedelta(days=1, hours=8),
    )
    assert end_shift(shift=future, actor=SYSTEM) is None
    assert not Shift.objects.filter(pk=future.pk).exists()
    assert AuditEntry.objects.filter(action__in=["shift.end", "shift.cancel"]).count() == 2


def test_training_records_are_checked(person):
    nurse = person(RESPONDER, "clinician", trained=False)
    with pytest.raises(Invalid, match="requires no training 'yoga'"):
        record_training(user=nurse, training="yoga", completed_on=dt.date(2024, 1, 1), actor=SYSTEM)
    with pytest.raises(Invalid, match="completed_on: is in the future"):
        record_training(
            user=nurse,
            training="de_escalation",
            completed_on=timezone.now().date() + dt.timedelta(days=5),
            actor=SYSTEM,
        )
    with pytest.raises(Invalid, match="expires_on: must be after"):
        record_training(
            user=nurse,
            training="de_escalation",
            completed_on=dt.date(2024, 1, 1),
            expires_on=dt.date(2023, 1, 1),
            actor=SYSTEM,
        )
    assert not TrainingRecord.objects.filter(user=nurse).exists()


# ------------------------------------------------------------------ API


def _api(user):
    c = Client()
    c.force_login(user)
    return c


def test_api_shift_errors_name_person_position_and_training(person):
    team = create_team(name="HEART 1")
    sup = person(SUPERVISOR)
    untrained = person(RESPONDER, "clinician", trained=False)
    taker = person(CALL_TAKER)
    body = {
        "starts_at": NOW.isoformat(),
        "ends_at": (NOW + dt.timedelta(hours=8)).isoformat(),
        "members": [
            {"username": untrained.username, "discipline": "clinician"},
            {"username": taker.username, "discipline": "emt"},
        ],
    }
    r = _api(sup).post(
        f"/api/teams/{team.pk}/shifts", data=json.dumps(body), content_type="application/json"
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert (
        f"{untrained.username} cannot take the Clinician position: no record of de-escalation"
        in detail
    )
    assert f"{taker.username} cannot take the EMT position" in detail


def test_api_training_overview_records_and_shifts(person, staffed_team):
    sup = person(SUPERVISOR)
    nurse = person(RESPONDER, "clinician", trained=False)
    client = _api(sup)
    r = client.post(
        "/api/training/records",
        data=json.dumps(
            {"username": nurse.username, "training": "de_escalation", "completed_on": "2025-01-05"}
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    overview = client.get("/api/training").json()
    assert {t["key"] for t in overview["requirements"]} == {
        "de_escalation",
        "situational_awareness",
        "cpr_bls",
    }
    row = next(x for x in overview["responders"] if x["username"] == nurse.username)
    assert row["ready"] is False
    assert {t["training"]: t["state"] for t in row["trainings"]}[
        "situational_awareness"
    ] == "missing"
    team = staffed_team("HEART 1")
    listed = client.get("/api/shifts").json()
    assert [s["team"] for s in listed] == ["HEART 1"] and len(listed[0]["members"]) == 3
    r = client.post(f"/api/shifts/{team.shifts.get().pk}/end")
    assert r.status_code == 200 and r.json()["team"] == "HEART 1"
    assert _api(person(DISPATCHER)).get("/api/training").status_code == 403


# ------------------------------------------------------------------ the page


def test_staffing_page_books_a_shift_and_shows_errors_beside_fields(person):
    create_team(name="HEART 1")
    sup = person(SUPERVISOR)
    ok = {d: person(RESPONDER, d) for d in ("clinician", "peer_support", "emt")}
    lapsed = person(RESPONDER, "emt", trained=False)
    client = _api(sup)
    page = client.get("/staff/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Book a shift" in html and lapsed.username in html and "no record" in html
    team_id = next(
        line.split('value="')[1].split('"')[0]
        for line in html.splitlines()
        if "HEART 1</option>" in line
    )
    start = timezone.localtime() + dt.timedelta(days=1)
    form = {
        "team": team_id,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
        "clinician": ok["clinician"].pk,
        "peer_support": ok["peer_support"].pk,
        "emt": lapsed.pk,
    }
    r = client.post("/staff/shifts", form)
    assert r.status_code == 422
    html = r.content.decode()
    err = html.split('id="err-emt"', 1)[1].split("</div>", 1)[0]
    assert f"{lapsed.username} cannot take the EMT position" in err
    assert "no record of CPR / basic life support" in err
    assert 'id="err-clinician"' not in html and not Shift.objects.exists()
    r = client.post("/staff/shifts", {**form, "emt": ok["emt"].pk})
    assert r.status_code == 302 and Shift.objects.count() == 1
    # a bad date is put beside its field
    r = client.post(
        "/staff/training",
        {"person": lapsed.pk, "training": "cpr_bls", "completed_on": "2024-13-45"},
    )
    assert r.status_code == 422 and 'id="err-completed_on"' in r.content.decode()
    r = client.post(
        "/staff/training",
        {
            "person": lapsed.pk,
            "training": "cpr_bls",
            "completed_on": "2024-01-01",
            "expires_on": "2023-01-01",
        },
    )
    assert r.status_code == 422 and 'id="err-expires_on"' in r.content.decode()
    r = client.post(
        "/staff/training",
        {"person": lapsed.pk, "training": "cpr_bls", "completed_on": "2025-11-01"},
    )
    assert r.status_code == 302
    assert TrainingRecord.objects.filter(user=lapsed, training="cpr_bls").exists()


def test_staffing_page_is_for_supervisors_and_checks_csrf(person):
    assert _api(person(DISPATCHER)).get("/staff/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(person(SUPERVISOR))
    assert strict.post("/staff/training", {}).status_code == 403
    anonymous = Client().get("/staff/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

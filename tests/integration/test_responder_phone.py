"""The responder phone (issue 13, item 4): status taps with the phone's own idempotency
key (a queued tap replayed once changes the status once), no out-of-service on a call,
the phone's buttons, safety notes, GPS replays, errors beside their fields."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.accounts.roles import RESPONDER
from heart.board.selectors import phone_actions, safety_notes
from heart.calls.models import TimelineEvent
from heart.errors import Conflict, Invalid
from heart.program_in_force import current_program
from heart.teams.models import Position, StatusTap, Team
from heart.teams.services import (
    Fix,
    assign_team,
    change_status,
    record_positions,
    request_backup,
)
from tests.integration.conftest import DURHAM, open_call, race

pytestmark = pytest.mark.django_db(transaction=False)


def on_call(program, staffed_team, person, now, *, address="512 Demo Ave", **kw):
    crew = [(person(RESPONDER, d), d) for d in ("clinician", "peer_support", "emt")]
    team = staffed_team(lon=kw.get("lon", DURHAM[0]), now=now, members=crew)
    call = open_call("crt", at=now, address=address, **kw)
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=now)
    team.refresh_from_db()
    return team, call, crew[0][0]


def status_rows(team):
    return list(
        TimelineEvent.objects.filter(team=team, kind__in=["en_route", "on_scene"]).values_list(
            "kind", flat=True
        )
    )


def test_a_replayed_key_changes_the_status_once(program, staffed_team, person, on_duty_now):
    team, _, _ = on_call(program, staffed_team, person, on_duty_now)
    key = str(uuid.uuid4())
    first = change_status(team=team, status="en_route", actor=SYSTEM, idempotency_key=key)
    again = change_status(team=team, status="en_route", actor=SYSTEM, idempotency_key=key)
    assert first.status == again.status == "en_route"
    assert first.replayed is False and again.replayed is True
    assert status_rows(team) == ["en_route"]
    assert StatusTap.objects.filter(team=team, key=key).count() == 1
    # the same key asking for something else is refused and changes nothing
    with pytest.raises(Conflict, match="already used for en route"):
        change_status(team=team, status="on_scene", actor=SYSTEM, idempotency_key=key)
    team.refresh_from_db()
    assert team.status == "en_route"
    # a new key is a new tap
    change_status(team=team, status="on_scene", actor=SYSTEM, idempotency_key="k2")
    assert status_rows(team) == ["en_route", "on_scene"]


def test_a_bad_key_is_refused_by_name(program, staffed_team, person, on_duty_now):
    team, _, _ = on_call(program, staffed_team, person, on_duty_now)
    for key in ["", "x" * 65, "a\nb"]:
        with pytest.raises(Invalid, match="idempotency_key"):
            change_status(team=team, status="en_route", actor=SYSTEM, idempotency_key=key)
    team.refresh_from_db()
    assert team.status == "dispatched"


@pytest.mark.django_db(transaction=True)
def test_two_replays_racing_make_one_transition(
    postgres_only, program, staffed_team, person, on_duty_now
):
    team, _, _ = on_call(program, staffed_team, person, on_duty_now)

    def tap():
        t = Team.objects.get(pk=team.pk)
        return change_status(team=t, status="en_route", actor=SYSTEM, idempotency_key="race")

    wins, conflicts, errors = race([tap, tap, tap])
    assert errors == [] and conflicts == [] and len(wins) == 3
    assert sorted(w.replayed for w in wins) == [False, True, True]
    assert status_rows(team) == ["en_route"]


@pytest.mark.parametrize("status", ["dispatched", "en_route", "on_scene", "clearing"])
def test_no_out_of_service_while_on_a_call(program, staffed_team, person, on_duty_now, status):
    team, _, _ = on_call(program, staffed_team, person, on_duty_now)
    path = {"dispatched": [], "en_route": ["en_route"], "on_scene": ["on_scene"]}
    for s in path.get(status, ["on_scene", "clearing"]):
        change_status(team=team, status=s, actor=SYSTEM)
    with pytest.raises(Conflict, match="cannot become out_of_service"):
        change_status(team=team, status="out_of_service", actor=SYSTEM)


def test_phone_actions_put_the_next_move_first():
    a = phone_actions("dispatched")
    assert (a.primary, a.cancel, a.off_duty) == ("en_route", "available", None)
    assert a.others == ("on_scene",)
    a = phone_actions("en_route")
    assert (a.primary, a.cancel, a.others, a.off_duty) == ("on_scene", "available", (), None)
    a = phone_actions("on_scene")
    assert (a.primary, a.others, a.cancel, a.off_duty) == ("clear", ("transporting",), None, None)
    assert phone_actions("clearing").primary == "clear"
    a = phone_actions("available")
    assert (a.primary, a.off_duty, a.cancel) == (None, "out_of_service", None)
    assert phone_actions("out_of_service").primary == "available"


def test_the_page_answers_a_replay_with_the_same_result(program, staffed_team, person, on_duty_now):
    team, _, user = on_call(current_program(), staffed_team, person, timezone.now())
    c = Client()
    c.force_login(user)
    post = {"status": "en_route", "idempotency_key": "tap-1"}
    r1 = c.post("/responder/status", post, HTTP_ACCEPT="application/json")
    r2 = c.post("/responder/status", post, HTTP_ACCEPT="application/json")
    assert r1.status_code == r2.status_code == 200
    assert r1.json() | {"replayed": None} == r2.json() | {"replayed": None}
    assert (r1.json()["replayed"], r2.json()["replayed"]) == (False, True)
    assert r1.json()["label"] == "En route"
    assert status_rows(team) == ["en_route"]
    # a refused tap answers JSON naming the field, never a page
    r = c.post(
        "/responder/status",
        {"status": "out_of_service", "idempotency_key": "tap-2"},
        HTTP_ACCEPT="application/json",
    )
    assert r.status_code == 409 and r.json()["errors"][0]["path"] == "status"
    r = c.post("/responder/status", {"status": "flying"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 422 and "status" in r.json()["detail"]


def test_the_page_shows_the_next_status_big_and_no_out_of_service_on_a_call(
    program, staffed_team, person, on_duty_now
):
    team, call, user = on_call(current_program(), staffed_team, person, timezone.now())
    c = Client()
    c.force_login(user)
    html = c.get("/responder/").content.decode()
    assert re.search(r'class="next-btn" id="next-btn">En route<', html)
    assert 'id="cancel-btn"' in html and "data-confirm" in html
    assert 'value="out_of_service"' not in html
    change_status(team=team, status="on_scene", actor=SYSTEM)
    html = c.get("/responder/").content.decode()
    assert 'data-next="clear"' in html  # one clearing flow: the big button opens the form
    assert 'value="clearing"' not in html and 'id="clear-form"' in html
    assert 'type="tel"' in html and 'value="out_of_service"' not in html
    assert 'id="thumb-bar"' in html


def test_clear_form_errors_sit_beside_their_fields(program, staffed_team, person, on_duty_now):
    team, call, user = on_call(current_program(), staffed_team, person, timezone.now())
    change_status(team=team, status="on_scene", actor=SYSTEM)
    c = Client()
    c.force_login(user)
    r = c.post("/responder/clear", {"outcome": "transported"})
    html = r.content.decode()
    assert r.status_code == 422
    assert 'id="err-destination"' in html
    assert re.search(
        r'name="destination"[^>]*aria-describedby="err-destination"', html
    ) or re.search(r'aria-describedby="err-destination"[^>]*name="destination"', html)
    assert 'aria-invalid="true"' in html
    r = c.post("/responder/clear", {})
    assert 'id="err-outcome"' in r.content.decode()
    team.refresh_from_db()
    assert team.status == "on_scene"


def test_safety_notes_name_earlier_backup_requests_here(program, staffed_team, person, on_duty_now):
    earlier = on_duty_now - dt.timedelta(days=20)
    t1, c1, _ = on_call(program, staffed_team, person, earlier, address="512 Demo Ave")
    change_status(team=t1, status="on_scene", actor=SYSTEM, now=earlier)
    request_backup(team=t1, actor=SYSTEM, note="man with a bat in the yard", now=earlier)
    # a backup a few doors away (same point, other address) and one across town
    t2, c2, _ = on_call(
        program, staffed_team, person, earlier, address="530 Demo Ave", lon=DURHAM[0] + 0.0005
    )
    change_status(team=t2, status="on_scene", actor=SYSTEM, now=earlier)
    request_backup(team=t2, actor=SYSTEM, note="dog loose", now=earlier)
    t3, c3, _ = on_call(
        program, staffed_team, person, earlier, address="9 Far Rd", lon=DURHAM[0] + 0.1
    )
    change_status(team=t3, status="on_scene", actor=SYSTEM, now=earlier)
    request_backup(team=t3, actor=SYSTEM, note="far away", now=earlier)

    now_call = open_call("crt", at=on_duty_now, address="512 DEMO AVE")
    notes = safety_notes(now_call, now=on_duty_now)
    whys = {n.text.split(". ")[-1]: n.why for n in notes}
    assert whys["man with a bat in the yard"] == "same address"
    assert whys["dog loose"].startswith("within ") and whys["dog loose"].endswith(" m")
    assert "far away" not in whys
    # the call's own backup request is not a note about earlier calls
    assert safety_notes(c1, now=on_duty_now) == [
        n for n in safety_notes(c1, now=on_duty_now) if n.call_id != c1.pk
    ]


def test_a_replayed_gps_batch_is_stored_once(program, staffed_team, person, on_duty_now):
    team, _, _ = on_call(program, staffed_team, person, on_duty_now)
    fixes = [Fix(DURHAM[0], DURHAM[1], on_duty_now - dt.timedelta(seconds=s)) for s in (30, 20, 10)]
    record_positions(team=team, fixes=fixes, actor=SYSTEM, now=on_duty_now)
    record_positions(team=team, fixes=fixes + fixes[:1], actor=SYSTEM, now=on_duty_now)
    assert Position.objects.filter(team=team).count() == 3


def test_the_phone_shows_safety_notes_repeat_flag_and_callback(
    program, staffed_team, person, on_duty_now, monkeypatch
):
    now = timezone.now()
    earlier = now - dt.timedelta(days=3)
    t1, _, _ = on_call(current_program(), staffed_team, person, earlier, address="44 Oak St")
    change_status(team=t1, status="on_scene", actor=SYSTEM, now=earlier)
    request_backup(team=t1, actor=SYSTEM, note="dog bit a crew member", now=earlier)
    team, call, user = on_call(current_program(), staffed_team, person, now, address="44 Oak St")
    c = Client()
    c.force_login(user)
    html = c.get("/responder/").content.decode()
    assert 'id="safety"' in html and "dog bit a crew member" in html and "same address" in html
    assert 'id="repeat-flag"' in html and "calls in" in html
    assert "none given" in html  # until calls carry a callback number
    # once calls have the field (another part adds it), the phone offers to dial it
    from heart.calls.models import Call

    monkeypatch.setattr(Call, "callback_number", "919-555-0123", raising=False)
    html = c.get("/responder/").content.decode()
    assert '<a href="tel:919-555-0123">919-555-0123</a>' in html


def test_the_api_takes_an_idempotency_key_header(program, staffed_team, person, on_duty_now):
    import json

    team, _, user = on_call(current_program(), staffed_team, person, timezone.now())
    c = Client()
    c.force_login(user)

    def post(key):
        return c.post(
            f"/api/teams/{team.pk}/status",
            data=json.dumps({"status": "en_route"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )

    first, again = post("api-tap-1"), post("api-tap-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "en_route"
    assert status_rows(team) == ["en_route"]
    bad = post("x" * 65)
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "idempotency_key"

"""Backup acknowledgement (issue 13, item 3) and the board's close / note actions:
bad input, repeated acknowledgements, roles, the snapshot that raises the alarm again,
the responder's own view."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import AuditEntry
from heart.board.selectors import board_snapshot
from heart.calls.models import Call, TimelineEvent
from heart.errors import Conflict, Forbidden, Invalid, NotFound
from heart.live import broadcast as events
from heart.teams.models import BackupAck
from heart.teams.services import (
    acknowledge_backup,
    assign_team,
    change_status,
    close_call_by_dispatch,
    request_backup,
)
from tests.integration.conftest import open_call

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def backup(program, staffed_team, person):
    """A team on scene asks for police backup, now: (team, call, backup call, responder)."""
    on_duty_now = timezone.now()
    responder = person("responder", "clinician")
    team = staffed_team(
        "T-backup",
        now=on_duty_now,
        members=[
            (responder, "clinician"),
            (person("responder", "peer_support"), "peer_support"),
            (person("responder", "emt"), "emt"),
        ],
    )
    call = open_call("crt", at=on_duty_now, address="12 Test Lane, Durham NC")
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=on_duty_now)
    for s in ("en_route", "on_scene"):
        change_status(team=team, status=s, actor=SYSTEM, now=on_duty_now)
    b = request_backup(team=team, actor=SYSTEM, now=on_duty_now)
    return team, call, b, responder


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_ack_is_recorded_once_with_who_and_when(backup, person, django_capture_on_commit_callbacks):
    team, call, b, _ = backup
    dispatcher = Actor.for_user(person("dispatcher"))
    got = []
    unsub = events.subscribe(lambda n, p: got.append((n, p)))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ack, created = acknowledge_backup(backup_call_id=b.pk, actor=dispatcher)
        assert created and ack.by == dispatcher.user and ack.team_id == team.pk
        # repeated: the first acknowledgement, nothing new written or announced
        with django_capture_on_commit_callbacks(execute=True):
            again, created2 = acknowledge_backup(
                backup_call_id=b.pk, actor=Actor.for_user(person("supervisor"))
            )
    finally:
        unsub()
    assert not created2 and again.pk == ack.pk and again.by == dispatcher.user
    assert BackupAck.objects.count() == 1
    acks = [p for n, p in got if n == "backup.acknowledged"]
    assert acks == [
        {"call_id": call.pk, "backup_call_id": b.pk, "team_id": team.pk, "at": acks[0]["at"]}
    ]
    assert AuditEntry.objects.filter(action="backup.acknowledge").count() == 1
    line = b.timeline.get(kind=TimelineEvent.Kind.BACKUP_ACKNOWLEDGED)
    assert dispatcher.user.username in line.text


def test_ack_refuses_bad_input_and_roles(backup, person):
    _, call, b, _ = backup
    with pytest.raises(NotFound, match="backup_call_id"):
        acknowledge_backup(backup_call_id=call.pk, actor=Actor.for_user(person("dispatcher")))
    with pytest.raises(NotFound, match="backup_call_id"):
        acknowledge_backup(backup_call_id=99_999_999, actor=Actor.for_user(person("dispatcher")))
    for role in ("responder", "call_taker", "analyst", "crisis_clinician"):
        with pytest.raises(Forbidden):
            acknowledge_backup(backup_call_id=b.pk, actor=Actor.for_user(person(role)))
    assert not BackupAck.objects.exists()


def test_ack_api(backup, person):
    team, call, b, responder = backup
    dispatcher = person("dispatcher")
    d = _client(dispatcher)
    # bad input: a path that is no backup request, a non-number
    r = _post(d, f"/api/backups/{call.pk}/ack")
    assert r.status_code == 404 and "backup_call_id" in r.json()["detail"]
    assert _post(d, "/api/backups/abc/ack").status_code in (404, 422)
    # nobody acknowledged yet: GET says so
    assert d.get(f"/api/backups/{b.pk}/ack").status_code == 404
    # roles: a responder or a call taker may not acknowledge
    for role in ("responder", "call_taker", "analyst"):
        assert _post(_client(person(role)), f"/api/backups/{b.pk}/ack").status_code == 403
    r = _post(d, f"/api/backups/{b.pk}/ack")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["by"] == dispatcher.username and body["created"] is True
    assert body["call_id"] == call.pk and body["team_id"] == team.pk
    r2 = _post(_client(person("supervisor")), f"/api/backups/{b.pk}/ack")
    assert r2.status_code == 200 and r2.json()["created"] is False
    assert r2.json()["by"] == dispatcher.username and r2.json()["at"] == body["at"]
    # the team's own responder reads who saw it; another team's responder learns nothing
    mine = _client(responder).get(f"/api/backups/{b.pk}/ack")
    assert mine.status_code == 200 and mine.json()["by"] == dispatcher.username
    other = _client(person("responder")).get(f"/api/backups/{b.pk}/ack")
    assert other.status_code == 404


def test_snapshot_raises_unacknowledged_backups_until_acknowledged(backup, person):
    team, call, b, _ = backup
    snap = board_snapshot()
    [raised] = snap["backups"]
    assert raised["backup_call_id"] == b.pk and raised["call_id"] == call.pk
    assert raised["team_id"] == team.pk and raised["address"] == "12 Test Lane, Durham NC"
    assert raised["nature"] == "CRISIS"
    acknowledge_backup(backup_call_id=b.pk, actor=Actor.for_user(person("dispatcher")))
    snap = board_snapshot()
    assert snap["backups"] == []
    card = next(c for c in snap["calls"] if c["id"] == b.pk)
    assert card["ack"]["by"].startswith("dispatcher") or card["ack"]["by"]
    # a team's time in status comes with the teams
    me = next(t for t in snap["teams"] if t["id"] == team.pk)
    assert me["status"] == "on_scene" and me["status_since"] is not None


def test_responder_page_shows_who_saw_the_backup(backup, person):
    _, _, b, responder = backup
    page = _client(responder).get("/responder/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="backup-ack"' in html and "not confirmed seeing it yet.</div>" in html
    dispatcher = person("dispatcher")
    acknowledge_backup(backup_call_id=b.pk, actor=Actor.for_user(dispatcher))
    html = _client(responder).get("/responder/").content.decode()
    assert f"Dispatch saw your backup request — {dispatcher.username}" in html


def test_dispatcher_closes_a_call_no_team_is_on(program, person, backup):
    team, call, _, _ = backup
    d = _client(person("dispatcher"))
    free = open_call("standard")
    # bad input: unknown disposition, names the field; nothing changed
    r = _post(d, f"/api/calls/{free.pk}/close", {"disposition": "whatever"})
    assert r.status_code == 422 and "disposition" in r.json()["detail"]
    assert Call.objects.get(pk=free.pk).state == "open"
    # a team is on the call: 409, it clears from the phone
    r = _post(d, f"/api/calls/{call.pk}/close", {"disposition": "duplicate"})
    assert r.status_code == 409 and team.name in r.json()["detail"]
    r = _post(d, f"/api/calls/{free.pk}/close", {"disposition": "duplicate", "note": "same as 12"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    # repeated: already closed, 409 naming the call
    r = _post(d, f"/api/calls/{free.pk}/close", {"disposition": "duplicate"})
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    with pytest.raises(Conflict):
        close_call_by_dispatch(call=free, actor=SYSTEM, disposition="duplicate")
    assert free.timeline.filter(kind="closed").count() == 1


def test_dispatcher_note(backup, person):
    _, call, _, _ = backup
    d = _client(person("dispatcher"))
    r = _post(d, f"/api/calls/{call.pk}/notes", {"text": "   "})
    assert r.status_code == 422 and "text" in r.json()["detail"]
    r = _post(d, f"/api/calls/{call.pk}/notes", {"text": "Caller's sister on the line: calmer."})
    assert r.status_code == 201 and r.json()["kind"] == "note"
    assert call.timeline.filter(kind="note").count() == 1
    assert (
        _post(
            _client(person("call_taker")), f"/api/calls/{call.pk}/notes", {"text": "x"}
        ).status_code
        == 403
    )
    with pytest.raises(Invalid):
        from heart.calls.services import add_note

        add_note(call=call, actor=SYSTEM, text="x" * 501)

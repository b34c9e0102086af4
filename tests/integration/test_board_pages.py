"""The dispatch board page, its snapshot, the SSE stream's access rules and the hubs."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.domain.triage import CallInput
from heart.intake.services import receive_call
from heart.live import broadcast as events
from heart.live.hub import Hub
from heart.live.local import deliver_local
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def new_call(**kw):
    return receive_call(
        call=CallInput(
            received_at=timezone.now(),
            nature="CRISIS",
            lon=DURHAM[0],
            lat=DURHAM[1],
            narrative="private words",
            **kw,
        ),
        actor=SYSTEM,
        address="1 Main St",
    ).call


def test_board_page_access(person):
    assert Client().get("/board/").status_code == 302  # to sign-in
    assert signed_in(person("responder")).get("/board/").status_code == 403
    assert signed_in(person("analyst")).get("/board/").status_code == 403
    r = signed_in(person("dispatcher")).get("/board/")
    assert r.status_code == 200
    cfg = json.loads(
        r.content.decode().split('id="board-config" type="application/json">')[1].split("<")[0]
    )
    assert cfg["canDispatch"] is True
    r = signed_in(person("call_taker")).get("/board/")
    assert r.status_code == 200 and b'"canDispatch": false' in r.content


def test_snapshot_has_calls_teams_and_no_narrative(person, staffed_team):
    staffed_team("T1")
    call = new_call()
    r = signed_in(person("dispatcher")).get("/board/state")
    assert r.status_code == 200
    body = r.json()
    row = next(c for c in body["calls"] if c["id"] == call.pk)
    assert row["route"] == call.route and row["reasons"] and row["address"] == "1 Main St"
    assert "narrative" not in row and b"private words" not in r.content
    assert [t["name"] for t in body["teams"]] == ["T1"]
    assert signed_in(person("responder")).get("/board/state").status_code == 403


def test_areas_geojson(person):
    r = signed_in(person("dispatcher")).get("/board/areas.geojson")
    keys = {f["properties"]["key"] for f in r.json()["features"]}
    assert {"city", "pilot"} <= keys


def test_stream_refuses_without_the_role(person, staffed_team):
    assert Client().get("/live/events").status_code == 401
    assert signed_in(person("analyst")).get("/live/events").status_code == 403
    assert signed_in(person("dispatcher")).get("/live/events?scope=nope").status_code == 422
    # a responder may only listen to their own team, and needs a shift
    assert signed_in(person("responder")).get("/live/events").status_code == 403
    assert signed_in(person("responder")).get("/live/events?scope=team").status_code == 403


def test_home_sends_each_role_to_its_page(person):
    assert signed_in(person("dispatcher")).get("/").url == "/board/"
    assert signed_in(person("responder")).get("/").url == "/responder/"
    assert signed_in(person("care_navigator")).get("/").url == "/care/queue"
    analyst = signed_in(person("analyst")).get("/")
    assert analyst.status_code == 200
    assert "/plan/" in analyst.content.decode() and "/care/sla" in analyst.content.decode()


def test_team_filter_strips_and_scopes():
    from heart.board.views import _team_filter

    f = _team_filter(7)
    assert f("team.status", {"team_id": 8, "status": "en_route"}) is None
    assert f("avl.positions", {"team_id": 7, "lon": 1, "lat": 2}) is None
    out = f("backup.requested", {"team_id": 7, "call_id": 3, "lon": 1, "lat": 2, "alarm": True})
    assert out == {"team_id": 7, "call_id": 3}


def test_hub_fans_out_to_every_client_in_order():
    hub = Hub()

    async def main():
        clients = [hub.connect(lambda n, p: p) for _ in range(50)]
        for i in range(3):  # as a transport hands them over: with their sequence numbers
            deliver_local("team.status", {"team_id": 1, "status": f"s{i}"}, 100 + i)
        got = []
        for c in clients:
            frames = []
            while len(frames) < 3:
                frames += [text for _, text in await c.get(1)]
            got.append(frames)
        for c in clients:
            hub.disconnect(c)
        return got

    try:
        got = asyncio.run(main())
    finally:
        if hub._unsubscribe:
            hub._unsubscribe()
    assert len(got) == 50
    assert all('"status":"s0"' in g[0] and '"status":"s2"' in g[2] for g in got)
    assert got[0][0].startswith("id: 100\n") and "event: team.status" in got[0][0]


@pytest.mark.django_db(transaction=True)
def test_postgres_notify_crosses_processes_only_on_commit(postgres_only):
    """Another process's NOTIFY reaches this one's subscribers; a rollback sends nothing."""
    from heart.live import pg

    events.reset_publisher()
    backend = events.get_backend()
    assert backend.name == "postgres"
    got = []
    unsub = events.subscribe(lambda n, p: got.append((n, p)))
    backend.start_listening()
    try:
        assert backend.ready.wait(10)

        def notify(payload: dict) -> None:
            body = json.dumps({"o": "another-process", "n": "team.status", "p": payload})
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SELECT pg_notify(%s, %s)", [pg.CHANNEL, body])

        def until_sentinel(n: int) -> list:
            # NOTIFYs reach the listener in commit order: once the sentinel has arrived,
            # anything sent before it has too (no fixed sleep to show nothing else came)
            notify({"sentinel": n})
            deadline = time.monotonic() + 10
            while ("team.status", {"sentinel": n}) not in got and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ("team.status", {"sentinel": n}) in got, "the listener never caught up"
            return [e for e in got if e != ("team.status", {"sentinel": n})]

        with pytest.raises(RuntimeError), transaction.atomic():
            with connection.cursor() as cur:
                other = json.dumps(
                    {"o": "another-process", "n": "team.status", "p": {"team_id": 13}}
                )
                cur.execute("SELECT pg_notify(%s, %s)", [pg.CHANNEL, other])
            raise RuntimeError("roll back")
        notify({"team_id": 42})
        assert until_sentinel(1) == [("team.status", {"team_id": 42})]
        # our own notifications are delivered locally on commit, never twice
        got.clear()
        with transaction.atomic():
            events.publish_on_commit("team.status", {"team_id": 7})
        assert until_sentinel(2) == [("team.status", {"team_id": 7})]
    finally:
        unsub()
        backend.stop()
        events.reset_publisher()


def test_backend_is_chosen_by_the_database(settings):
    events.reset_publisher()
    try:
        expected = "postgres" if connection.vendor == "postgresql" else "inprocess"
        assert events.backend_name() == expected
        settings.HEART_EVENT_BACKEND = "inprocess"
        assert events.backend_name() == "inprocess"
        settings.HEART_EVENT_BACKEND = "bogus"
        with pytest.raises(ValueError, match="HEART_EVENT_BACKEND"):
            events.backend_name()
    finally:
        events.reset_publisher()


def test_thread_publish_reaches_async_client():
    """Services publish from worker threads; the SSE client lives on the event loop."""
    hub = Hub()

    async def main():
        c = hub.connect(lambda n, p: p)
        t = threading.Thread(target=events.publish, args=("call.closed", {"call_id": 5}))
        t.start()
        (_, item), *_ = await c.get(2)
        t.join()
        hub.disconnect(c)
        return item

    try:
        assert '"call_id":5' in asyncio.run(main())
    finally:
        if hub._unsubscribe:
            hub._unsubscribe()

"""The board catches up by sequence number (issue 11, items 5 and 9).

Every live event is logged with a sequence number (heart.live.store) in the writer's
transaction; SSE frames carry it; a reconnecting board is replayed what it missed;
the snapshot is tagged with the position it reflects and pages its open calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from django.db import transaction
from django.test import AsyncClient, Client
from django.utils import timezone

from heart.calls.models import Call
from heart.live import broadcast, store
from heart.live.models import LiveEvent

pytestmark = pytest.mark.django_db


def publish_committed(name, payload) -> int:
    """Publish inside a transaction, as services do; the event's sequence number."""
    with transaction.atomic():
        broadcast.publish_on_commit(name, payload)
    return LiveEvent.objects.order_by("-id").values_list("id", flat=True).first()


def test_a_rolled_back_change_is_never_logged(django_capture_on_commit_callbacks):
    got = []
    unsub = broadcast.subscribe(lambda n, p, s: got.append((n, s)), with_seq=True)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with pytest.raises(RuntimeError), transaction.atomic():
                broadcast.publish_on_commit("team.status", {"team_id": 1})
                raise RuntimeError("roll back")
            broadcast.publish_on_commit("team.status", {"team_id": 2})
    finally:
        unsub()
    rows = list(LiveEvent.objects.values_list("id", "payload"))
    assert [p for _, p in rows] == [{"team_id": 2}]
    assert got == [("team.status", rows[0][0])]


def test_replay_gives_what_came_after_and_a_little_before():
    seqs = [publish_committed("team.status", {"team_id": i}) for i in range(6)]
    assert seqs == sorted(seqs) and store.current_seq() == seqs[-1]
    after = store.replay(seqs[2])
    # everything after, and (the slack) the ones logged just before: clients drop repeats
    assert [s for s, _, _ in after] == seqs[:2] + seqs[3:]
    LiveEvent.objects.filter(pk__in=seqs[:2]).update(at=timezone.now() - dt.timedelta(minutes=1))
    assert [s for s, _, _ in store.replay(seqs[2])] == seqs[3:]
    assert [s for s, _, _ in store.replay(seqs[-1])] == seqs[2:-1]  # up to date: the slack
    assert store.replay(0) is not None
    assert store.replay(seqs[0], limit=2) is None  # too far behind: reload the snapshot


def test_replay_refuses_when_the_log_no_longer_reaches_back():
    seqs = [publish_committed("team.status", {"team_id": i}) for i in range(3)]
    LiveEvent.objects.filter(pk=seqs[0]).update(at=timezone.now() - dt.timedelta(hours=2))
    assert store.purge(keep=900) == 1
    assert store.replay(seqs[0]) is None
    assert [s for s, _, _ in store.replay(seqs[1])] == seqs[2:]


def test_snapshot_is_tagged_and_paged(person, monkeypatch):
    from heart.board import selectors

    now = timezone.now()
    for i in range(7):
        Call.objects.create(
            received_at=now - dt.timedelta(seconds=i // 2),
            nature="CRISIS",
            route="crt",
            rules_version="v",
            program="p",
        )
    seq = publish_committed("team.status", {"team_id": 1})
    c = Client()
    c.force_login(person("dispatcher"))
    monkeypatch.setattr(selectors, "BOARD_PAGE", 3)
    first = c.get("/board/state").json()
    assert first["seq"] == seq and first["total"] == 7 and len(first["calls"]) == 3
    assert "teams" in first and first["next_cursor"]
    assert c.get(f"/board/state?after={first['next_cursor']}").json() == {"more": 4}
    ids = [x["id"] for x in first["calls"]]
    cursor = first["next_cursor"]
    while cursor:
        page = c.get(f"/board/state?cursor={cursor}").json()
        assert "teams" not in page and page["total"] == 7
        ids += [x["id"] for x in page["calls"]]
        cursor = page["next_cursor"]
    assert len(ids) == len(set(ids)) == 7
    assert c.get("/board/state?cursor=garbage").status_code == 422
    assert c.get("/board/state?limit=x").status_code == 422


@pytest.fixture
def streaming():
    """The global hub starts this process's listener (PostgreSQL): stop it afterwards,
    and close the connections the async views opened in asgiref's thread."""
    yield
    broadcast.reset_publisher()


async def close_thread_connections():
    from asgiref.sync import sync_to_async
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def read_until(response, predicate, timeout=5.0) -> str:
    text = ""
    stream = response.streaming_content.__aiter__()
    async with asyncio.timeout(timeout):
        while not predicate(text):
            chunk = await stream.__anext__()
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
    return text


@pytest.mark.django_db(transaction=True)
def test_stream_replays_from_last_event_id_then_goes_live(person, streaming):
    user = person("dispatcher")
    seqs = [publish_committed("team.status", {"team_id": i}) for i in range(4)]
    LiveEvent.objects.filter(pk=seqs[0]).update(at=timezone.now() - dt.timedelta(minutes=1))

    async def main():
        client = AsyncClient()
        await client.aforce_login(user)
        r = await client.get("/live/events?scope=board", headers={"Last-Event-ID": str(seqs[1])})
        assert r.status_code == 200
        text = await read_until(r, lambda t: f"id: {seqs[3]}\n" in t)
        from asgiref.sync import sync_to_async

        live = await sync_to_async(publish_committed)("call.closed", {"call_id": 9})
        text += await read_until(r, lambda t: f"id: {live}\n" in t)
        await close_thread_connections()
        return text

    text = asyncio.run(main())
    assert f"id: {seqs[0]}\n" not in text and f"id: {seqs[1]}\n" not in text
    assert text.index(f"id: {seqs[2]}\n") < text.index(f"id: {seqs[3]}\n")
    assert text.count(f"id: {seqs[3]}\n") == 1


@pytest.mark.django_db(transaction=True)
def test_stream_says_reset_when_too_far_behind(person, monkeypatch, streaming):
    from heart.board import views

    user = person("dispatcher")
    for i in range(5):
        publish_committed("team.status", {"team_id": i})
    monkeypatch.setattr(views, "replay", lambda after: None)

    async def main():
        client = AsyncClient()
        await client.aforce_login(user)
        r = await client.get("/live/events?scope=board&after=1")
        text = await read_until(r, lambda t: "event: reset" in t)
        await close_thread_connections()
        return text

    assert "event: reset" in asyncio.run(main())

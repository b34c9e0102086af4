"""The event stream: stored with the write, delivered after the commit, retried until done."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from heart.accounts.actors import SYSTEM
from heart.events import bus
from heart.events.models import Delivery, Event
from tests.integration.conftest import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(monkeypatch):
    """A subscriber to 'test.thing' that records what it saw (and can be made to fail)."""
    calls: list[tuple[int, str]] = []
    state = {"fail": 0, "slow": 0.0}

    def handler(event, actor):
        time.sleep(state["slow"])  # widens the window in which two sweepers could overlap
        if state["fail"]:
            state["fail"] -= 1
            raise RuntimeError("the subscriber is down")
        calls.append((event.payload["n"], actor.label))

    monkeypatch.setattr(bus, "_subscriptions", dict(bus._subscriptions))
    bus.subscribe(key="test.recorder", names={"test.thing"}, handler=handler)
    return calls, state


def test_subscribers_run_after_the_commit_with_the_actor(seen, django_capture_on_commit_callbacks):
    calls, _ = seen
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ev = bus.emit("test.thing", {"n": 1}, actor=SYSTEM, call_id=7)
        assert calls == []  # not before the commit
    assert calls == [(1, "system")]
    d = Delivery.objects.get(event=ev)
    assert d.state == "done" and d.attempts == 1 and ev.call_id == 7


def test_a_rolled_back_write_emits_nothing(seen, django_capture_on_commit_callbacks):
    calls, _ = seen
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        bus.emit("test.thing", {"n": 2}, actor=SYSTEM)
        1 / 0  # noqa: B018
    assert calls == [] and not Event.objects.filter(name="test.thing").exists()


def test_a_failed_or_missed_delivery_is_retried_then_given_up(seen):
    calls, state = seen
    ev = bus.emit("test.thing", {"n": 3}, actor=SYSTEM)  # on_commit never runs: a "crash"
    assert Delivery.objects.get(event=ev).state == "pending"
    state["fail"] = 1
    assert bus.deliver_pending() == 0
    d = Delivery.objects.get(event=ev)
    assert d.state == "pending" and d.attempts == 1 and "subscriber is down" in d.last_error
    assert bus.deliver_pending() == 1 and calls == [(3, "system")]
    assert bus.deliver_pending() == 0 and calls == [(3, "system")]  # never twice

    ev2 = bus.emit("test.thing", {"n": 4}, actor=SYSTEM)
    state["fail"] = bus.MAX_ATTEMPTS
    for _ in range(bus.MAX_ATTEMPTS):
        bus.deliver_pending()
    assert Delivery.objects.get(event=ev2).state == "failed"


def test_events_nobody_subscribes_to_reach_the_screens_only(
    seen, django_capture_on_commit_callbacks
):
    from heart.live import broadcast

    before = len(broadcast.recent)
    with django_capture_on_commit_callbacks(execute=True):
        assert bus.emit("test.other", {"n": 5}, actor=SYSTEM) is None
    assert not Event.objects.filter(name="test.other").exists()
    assert list(broadcast.recent)[before:] == [("test.other", {"n": 5})]


@pytest.mark.django_db(transaction=True)
def test_two_processes_sweeping_at_once_deliver_once(seen, postgres_only):
    """Delivery rows are locked (SKIP LOCKED): with the lock removed, both sweepers run
    the handler and this test sees it twice."""
    calls, state = seen
    bus.emit("test.thing", {"n": 6}, actor=SYSTEM)  # autocommit: delivered at once
    Delivery.objects.update(state="pending")  # as if that process had died first
    calls.clear()
    state["slow"] = 0.2
    wins, conflicts, errors = race([bus.deliver_pending for _ in range(6)])
    assert not errors, errors
    assert calls == [(6, "system")] and sum(wins) == 1

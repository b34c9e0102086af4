"""Emit events inside a write; deliver them to the subscribers after the commit.

* :func:`emit` is called by a service inside its transaction: it hands the event to the
  live screens (:mod:`heart.live.broadcast`) on commit and, when anyone subscribes to
  that name, stores it with a pending :class:`~heart.events.models.Delivery` for each
  subscriber. An event nobody subscribes to (a call received from the CAD, which only
  the screens show) is not stored: intake runs hundreds of times a second and an
  unread row would cost every call. A name registered with :func:`keep` is stored
  all the same (with no delivery): a record someone counts later, e.g. the public
  report's dispatch overrides per month.
* After the commit the emitting process runs the subscribers at once
  (:func:`deliver`); each delivery runs in its own transaction with the delivery row
  locked, so the subscriber's writes and "done" commit together and a second process
  never runs the same delivery. Handlers must be idempotent all the same: a crash
  between their work and the commit means the work is rolled back and done again.
* :func:`on_store` registers a writer run INSIDE the emitting transaction, right after
  the event row is stored: for an outbox that must commit or roll back with the change
  itself (the CAD write-back, heart.cad). A failing writer rolls the change back. Only
  while the writer's ``active()`` says so does it make the event stored.
* :func:`deliver_pending` retries what is still pending (a crash after the commit, a
  handler that failed); ``heart serve`` runs it in the background and
  ``heart manage deliver_events`` on demand. A delivery that fails
  ``MAX_ATTEMPTS`` times is marked failed and stays visible in the admin.

Subscribers register in their app's ``ready()`` (see heart.care.apps).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.events.models import Delivery, Event
from heart.live.broadcast import publish_on_commit

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5

Handler = Callable[[Event, Actor], None]


@dataclass(frozen=True, slots=True)
class Subscription:
    key: str  # stable: stored on every delivery row
    names: frozenset[str]
    handler: Handler


_subscriptions: dict[str, Subscription] = {}
# event names stored even when nobody subscribes (name -> why, for the docs and admin)
_kept: dict[str, str] = {}


def subscribe(*, key: str, names: Iterable[str], handler: Handler) -> None:
    """Run ``handler(event, actor)`` after every committed event of these names."""
    _subscriptions[key] = Subscription(key, frozenset(names), handler)


def keep(*, names: Iterable[str], why: str) -> None:
    """Store every event of these names even without a subscriber (an app's ``ready()``):
    for records counted from the stream later. Stored, never delivered."""
    for name in names:
        _kept[name] = why


@dataclass(frozen=True, slots=True)
class StoreHook:
    key: str
    names: frozenset[str]
    writer: Callable[[Event], None]
    active: Callable[[], bool]


_store_hooks: dict[str, StoreHook] = {}


def on_store(
    *,
    key: str,
    names: Iterable[str],
    writer: Callable[[Event], None],
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Run ``writer(event)`` inside the emitting transaction, once the event of one of
    these names is stored (when ``active()``): its rows commit with the change or not at
    all. Keep it small: it runs in the writer's transaction, row locks held."""
    _store_hooks[key] = StoreHook(key, frozenset(names), writer, active)


def _store_hooks_of(name: str) -> list[StoreHook]:
    return [h for h in _store_hooks.values() if name in h.names and h.active()]


def kept_names() -> dict[str, str]:
    return dict(_kept)


def _subscribers_of(name: str) -> list[Subscription]:
    return [s for s in _subscriptions.values() if name in s.names]


def emit(
    name: str,
    payload: dict,
    *,
    actor: Actor,
    call_id: int | None = None,
    at: dt.datetime | None = None,
    broadcast: bool = True,
) -> Event | None:
    """Emit with the current transaction (or its own): subscribers and live screens get
    the event after the commit, never on a rollback. The stored event, or None when
    nobody subscribes to the name."""
    subscribers = _subscribers_of(name)
    hooks = _store_hooks_of(name)
    if not subscribers and not hooks and name not in _kept:
        if broadcast:
            publish_on_commit(name, payload)
        return None
    with transaction.atomic(savepoint=False):
        event = Event.objects.create(
            name=name,
            at=at or timezone.now(),
            call_id=call_id,
            actor=actor.user,
            actor_label=actor.label,
            payload=payload,
        )
        for hook in hooks:
            hook.writer(event)
        if subscribers:
            Delivery.objects.bulk_create(
                [Delivery(event=event, subscriber=s.key) for s in subscribers]
            )
            event_id = event.pk
            transaction.on_commit(lambda: deliver(event_ids=[event_id]), robust=True)
        if broadcast:
            publish_on_commit(name, payload)
    return event


def deliver(*, event_ids: list[int] | None = None, limit: int = 500) -> int:
    """Run pending deliveries (of these events, or all), oldest event first; how many
    succeeded."""
    pending = Delivery.objects.filter(
        state=Delivery.State.PENDING, subscriber__in=list(_subscriptions)
    )
    if event_ids is not None:
        pending = pending.filter(event_id__in=event_ids)
    ids = list(pending.order_by("event_id", "id").values_list("pk", flat=True)[:limit])
    return sum(_deliver_one(pk) for pk in ids)


deliver_pending = deliver


def _deliver_one(pk: int) -> int:
    try:
        with transaction.atomic():
            d = (
                Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("event", "event__actor")
                .filter(pk=pk, state=Delivery.State.PENDING)
                .first()
            )
            if d is None:  # done meanwhile, or another process holds it
                return 0
            event = d.event
            _subscriptions[d.subscriber].handler(event, Actor(event.actor_label, user=event.actor))
            d.state, d.attempts, d.done_at = Delivery.State.DONE, d.attempts + 1, timezone.now()
            d.save(update_fields=["state", "attempts", "done_at"])
        return 1
    except Exception as exc:  # the event is safe; record, log without personal data, retry
        log.error("event delivery %s failed: %s", pk, type(exc).__name__)
        Delivery.objects.filter(pk=pk).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        Delivery.objects.filter(pk=pk, attempts__gte=MAX_ATTEMPTS).update(
            state=Delivery.State.FAILED
        )
        return 0


def start_sweeper(every_seconds: float) -> threading.Thread | None:
    """A daemon thread retrying pending deliveries (one per server process)."""
    if every_seconds <= 0:
        return None

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(every_seconds):
            try:
                deliver_pending()
            except Exception as exc:  # e.g. the database is restarting: next round
                log.warning("event sweeper: %s", type(exc).__name__)
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="heart-event-sweeper", daemon=True)
    thread.start()
    return thread

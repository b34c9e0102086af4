"""This process's own subscribers to live events, and the transport interface.

The lowest piece of the real-time plumbing: :mod:`heart.live.broadcast` chooses a
transport and publishes; :mod:`heart.live.pg` (PostgreSQL LISTEN/NOTIFY) hands events
from other processes to :func:`deliver_local`; :mod:`heart.live.hub` subscribes the
Server-Sent-Events clients.

Every event carries its sequence number (``seq``, the id of its row in the screens'
event log, :mod:`heart.live.store`) when the transport logs it. A process delivers each
sequence number once, however it arrives (on commit, by NOTIFY, or replayed from the
log after the listener reconnected).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Publisher = Callable[[str, dict], None]
SeqSubscriber = Callable[[str, dict, int | None], None]

recent: collections.deque[tuple[str, dict]] = collections.deque(maxlen=1000)
_subscribers: list[Publisher] = []
_seq_subscribers: list[SeqSubscriber] = []
_lock = threading.Lock()

# sequence numbers delivered in this process (bounded): a replay never repeats one
_DELIVERED_MAX = 100_000
_delivered: set[int] = set()
_delivered_order: collections.deque[int] = collections.deque()
_last_seq = 0


def subscribe(callback: Callable, *, with_seq: bool = False) -> Callable[[], None]:
    """Call ``callback(name, payload)`` (``with_seq``: ``callback(name, payload, seq)``)
    for every event in this process; returns unsubscribe."""
    target = _seq_subscribers if with_seq else _subscribers
    with _lock:
        target.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in target:
                target.remove(callback)

    return unsubscribe


def last_seq() -> int:
    """The highest sequence number this process has delivered (0: none yet)."""
    return _last_seq


def seen(seq: int) -> bool:
    return seq in _delivered


def forget_delivered() -> None:
    """Forget the delivered sequence numbers (tests: a rolled-back test transaction
    hands the same numbers out again on SQLite)."""
    global _last_seq
    with _lock:
        _delivered.clear()
        _delivered_order.clear()
        _last_seq = 0


def deliver_local(name: str, payload: dict, seq: int | None = None) -> None:
    """Hand an event to this process's subscribers once per sequence number (never raises)."""
    global _last_seq
    with _lock:
        if seq is not None:
            if seq in _delivered:
                return
            _delivered.add(seq)
            _delivered_order.append(seq)
            if len(_delivered_order) > _DELIVERED_MAX:
                _delivered.discard(_delivered_order.popleft())
            _last_seq = max(_last_seq, seq)
        subscribers = list(_subscribers)
        seq_subscribers = list(_seq_subscribers)
    recent.append((name, payload))
    for cb in subscribers:
        try:
            cb(name, payload)
        except Exception:  # a broken subscriber must not break a dispatch
            log.exception("event subscriber failed for %s", name)
    for cb in seq_subscribers:
        try:
            cb(name, payload, seq)
        except Exception:
            log.exception("event subscriber failed for %s", name)


class Backend:
    """A transport to the other server processes (none for in-process)."""

    name = "inprocess"
    transactional = False  # True: send() inside a transaction is delivered on commit only

    def send(self, name: str, payload: dict) -> int | None:  # pragma: no cover - interface
        """Log the event (inside the caller's transaction, if any) and hand it to the
        other processes; its sequence number, or None when not logged."""
        return None

    def start_listening(self) -> None:
        """Make sure events from other processes reach deliver_local (idempotent)."""

    def stop(self) -> None:
        """Stop listening (tests; a server process simply exits)."""

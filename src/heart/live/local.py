"""This process's own subscribers to live events, and the transport interface.

The lowest piece of the real-time plumbing: :mod:`heart.live.broadcast` chooses a
transport and publishes; :mod:`heart.live.pg` (PostgreSQL LISTEN/NOTIFY) hands events
from other processes to :func:`deliver_local`; :mod:`heart.live.hub` subscribes the
Server-Sent-Events clients.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Publisher = Callable[[str, dict], None]

recent: collections.deque[tuple[str, dict]] = collections.deque(maxlen=1000)
_subscribers: list[Publisher] = []
_lock = threading.Lock()


def subscribe(callback: Publisher) -> Callable[[], None]:
    """Call ``callback(name, payload)`` for every event in this process; returns unsubscribe."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def deliver_local(name: str, payload: dict) -> None:
    """Hand an event to this process's subscribers (never raises)."""
    recent.append((name, payload))
    with _lock:
        subscribers = list(_subscribers)
    for cb in subscribers:
        try:
            cb(name, payload)
        except Exception:  # a broken subscriber must not break a dispatch
            log.exception("event subscriber failed for %s", name)


class Backend:
    """A transport to the other server processes (none for in-process)."""

    name = "inprocess"
    transactional = False  # True: send() inside a transaction is delivered on commit only

    def send(self, name: str, payload: dict) -> None:  # pragma: no cover - interface
        pass

    def start_listening(self) -> None:
        """Make sure events from other processes reach deliver_local (idempotent)."""

    def stop(self) -> None:
        """Stop listening (tests; a server process simply exits)."""


class InProcessBackend(Backend):
    pass

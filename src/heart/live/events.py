"""The publish hook: services call :func:`publish` after their transaction commits.

The board (issue 3, item 7) replaces the transport by setting
``settings.HEART_EVENT_PUBLISHER`` to a dotted path of a callable
``(name: str, payload: dict) -> None`` (e.g. PostgreSQL NOTIFY or Redis PUBLISH).
The default keeps events in process: subscribers registered with :func:`subscribe`
are called, and the last events are kept in :data:`recent` (tests, one-process demo).

Payloads are small JSON-able dicts with ids, statuses and coordinates, never names,
phone numbers or narratives (personal data stays in the database).

Event names (see docs/api.md for payloads):
  call.received, call.updated, call.rerouted, call.closed, team.status,
  assignment.created, avl.positions, backup.requested, ccd.outcome, co_response.paired
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

Publisher = Callable[[str, dict], None]

recent: collections.deque[tuple[str, dict]] = collections.deque(maxlen=1000)
_subscribers: list[Publisher] = []
_lock = threading.Lock()
_publisher: Publisher | None = None


def subscribe(callback: Publisher) -> Callable[[], None]:
    """Call ``callback(name, payload)`` for every event in this process; returns unsubscribe."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def in_process_publish(name: str, payload: dict) -> None:
    recent.append((name, payload))
    with _lock:
        subscribers = list(_subscribers)
    for cb in subscribers:
        try:
            cb(name, payload)
        except Exception:  # a broken subscriber must not break a dispatch
            log.exception("event subscriber failed for %s", name)


def _resolve() -> Publisher:
    global _publisher
    if _publisher is None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        path = getattr(settings, "HEART_EVENT_PUBLISHER", "")
        _publisher = import_string(path) if path else in_process_publish
    return _publisher


def reset_publisher() -> None:
    """Forget the resolved publisher (tests that override the setting)."""
    global _publisher
    _publisher = None


def publish(name: str, payload: dict) -> None:
    """Publish now (use :func:`publish_on_commit` inside a transaction)."""
    try:
        _resolve()(name, payload)
    except Exception:  # the write is committed; a lost broadcast is logged, not raised
        log.exception("publishing %s failed", name)


def publish_on_commit(name: str, payload: dict) -> None:
    """Publish once the current transaction commits (immediately if none)."""
    transaction.on_commit(lambda: publish(name, payload))

"""The publish hook: services call :func:`publish_on_commit` inside their transaction.

Two transports ("backends"), chosen by settings (``HEART_EVENT_BACKEND``, default
``auto``: ``postgres`` when the default database is PostgreSQL, else ``inprocess``):

* ``inprocess`` — one server process, any database (SQLite demo): the event is handed
  to the subscribers of this process (:func:`subscribe`) after the commit.
* ``postgres`` — several server processes: the event is also sent with
  ``pg_notify('heart_events', …)`` *inside* the writing transaction, so PostgreSQL
  delivers it to the other processes' LISTEN connections only if the transaction
  commits (a rolled-back write never announces anything). Each process still delivers
  its own events locally (on commit) and its listener skips notifications it sent
  itself, so every subscriber sees every event exactly once. See docs/realtime.md.

``settings.HEART_EVENT_PUBLISHER`` (a dotted path of ``(name, payload) -> None``) still
replaces the transport entirely when set.

The last events this process delivered are kept in :data:`recent` (tests, demo).
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
_backend = None  # resolved Backend instance
_UNSET = object()


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


# the historical name of the in-process transport
in_process_publish = deliver_local


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


def backend_name() -> str:
    from django.conf import settings

    choice = getattr(settings, "HEART_EVENT_BACKEND", "auto") or "auto"
    if choice == "auto":
        engine = settings.DATABASES["default"]["ENGINE"]
        return "postgres" if "postgresql" in engine else "inprocess"
    if choice not in ("inprocess", "postgres"):
        raise ValueError(f"HEART_EVENT_BACKEND: unknown {choice!r} (auto, inprocess, postgres)")
    return choice


def get_backend() -> Backend:
    global _backend
    if _backend is None:
        if backend_name() == "postgres":
            from heart.live.pg import PostgresBackend

            _backend = PostgresBackend()
        else:
            _backend = InProcessBackend()
    return _backend


def _custom_publisher() -> Publisher | None:
    global _publisher
    if _publisher is None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        path = getattr(settings, "HEART_EVENT_PUBLISHER", "")
        _publisher = import_string(path) if path else _UNSET  # type: ignore[assignment]
    return None if _publisher is _UNSET else _publisher


def reset_publisher() -> None:
    """Forget the resolved publisher and backend (tests that override the settings)."""
    global _publisher, _backend
    if _backend is not None:
        _backend.stop()
    _publisher = None
    _backend = None


def publish(name: str, payload: dict) -> None:
    """Publish now (use :func:`publish_on_commit` inside a transaction)."""
    try:
        custom = _custom_publisher()
        if custom is not None:
            custom(name, payload)
            return
        deliver_local(name, payload)
        get_backend().send(name, payload)
    except Exception:  # the write is committed; a lost broadcast is logged, not raised
        log.exception("publishing %s failed", name)


def publish_on_commit(name: str, payload: dict) -> None:
    """Publish once the current transaction commits (immediately if none).

    With a transactional backend (PostgreSQL NOTIFY) the cross-process message is
    queued inside the transaction now; PostgreSQL sends it at commit, never on rollback.
    """
    try:
        custom = _custom_publisher()
        backend = get_backend() if custom is None else None
    except Exception:
        log.exception("resolving the event transport failed")
        custom, backend = None, None
    if (
        backend is not None
        and backend.transactional
        and transaction.get_connection().in_atomic_block
    ):
        try:
            backend.send(name, payload)
        except Exception:
            log.exception("queueing %s for other processes failed", name)
        transaction.on_commit(lambda: deliver_local(name, payload))
        return
    transaction.on_commit(lambda: publish(name, payload))

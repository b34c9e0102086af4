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

Both transports log the event in the screens' event log (:mod:`heart.live.store`) in
the writer's transaction; its id is the event's sequence number, sent to the browsers
as the SSE ``id:`` so that a reconnecting board is replayed what it missed.

The last events this process delivered are kept in :data:`recent` (tests, demo).
Payloads are small JSON-able dicts with ids, statuses and coordinates, never names,
phone numbers or narratives (personal data stays in the database).

Event names (see docs/api.md for payloads):
  call.received, call.updated, call.rerouted, call.closed, team.status,
  assignment.created, avl.positions, backup.requested, backup.acknowledged, call.note,
  ccd.outcome, ccd.claimed, ccd.released, co_response.paired
"""

from __future__ import annotations

import logging

from django.db import transaction

from heart.live.local import Backend, Publisher, deliver_local, recent, subscribe
from heart.live.pg import PostgresBackend
from heart.live.store import InProcessBackend

# subscribe/recent are this module's public face for readers of the live events
__all__ = ["publish", "publish_on_commit", "recent", "reset_publisher", "subscribe"]

log = logging.getLogger(__name__)

_publisher: Publisher | None = None
_backend = None  # resolved Backend instance
_UNSET = object()


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
        _backend = PostgresBackend() if backend_name() == "postgres" else InProcessBackend()
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
    except Exception:  # the write is committed; a lost broadcast is logged, not raised
        log.exception("publishing %s failed", name)
        return
    seq = None
    try:
        seq = get_backend().send(name, payload)
    except Exception:
        log.exception("logging %s for the screens failed", name)
    deliver_local(name, payload, seq)


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
    if backend is not None and transaction.get_connection().in_atomic_block:
        # logged (and NOTIFYed) inside the writer's transaction: kept only if it commits
        try:
            seq = backend.send(name, payload)
        except Exception:
            log.exception("logging %s for the screens failed", name)
            raise
        transaction.on_commit(lambda: deliver_local(name, payload, seq))
        return
    transaction.on_commit(lambda: publish(name, payload))

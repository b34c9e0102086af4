"""Retry a write that lost to contention or to a dropped database connection.

Intake must not refuse a call because two writes met (a serialization failure, a
deadlock, a lock timeout) or because PostgreSQL restarted under it. Such a failure
rolls the whole transaction back, so running it again is safe *when the work is
idempotent*: the intake write is, on its key (source, CAD incident id). The retries
are short and bounded (a few attempts within ``HEART_RETRY_BUDGET_SECONDS``, default
1.5 s), with exponential back-off and full jitter so that colliding requests do not
collide again; after that the error goes up and the API answers 503 with Retry-After.

Only the outermost transaction can be retried: inside a caller's transaction the
error goes up at once (that caller decides).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATEs worth another attempt: serialization failure, deadlock, lock not available,
# and the server going away (admin/crash shutdown, cannot connect now)
RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
MAX_ATTEMPTS = 6
FIRST_DELAY = 0.02  # seconds; doubles per attempt, full jitter
MAX_DELAY = 0.5


def transient(exc: BaseException) -> str | None:
    """ "contention" or "connection" when another attempt may succeed, else None."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return "connection"
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None)
    if state in RETRY_SQLSTATES:
        return "connection" if state.startswith("57") else "contention"
    if state is not None:
        return "connection" if state.startswith("08") else None
    if isinstance(cause, sqlite3.Error):
        text = str(exc).lower()
        return "contention" if "locked" in text or "busy" in text else None
    return "connection"  # psycopg: no SQLSTATE = the connection failed or could not open


def budget_seconds() -> float:
    return float(getattr(settings, "HEART_RETRY_BUDGET_SECONDS", 1.5))


def retry_on_contention(work: Callable[[], T], *, what: str = "intake") -> T:
    """Run ``work()`` (one whole transaction); again after a transient failure."""
    if connection.in_atomic_block:
        return work()
    deadline = time.monotonic() + budget_seconds()
    attempt = 0
    while True:
        attempt += 1
        try:
            return work()
        except DatabaseError as exc:
            kind = transient(exc)
            if kind is None or attempt >= MAX_ATTEMPTS:
                raise
            delay = random.uniform(0, min(MAX_DELAY, FIRST_DELAY * 2**attempt))
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: %s failure (%s), attempt %d", what, kind, type(exc).__name__, attempt)
            if kind == "connection":
                _drop_connection()
            time.sleep(delay)


def _drop_connection() -> None:
    """Forget a broken connection so the next attempt opens a new one."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - it is broken already
        connection.connection = None

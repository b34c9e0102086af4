"""The screens' event log (:class:`heart.live.models.LiveEvent`): write, replay, purge.

Sequence numbers come from the log's id, so they are the same in every server process.
They are assigned when the event is written (inside its transaction), and transactions
commit in their own order, so an event may become visible shortly after one with a
higher number. A replay therefore starts a little before the number the client last
saw: every event after it, plus those logged up to ``REPLAY_SLACK`` before it (by the
start time of their transaction). Clients drop the numbers they already have. An event
whose transaction stayed open longer than the slack after a later one had been sent can
be missed by a replay (never by a connected client); intake transactions last
milliseconds.

A replay longer than ``REPLAY_MAX`` events, or reaching past what the log still holds,
is refused: the client reloads its snapshot instead (``event: reset``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db.models import Max, Q
from django.utils import timezone

from heart.live.local import Backend

log = logging.getLogger(__name__)

REPLAY_SLACK = dt.timedelta(seconds=5)
REPLAY_MAX = 5000
DEFAULT_KEEP_SECONDS = 900
PURGE_EVERY_SECONDS = 60.0


def keep_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "HEART_LIVE_KEEP_SECONDS", DEFAULT_KEEP_SECONDS))


def current_seq() -> int:
    """The highest sequence number logged so far (0: none). Read it *before* a
    snapshot: the snapshot then reflects at least every event up to it that had
    committed, and a replay from it brings the rest."""
    from heart.live.models import LiveEvent

    return LiveEvent.objects.aggregate(m=Max("id"))["m"] or 0


Replayed = list[tuple[int, str, dict]]


def replay(after: int, *, limit: int = REPLAY_MAX) -> Replayed | None:
    """The events a client that has seen ``after`` may have missed, in sequence order
    (with the slack above), or None when it must reload its snapshot instead."""
    from heart.live.models import LiveEvent

    anchor = LiveEvent.objects.filter(id__lte=after).order_by("-id").values("at").first()
    if anchor is None:
        if after > 0 and LiveEvent.objects.exists():
            return None  # the client's last event was purged: the log cannot fill the gap
        rows = LiveEvent.objects.filter(id__gt=after)
    else:
        since = anchor["at"] - REPLAY_SLACK  # the client has ``after`` itself
        rows = LiveEvent.objects.filter(Q(id__gt=after) | Q(at__gte=since, id__lt=after))
    out = list(rows.order_by("id").values_list("id", "name", "payload")[: limit + 1])
    if len(out) > limit:
        return None
    return out


def purge(*, keep: float | None = None) -> int:
    """Drop log rows older than the replay window; how many."""
    from heart.live.models import LiveEvent

    cutoff = timezone.now() - dt.timedelta(seconds=keep if keep is not None else keep_seconds())
    deleted, _ = LiveEvent.objects.filter(at__lt=cutoff).delete()
    return deleted


class InProcessBackend(Backend):
    """One server process (SQLite): the event is logged in the writer's transaction.
    SQLite runs one writer at a time, so here sequence order is commit order."""

    def __init__(self) -> None:
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS

    def send(self, name: str, payload: dict) -> int | None:
        from heart.live.models import LiveEvent

        now = time.monotonic()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_SECONDS
            try:
                purge()
            except Exception:  # noqa: BLE001 - retention can wait for the next round
                log.warning("purging the live event log failed")
        return LiveEvent.objects.create(name=name, payload=payload, at=timezone.now()).pk

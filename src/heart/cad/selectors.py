"""Reads of the CAD write-back: the dead letters and the outbox's state."""

from __future__ import annotations

from django.db.models import Count

from heart.cad.models import OutboxMessage

S = OutboxMessage.State


def dead_letters(limit: int = 500) -> list[OutboxMessage]:
    """Dead letters, oldest first, each with ``waiting``: how many later messages of its
    call are held behind it."""
    dead = list(OutboxMessage.objects.filter(state=S.DEAD).order_by("pk")[:limit])
    streams = {m.stream for m in dead}
    pending = list(
        OutboxMessage.objects.filter(stream__in=streams, state=S.PENDING).values_list(
            "stream", "pk"
        )
    )
    for m in dead:
        m.waiting = sum(1 for stream, pk in pending if stream == m.stream and pk > m.pk)
    return dead


def counts() -> dict[str, int]:
    rows = OutboxMessage.objects.values("state").annotate(n=Count("id"))
    out = {s.value: 0 for s in S}
    out.update({r["state"]: r["n"] for r in rows})
    return out

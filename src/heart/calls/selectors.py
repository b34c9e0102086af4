"""Reads for calls."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from heart.calls.models import Call, Disposition


def calls_by_route() -> dict[str, int]:
    return {row["route"]: row["n"] for row in Call.objects.values("route").annotate(n=Count("id"))}


def open_calls(*, route: str | None = None, limit: int = 500) -> QuerySet[Call]:
    qs = Call.objects.filter(state=Call.State.OPEN)
    if route:
        qs = qs.filter(route=route)
    return qs.order_by("-received_at")[:limit]


def call_with_timeline(call_id: int) -> Call | None:
    return Call.objects.filter(pk=call_id).prefetch_related("timeline").first()


def ccd_queue(limit: int = 200) -> QuerySet[Call]:
    """Open calls routed to crisis call diversion with no outcome yet, oldest first."""
    return Call.objects.filter(
        state=Call.State.OPEN, route=Call.Route.CCD, ccd_outcome__isnull=True
    ).order_by("received_at")[:limit]


def follow_ups(limit: int = 200) -> QuerySet[Disposition]:
    """Dispositions with consent to follow-up (personal data: care navigators only)."""
    return (
        Disposition.objects.filter(consent_follow_up=True)
        .select_related("call")
        .order_by("-recorded_at")[:limit]
    )


def summary() -> dict:
    """Aggregate counts for reports (no personal data)."""
    by_state = {r["state"]: r["n"] for r in Call.objects.values("state").annotate(n=Count("id"))}
    outcomes = {
        r["outcome"]: r["n"] for r in Disposition.objects.values("outcome").annotate(n=Count("id"))
    }
    return {"by_route": calls_by_route(), "by_state": by_state, "dispositions": outcomes}

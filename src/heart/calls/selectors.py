"""Reads for calls."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from heart.apikit import DEFAULT_PAGE, Page, keyset_page
from heart.calls.models import Call, Disposition


def calls_by_route() -> dict[str, int]:
    return {row["route"]: row["n"] for row in Call.objects.values("route").annotate(n=Count("id"))}


def open_calls(*, route: str | None = None) -> QuerySet[Call]:
    """Every open call (of a route), unordered: page it with :func:`open_calls_page`."""
    qs = Call.objects.filter(state=Call.State.OPEN)
    if route:
        qs = qs.filter(route=route)
    return qs


def open_calls_page(
    *, route: str | None = None, cursor: str | None = None, limit: int = DEFAULT_PAGE
) -> Page:
    """Open calls newest first, one keyset page (received_at, id) with the total."""
    return keyset_page(
        open_calls(route=route),
        key=("received_at", "id"),
        kinds=(dt.datetime, int),
        descending=True,
        cursor=cursor,
        limit=limit,
    )


def call_with_timeline(call_id: int) -> Call | None:
    return Call.objects.filter(pk=call_id).prefetch_related("timeline").first()


def ccd_queue(*, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> Page:
    """Open calls routed to crisis call diversion with no outcome yet, oldest first
    (one keyset page with the total waiting)."""
    return keyset_page(
        Call.objects.filter(state=Call.State.OPEN, route=Call.Route.CCD, ccd_outcome__isnull=True),
        key=("received_at", "id"),
        kinds=(dt.datetime, int),
        descending=False,
        cursor=cursor,
        limit=limit,
    )


def follow_ups(*, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> Page:
    """Dispositions with consent to follow-up, newest first (personal data: care
    navigators only); one keyset page with the total."""
    return keyset_page(
        Disposition.objects.filter(consent_follow_up=True).select_related("call"),
        key=("recorded_at", "id"),
        kinds=(dt.datetime, int),
        descending=True,
        cursor=cursor,
        limit=limit,
    )


def summary() -> dict:
    """Aggregate counts for reports (no personal data)."""
    by_state = {r["state"]: r["n"] for r in Call.objects.values("state").annotate(n=Count("id"))}
    outcomes = {
        r["outcome"]: r["n"] for r in Disposition.objects.values("outcome").annotate(n=Count("id"))
    }
    return {"by_route": calls_by_route(), "by_state": by_state, "dispositions": outcomes}

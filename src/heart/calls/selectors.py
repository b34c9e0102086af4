"""Reads for calls."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from heart.apikit import DEFAULT_PAGE, Page, keyset_page
from heart.calls.models import Call, Disposition
from heart.domain.metrics import Period
from heart.errors import Invalid
from heart.program_in_force import current_program

BACKUP_SOURCE = "backup"  # teams.services.request_backup: a linked police request


def calls_by_route(calls: QuerySet[Call] | None = None) -> dict[str, int]:
    calls = Call.objects.all() if calls is None else calls
    return {row["route"]: row["n"] for row in calls.values("route").annotate(n=Count("id"))}


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


def report_period(
    *, month: str | None = None, first: dt.date | None = None, last: dt.date | None = None
) -> Period | None:
    """The period asked for (local days of the program's zone), None for all time."""
    zone = current_program().timezone
    if month:
        if first or last:
            raise Invalid("month: give either month or from/to, not both", path="month")
        try:
            return Period.parse_month(month, zone)
        except ValueError as exc:
            raise Invalid(f"month: {exc}", path="month") from None
    if first is None and last is None:
        return None
    if first is None or last is None:
        missing = "from" if first is None else "to"
        raise Invalid(
            f"{missing}: required with {'to' if missing == 'from' else 'from'}", path=missing
        )
    if last < first:
        raise Invalid("to: before from", path="to")
    return Period(first, last + dt.timedelta(days=1), zone)


def summary(*, period: Period | None = None) -> dict:
    """Aggregate counts for reports (no personal data). Police backup requests are
    counted apart from the calls (a team's request is not a new 911 call), with the
    call they came from; without a period, all time."""
    calls = Call.objects.exclude(source=BACKUP_SOURCE)
    backups = Call.objects.filter(source=BACKUP_SOURCE)
    if period is not None:
        start, end = period.start_utc, period.end_utc
        calls = calls.filter(received_at__gte=start, received_at__lt=end)
        backups = backups.filter(
            Q(parent__received_at__gte=start, parent__received_at__lt=end)
            | Q(parent__isnull=True, received_at__gte=start, received_at__lt=end)
        )
    by_state = {r["state"]: r["n"] for r in calls.values("state").annotate(n=Count("id"))}
    outcomes = {
        r["outcome"]: r["n"]
        for r in Disposition.objects.filter(call__in=calls)
        .values("outcome")
        .annotate(n=Count("id"))
    }
    return {
        "period": period.as_dict() if period else None,
        "calls_total": calls.count(),
        "by_route": calls_by_route(calls),
        "by_state": by_state,
        "dispositions": outcomes,
        "backup_requests": backups.count(),
    }

"""Reads for calls."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from heart.calls.models import Call


def calls_by_route() -> dict[str, int]:
    return {row["route"]: row["n"] for row in Call.objects.values("route").annotate(n=Count("id"))}


def recent_calls(limit: int = 50) -> QuerySet[Call]:
    return Call.objects.order_by("-received_at")[:limit]

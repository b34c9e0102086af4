"""What the call records give others: consented follow-up contacts, aggregate counts.

(Calls themselves arrive and are read through heart.intake.api, which owns the
``/calls`` paths; dispatching them is heart.teams.api.)
"""

from __future__ import annotations

import datetime as dt

from ninja import Query, Router, Schema

from heart.accounts.auth import require
from heart.apikit import DEFAULT_PAGE, MAX_PAGE, ErrorOut, PageOut
from heart.calls import selectors

router = Router()


class FollowUpOut(Schema):
    call_id: int
    outcome: str
    recorded_at: dt.datetime
    contact_name: str
    contact_phone: str
    contact_notes: str
    destination: str
    referred_to: str


class FollowUpPageOut(PageOut):
    items: list[FollowUpOut]


@router.get(
    "/follow-ups", response={200: FollowUpPageOut, 403: ErrorOut, 422: ErrorOut}, tags=["follow-up"]
)
def follow_ups(
    request,
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})"),
):
    """People who consented to follow-up, with their contact details (care navigators);
    newest first, a page with the total."""
    require(request, "follow_up")
    return selectors.follow_ups(cursor=cursor, limit=limit).out(
        lambda d: {
            "call_id": d.call_id,
            "outcome": d.outcome,
            "recorded_at": d.recorded_at,
            "contact_name": d.contact_name,
            "contact_phone": d.contact_phone,
            "contact_notes": d.contact_notes,
            "destination": d.destination,
            "referred_to": d.referred_to,
        }
    )


@router.get("/reports/summary", response={200: dict, 403: ErrorOut}, tags=["reports"])
def report_summary(request):
    """Counts by route, call state and disposition (no personal data)."""
    require(request, "view_reports")
    return selectors.summary()

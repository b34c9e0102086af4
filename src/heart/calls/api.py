"""What the call records give others: aggregate counts.

(Calls themselves arrive and are read through heart.intake.api, which owns the
``/calls`` paths; dispatching them is heart.teams.api; the consented follow-up contacts,
personal data read with an audit row, are heart.care.api's ``/follow-ups``.)
"""

from __future__ import annotations

from ninja import Router

from heart.accounts.auth import require
from heart.apikit import ErrorOut
from heart.calls import selectors

router = Router()


@router.get("/reports/summary", response={200: dict, 403: ErrorOut}, tags=["reports"])
def report_summary(request):
    """Counts by route, call state and disposition (no personal data)."""
    require(request, "view_reports")
    return selectors.summary()

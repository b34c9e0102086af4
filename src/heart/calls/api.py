"""What the call records give others: aggregate counts.

(Calls themselves arrive and are read through heart.intake.api, which owns the
``/calls`` paths; dispatching them is heart.teams.api; the consented follow-up contacts,
personal data read with an audit row, are heart.care.api's ``/follow-ups``.)
"""

from __future__ import annotations

import datetime as dt

from ninja import Field, Query, Router, Schema

from heart.accounts.auth import require
from heart.apikit import ErrorOut
from heart.calls import selectors

router = Router()


class PeriodIn(Schema):
    month: str | None = Field(None, description="YYYY-MM, local time (the program's zone)")
    first: dt.date | None = Field(None, alias="from", description="first day, local")
    last: dt.date | None = Field(None, alias="to", description="last day (included), local")


@router.get(
    "/reports/summary", response={200: dict, 403: ErrorOut, 422: ErrorOut}, tags=["reports"]
)
def report_summary(request, period: Query[PeriodIn]):
    """Counts by route, call state and disposition, and police backup requests counted
    apart (no personal data). Without a period: all time. With one: calls received in
    it, backups with the call they came from (docs/metrics.md)."""
    require(request, "view_reports")
    return selectors.summary(
        period=selectors.report_period(month=period.month, first=period.first, last=period.last)
    )

"""The staff reports page: the same figures as the monthly report, for any period, from
the live database, with the open-data CSVs. For analysts, supervisors and admins
(capability ``view_reports``). Exact figures by default; ``?public=1`` shows them as
they would be published (suppressed).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from heart.domain.metrics import Period, compute
from heart.domain.program import ROUTES
from heart.domain.public_summary import summary as publish
from heart.program_in_force import current_program
from heart.reports import config
from heart.reports.present import present
from heart.reports.selectors import live_data
from heart.reports.writer import write_open_data

reports_role = permission_required("accounts.view_reports", raise_exception=True)
MAX_DAYS = 366 * 3


def period_from(request: HttpRequest) -> tuple[Period, list[str]]:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (both days included) or ``?month=YYYY-MM``;
    default: this month so far. Problems are returned as messages naming the field."""
    program = current_program()
    zone = program.timezone
    today = timezone.now().astimezone(program.zone).date()
    problems: list[str] = []
    month = request.GET.get("month", "").strip()
    if month:
        try:
            return Period.parse_month(month, zone), problems
        except ValueError as exc:
            problems.append(f"month: {exc}")
    first, last = today.replace(day=1), today
    for key in ("from", "to"):
        text = request.GET.get(key, "").strip()
        if not text:
            continue
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            problems.append(f"{key}: {text[:20]!r} is not a date like 2024-03-31")
            continue
        if key == "from":
            first = value
        else:
            last = value
    if last < first:
        problems.append("to: the last day is before the first; showing the first day only")
        last = first
    if (last - first).days > MAX_DAYS:
        problems.append(f"to: at most {MAX_DAYS} days at once; the period was cut")
        last = first + dt.timedelta(days=MAX_DAYS)
    return Period(first, last + dt.timedelta(days=1), zone), problems


def _summary(request: HttpRequest, period: Period) -> tuple[dict, bool]:
    program = current_program()
    settings = config.settings_for_program()
    as_published = request.GET.get("public") == "1"
    data = live_data(
        period, program, area_by=config.area_by(), h3_resolution=config.h3_resolution()
    )
    figures = compute(data, period, settings)
    threshold = settings.suppression_threshold if as_published else 1
    return publish(
        figures, routes=list(ROUTES), threshold=threshold, program=program.name
    ), as_published


@login_required
@reports_role
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    period, problems = period_from(request)
    summary, as_published = _summary(request, period)
    csvs = [
        "summary",
        "calls_by_route",
        "calls_by_call_type_and_route",
        "calls_by_hour_of_week",
        "calls_by_area",
        "missed_by_cause",
        "dispositions",
        "response_times",
        "response_time_distribution",
        "backup_requests",
        "overrides",
        "crisis_line_outcomes",
    ]
    query = request.GET.copy()
    query.pop("public", None)
    return render(
        request,
        "reports/staff.html",
        {
            **present(summary),
            "period": period,
            "last_day": period.end - dt.timedelta(days=1),
            "problems": problems,
            "as_published": as_published,
            "csvs": csvs,
            "query": query.urlencode(),
            "threshold": config.settings_for_program().suppression_threshold,
            "charts": {},
        },
        status=422 if problems else 200,
    )


@login_required
@reports_role
@require_GET
def csv_file(request: HttpRequest, name: str) -> HttpResponse:
    period, problems = period_from(request)
    if problems:
        return HttpResponse("\n".join(problems), status=422, content_type="text/plain")
    summary, _published = _summary(request, period)
    with tempfile.TemporaryDirectory() as tmp:
        written = {p.stem: p for p in write_open_data(summary, Path(tmp))}
        if name not in written:
            raise Http404("no such table")
        body = written[name].read_text(encoding="utf-8")
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}_{period.label}.csv"'
    return response

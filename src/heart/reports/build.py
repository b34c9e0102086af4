"""A report from records: the month, each month of the year so far and the year to date,
each computed by heart.domain.metrics and made publishable by
heart.domain.public_summary. No Django here: the CLI, the staff page and the benchmark
call the same function with records from the database or from a planning store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from heart.domain.metrics import (
    Estimate,
    Figures,
    Period,
    ReportData,
    ReportSettings,
    calls_frame,
    compute,
)
from heart.domain.program import ROUTES, Program
from heart.domain.public_summary import summary as publish
from heart.domain.public_summary import year_to_date

SETTING_KEYS = {
    "suppression_threshold": "counts from 1 to this minus one are hidden (default 10)",
    "police_minutes_per_call": "estimated police unit minutes per call a team answers",
    "police_minutes_source": "where that estimate comes from (printed with it)",
    "ems_minutes_per_call": "estimated EMS unit minutes per call a team answers",
    "ems_minutes_source": "where that estimate comes from",
    "annual_budget": "the program's annual budget (cost per team response)",
    "budget_source": "where the budget figure comes from",
    "currency": "ISO currency code of the budget (default USD)",
    "max_interval_minutes": "longer intervals are data-entry slips (default 1440)",
    "h3_resolution": "H3 resolution of the map cells (default 8)",
    "area_by": "areas in tables and map: h3 (default) or beat",
    "published_dir": "folder of published monthly reports (the public archive)",
    "beat_layer": "GeoJSON of beat polygons (for a map by beat)",
    "beat_id_property": "the beat id property of that layer (default CAD)",
}


class SettingsError(ValueError):
    """A report setting is wrong; the message names the key."""


def report_settings(program: Program, values: Mapping | None = None) -> ReportSettings:
    """ReportSettings for a program from plain settings (HEART_REPORTS or CLI options)."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(SETTING_KEYS))
    if unknown:
        raise SettingsError(
            f"HEART_REPORTS: unknown key(s) {unknown} (known: {sorted(SETTING_KEYS)})"
        )

    def number(key: str, *, positive: bool = True) -> float | None:
        value = values.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{key}: {value!r} is not a number")
        if positive and value <= 0:
            raise SettingsError(f"{key}: must be greater than 0")
        return float(value)

    threshold = values.get("suppression_threshold", 10)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise SettingsError("suppression_threshold: must be a whole number of at least 1")
    team_unit = program.team_unit or "crt"
    team_route = program.team_route or "crt"
    return ReportSettings(
        team_unit=team_unit,
        team_routes=frozenset({team_route}),
        suppression_threshold=threshold,
        police_minutes_per_call=Estimate(
            number("police_minutes_per_call"), str(values.get("police_minutes_source") or "")
        ),
        ems_minutes_per_call=Estimate(
            number("ems_minutes_per_call"), str(values.get("ems_minutes_source") or "")
        ),
        annual_budget=Estimate(number("annual_budget"), str(values.get("budget_source") or "")),
        currency=str(values.get("currency") or "USD"),
        max_interval_minutes=number("max_interval_minutes") or 24 * 60,
    )


@dataclass
class Report:
    program: str
    month: Period
    ytd: Period
    figures: Figures  # the month's exact figures (never published as such)
    summary: dict  # the month, publishable
    months: list[dict]  # each month of the year so far, publishable
    ytd_summary: dict  # the year to date, publishable
    settings: ReportSettings
    generated_at: dt.datetime

    def as_ytd_document(self) -> dict:
        return {
            "program": self.program,
            "period": self.ytd.as_dict(),
            "months": [{"period": m["period"]["label"], **_trend_row(m)} for m in self.months],
            "year_to_date": self.ytd_summary,
        }


TREND_FIELDS = (
    "calls_total",
    "eligible",
    "reached",
    "team_responses",
    "response_p50",
    "backup_requests",
    "police_hours_saved",
)


def _trend_row(m: dict) -> dict:
    return {
        "calls_total": m["calls_total"],
        "eligible": m["eligible"],
        "reached": m["reached"],
        "team_responses": m["team_responses"],
        "response_p50": m["response_minutes"]["p50"],
        "backup_requests": m["backup_requests"]["count"],
        "police_hours_saved": m["police_hours_saved"]["hours"],
    }


def build_report(
    read: Callable[[Period], ReportData],
    month: Period,
    *,
    program: Program,
    settings: ReportSettings,
    with_ytd: bool = True,
    now: dt.datetime | None = None,
) -> Report:
    """The month's report. ``read(period)`` returns the records of calls received in that
    period (the adapters: heart.reports.selectors.live_data, store_source.store_data)."""
    ytd = Period.year_to_date(month) if with_ytd else month
    data = read(ytd)
    # the calls as columns once; each month and the year filter them (heart.domain.metrics)
    data = replace(data, calls=calls_frame(data.calls))

    routes = list(ROUTES)
    threshold = settings.suppression_threshold
    monthly = [compute(data, m, settings) for m in ytd.months()]
    figures = monthly[-1]
    if with_ytd and len(monthly) > 1:
        ytd_figures = compute(data, ytd, settings)
        month_summaries, ytd_summary = year_to_date(
            monthly, ytd_figures, routes=routes, threshold=threshold, program=program.name
        )
    else:
        month_summaries = [
            publish(figures, routes=routes, threshold=threshold, program=program.name)
        ]
        ytd_summary = month_summaries[-1]
    return Report(
        program=program.name,
        month=month,
        ytd=ytd,
        figures=figures,
        summary=month_summaries[-1],
        months=month_summaries,
        ytd_summary=ytd_summary,
        settings=settings,
        generated_at=now or dt.datetime.now(dt.UTC),
    )

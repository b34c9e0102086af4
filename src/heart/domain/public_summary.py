"""Figures -> what may be published: the summary (summary.json) and the open-data
tables (data/*.csv), with small-cell and complementary suppression applied. Pure.

A suppressed count is ``None`` (JSON null, an empty CSV cell with the note
"suppressed") and its name is listed in ``suppressed_cells``. A figure computed from a
hidden count (a share, hours saved, cost per response, calls per team-hour) is hidden
with it; a time figure (mean, median, 90th percentile) is hidden when it rests on fewer
than ``threshold`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from heart.domain.disclosure import System, link_periods, protect
from heart.domain.metrics import (
    CRISIS_LINE_OUTCOMES,
    DISPOSITIONS,
    MISSED_CAUSES,
    WEEKDAYS,
    Figures,
    TimeStats,
    response_bins,
)

SEP = "|"  # inside variable names: call type | route (call types never hold it)


def _keys(*parts: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for part in parts:
        for key in part:
            seen.setdefault(key, None)
    return list(seen)


def build_system(f: Figures, routes: Sequence[str]) -> System:
    """Every published count of a period as a variable, with the sums that tie them."""
    s = System()
    s.add("calls_total", f.calls_total)
    route_keys = _keys(routes, sorted(f.by_route))
    types = sorted(f.by_call_type)
    for r in route_keys:
        s.add(f"by_route.{r}", f.by_route.get(r, 0))
    for t in types:
        s.add(f"by_call_type.{t}", f.by_call_type[t])
        for r in route_keys:
            s.add(f"by_call_type_route.{t}{SEP}{r}", f.by_call_type_route.get((t, r), 0))
    s.add_sum("calls_total", [f"by_route.{r}" for r in route_keys])
    s.add_sum("calls_total", [f"by_call_type.{t}" for t in types])
    for r in route_keys:
        s.add_sum(f"by_route.{r}", [f"by_call_type_route.{t}{SEP}{r}" for t in types])
    for t in types:
        s.add_sum(f"by_call_type.{t}", [f"by_call_type_route.{t}{SEP}{r}" for r in route_keys])
    cells = []
    for d in range(7):
        for h in range(24):
            cells.append(
                s.add(f"hour_of_week.{WEEKDAYS[d]}.{h:02d}", f.hour_of_week.get((d, h), 0))
            )
    s.add_sum("calls_total", cells)
    areas = sorted(f.by_area)
    for a in areas:
        s.add(f"by_area.{a}", f.by_area[a])
    if areas:
        s.add_sum("calls_total", [f"by_area.{a}" for a in areas])

    s.add("eligible", f.eligible)
    s.add("reached", f.reached)
    for c in MISSED_CAUSES:
        s.add(f"missed_by_cause.{c}", f.missed_by_cause.get(c, 0))
    s.add_sum("eligible", ["reached", *(f"missed_by_cause.{c}" for c in MISSED_CAUSES)])

    s.add("team_responses", f.team_responses)
    outcomes = _keys(DISPOSITIONS, sorted(f.dispositions))
    for o in outcomes:
        s.add(f"dispositions.{o}", f.dispositions.get(o, 0))
    s.add_sum("team_responses", [f"dispositions.{o}" for o in outcomes])

    s.add("backup_requests.count", f.backup_requests)
    for c in sorted(f.backup_by_cause):
        s.add(f"backup_requests.by_cause.{c}", f.backup_by_cause[c])
    for t in sorted(f.backup_by_call_type):
        s.add(f"backup_requests.by_call_type.{t}", f.backup_by_call_type[t])
    if f.backup_requests:
        s.add_sum(
            "backup_requests.count",
            [f"backup_requests.by_cause.{c}" for c in sorted(f.backup_by_cause)],
        )
        s.add_sum(
            "backup_requests.count",
            [f"backup_requests.by_call_type.{t}" for t in sorted(f.backup_by_call_type)],
        )

    s.add("overrides.count", f.overrides)
    for r in sorted(f.overrides_by_route):
        s.add(f"overrides.by_route.{r}", f.overrides_by_route[r])
    if f.overrides:
        s.add_sum(
            "overrides.count", [f"overrides.by_route.{r}" for r in sorted(f.overrides_by_route)]
        )

    crisis_keys = _keys(CRISIS_LINE_OUTCOMES, sorted(f.crisis_line))
    s.add("crisis_line.total", sum(f.crisis_line.values()))
    for o in crisis_keys:
        s.add(f"crisis_line.outcomes.{o}", f.crisis_line.get(o, 0))
    s.add_sum("crisis_line.total", [f"crisis_line.outcomes.{o}" for o in crisis_keys])

    for name, stats in _times(f).items():
        s.add(f"{name}.n", stats.n)
    bins = response_bins()
    for b in bins:
        s.add(f"response_distribution.{b}", f.response_histogram.get(b, 0))
    s.add_sum("response_minutes.n", [f"response_distribution.{b}" for b in bins])
    if f.follow_ups_due is not None:
        s.add("follow_ups.due", f.follow_ups_due)
        s.add("follow_ups.within_48h", f.follow_ups_within or 0)
    if f.referrals_made is not None:
        s.add("referrals.made", f.referrals_made)
        s.add("referrals.completed", f.referrals_completed or 0)
    if f.repeat is not None:
        s.add("repeat_calls.people", f.repeat["people"])
        s.add("repeat_calls.complete", f.repeat["complete"])
    return s


def _times(f: Figures) -> dict[str, TimeStats]:
    return {
        "response_minutes": f.response_minutes,
        "dispatch_minutes": f.dispatch_minutes,
        "on_scene_minutes": f.on_scene_minutes,
    }


HEADLINE = ("calls_total", "eligible", "team_responses")


def suppress(
    f: Figures, routes: Sequence[str], threshold: int, forced: Iterable[str] = ()
) -> tuple[System, set[str]]:
    system = build_system(f, routes)
    return system, protect(system, threshold, forced=forced, prefer_last=HEADLINE)


def summary(
    f: Figures,
    *,
    routes: Sequence[str],
    threshold: int,
    forced: Iterable[str] = (),
    program: str = "",
) -> dict:
    """The publishable summary of a period (JSON-ready: no NaN, no infinity)."""
    system, hidden = suppress(f, routes, threshold, forced)
    return render_summary(f, system, hidden, threshold=threshold, program=program)


def render_summary(
    f: Figures, system: System, hidden: set[str], *, threshold: int, program: str = ""
) -> dict:
    def v(name: str) -> int | None:
        if name not in system.values or name in hidden:
            return None
        return system.values[name]

    def shown(*names: str) -> bool:
        return all(v(n) is not None for n in names)

    route_keys = sorted(
        (n.split(".", 1)[1] for n in system.values if n.startswith("by_route.")),
        key=lambda r: (r not in f.by_route, r),
    )
    types = sorted(f.by_call_type)
    team_ok = shown("team_responses")

    def times(name: str, stats: TimeStats) -> dict:
        if not shown(f"{name}.n"):
            return {"mean": None, "p50": None, "p90": None, "n": None}
        if stats.n < threshold:  # zero calls: nothing to hide, nothing to show
            return {"mean": None, "p50": None, "p90": None, "n": stats.n}
        return stats.as_dict()

    def saved(minutes, agency: str) -> dict:
        hours = f.unit_hours_saved(minutes) if team_ok else None
        return {
            "hours": hours,
            "estimate": True,
            "team_calls": v("team_responses"),
            "minutes_per_call": minutes.value,
            "source": minutes.source,
            "assumption": (
                f"Each call a team answered would otherwise have taken {agency} "
                f"{_num(minutes.value)} minutes of unit time ({minutes.source or 'source not stated'})."
                if minutes.value is not None
                else f"Not estimated: no {agency} time per call is configured."
            ),
        }

    how = [[v(f"hour_of_week.{WEEKDAYS[d]}.{h:02d}") for h in range(24)] for d in range(7)]
    out = {
        "program": program,
        "period": f.period.as_dict(),
        "basis": f.basis,
        "source": f.source,
        "calls_total": v("calls_total"),
        "by_route": {r: v(f"by_route.{r}") for r in route_keys},
        "by_call_type": {t: v(f"by_call_type.{t}") for t in types},
        "eligible": v("eligible"),
        "reached": v("reached"),
        "reached_share": f.reached_share if shown("reached", "eligible") else None,
        "missed_by_cause": {c: v(f"missed_by_cause.{c}") for c in MISSED_CAUSES},
        "team_responses": v("team_responses"),
        "response_minutes": times("response_minutes", f.response_minutes),
        "response_distribution": {b: v(f"response_distribution.{b}") for b in response_bins()},
        "dispatch_minutes": times("dispatch_minutes", f.dispatch_minutes),
        "on_scene_minutes": times("on_scene_minutes", f.on_scene_minutes),
        "dispositions": {
            o.split(".", 1)[1]: v(o) for o in system.values if o.startswith("dispositions.")
        },
        "backup_requests": {
            "count": v("backup_requests.count"),
            "share_of_team_calls": (
                f.backup_share if shown("backup_requests.count", "team_responses") else None
            ),
            "by_cause": _group(system, hidden, "backup_requests.by_cause."),
            "by_call_type": _group(system, hidden, "backup_requests.by_call_type."),
        },
        "overrides": {
            "count": v("overrides.count"),
            "by_route": _group(system, hidden, "overrides.by_route."),
        },
        "crisis_line": {
            "total": v("crisis_line.total"),
            "outcomes": _group(system, hidden, "crisis_line.outcomes."),
        },
        "follow_ups": {
            "available": f.follow_ups_due is not None,
            "due": v("follow_ups.due"),
            "within_48h": v("follow_ups.within_48h"),
            "share": (
                f.follow_ups_share if shown("follow_ups.due", "follow_ups.within_48h") else None
            ),
            "hours": f.follow_up_hours,
        },
        "referrals": {
            "available": f.referrals_made is not None,
            "made": v("referrals.made"),
            "completed": v("referrals.completed"),
        },
        "repeat_calls": _repeat(f, v),
        "staffing": {
            "available": f.team_hours is not None,
            "team_hours": f.team_hours,
            "calls_per_team_hour": f.calls_per_team_hour if team_ok else None,
        },
        "cost": {
            "budget_for_period": f.budget_for_period,
            "per_team_response": f.cost_per_team_response if team_ok else None,
            "currency": f.currency,
            "source": f.budget_source,
        },
        "police_hours_saved": saved(f.police_minutes, "police"),
        "ems_hours_saved": saved(f.ems_minutes, "EMS"),
        "hour_of_week": {"weekdays": list(WEEKDAYS), "hours": list(range(24)), "calls": how},
        "by_area": {a: v(f"by_area.{a}") for a in sorted(f.by_area)},
        "suppressed_cells": sorted(hidden & set(system.values)),
        "privacy": {
            "threshold": threshold,
            "rule": (
                f"Counts from 1 to {threshold - 1} are not shown, and neither are other "
                "counts that would let them be worked out from totals."
            ),
        },
        "rules_versions": dict(sorted(f.rules_versions.items())),
        "notes": list(f.notes),
    }
    # the cross-table of call types by route, for the open data
    out["by_call_type_route"] = [
        {"call_type": t, "route": r, "calls": v(f"by_call_type_route.{t}{SEP}{r}")}
        for t in types
        for r in route_keys
        if f.by_call_type_route.get((t, r), 0) or f"by_call_type_route.{t}{SEP}{r}" in hidden
    ]
    return clean(out)


def _group(system: System, hidden: set[str], prefix: str) -> dict:
    return {
        n[len(prefix) :]: (None if n in hidden else system.values[n])
        for n in sorted(system.values)
        if n.startswith(prefix)
    }


def _repeat(f: Figures, v) -> dict | None:
    if f.repeat is None:
        return None
    people, complete = v("repeat_calls.people"), v("repeat_calls.complete")
    r = f.repeat
    return {
        "window_days": f.repeat_window_days,
        "people": people,
        "complete": complete,
        "mean_calls_before": r["mean_before"] if people else None,
        "mean_calls_before_complete": r["mean_before_complete"] if complete else None,
        "mean_calls_after": r["mean_after"] if complete else None,
    }


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:g}"


def clean(value):
    """JSON-safe: NaN and infinities become null (they are never valid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [clean(x) for x in value]
    return value


def year_to_date(
    months: Sequence[Figures],
    ytd: Figures,
    *,
    routes: Sequence[str],
    threshold: int,
    program: str = "",
) -> tuple[list[dict], dict]:
    """Each month's summary and the year-to-date summary, with a year figure hidden when
    exactly one month hides it (else the year minus the shown months gives it back)."""
    month_summaries = []
    month_hidden = []
    for m in months:
        system, hidden = suppress(m, routes, threshold)
        month_hidden.append(hidden)
        month_summaries.append(
            render_summary(m, system, hidden, threshold=threshold, program=program)
        )
    forced: set[str] = set()
    for _ in range(10):
        system, hidden = suppress(ytd, routes, threshold, forced)
        more = link_periods(system.values, hidden, month_hidden)
        if more <= forced:
            break
        forced |= more
    return month_summaries, render_summary(
        ytd, system, hidden, threshold=threshold, program=program
    )

"""The program's public measures, pure (no Django, no I/O): one home for every figure a
monthly report, the year-to-date view, the public dashboard and the staff reports page
show. docs/metrics.md defines each one for the public; change both together.

Two adapters feed these functions the same plain records: the live database
(heart.reports.selectors) and a city's imported CAD export (heart.reports.store_source).

Time basis (the one rule for every measure): a call belongs to the period in which it
was *received*, in the program's local time. Everything that happens to that call
afterwards (dispatch, arrival, disposition, backup, override, follow-up) is counted with
it, even when it happens after the period ends: a call received at 23:50 on 31 January
and reached at 00:20 on 1 February is a January call with a 30-minute response. Local
months and weeks come from the program's time zone, so months start at local midnight
whatever the UTC offset, and intervals are elapsed time (UTC arithmetic), so a response
across a daylight-saving change is its true length. Referrals and first contacts are
about people, not calls: they count when they were made.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import polars as pl

UTC = dt.UTC

# the reason codes (heart.domain.triage) that exclude a call of an eligible type
EXCLUDING_CODES = frozenset(
    {"weapon_flag", "weapon_in_narrative", "violence_flag", "violence_in_narrative"}
)
# why an eligible call was not reached by a team, in the order they are checked
MISSED_CAUSES = (
    "override",  # a dispatcher overrode the route (dispatch.override)
    "no_team_free",  # in hours and area, but every team was busy or off shift
    "out_of_hours",  # the team unit was closed (hours, holiday, before start, after end)
    "out_of_area",  # outside the team unit's service area
    "location_unknown",  # no usable location to place the call in the area
    "not_reached",  # routed to a team that did not arrive (cancelled, still open)
)
_CAUSE_OF_STATUS = {
    "unavailable": "no_team_free",
    "closed_hours": "out_of_hours",
    "holiday": "out_of_hours",
    "not_started": "out_of_hours",
    "ended": "out_of_hours",
    "outside_area": "out_of_area",
    "location_unknown": "location_unknown",
}
DISPOSITIONS = (
    "resolved_on_scene",
    "transported",
    "referred",
    "refused",
    "unable_to_locate",
    "police_took_over",
    "other",
    "not_recorded",
)
CRISIS_LINE_OUTCOMES = ("resolved_by_phone", "send_team", "hand_back")
# response-time distribution: minutes from the call to the team's arrival
RESPONSE_BINS = (0, 5, 10, 15, 20, 30, 45, 60, 90, 120)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BASES = ("live", "responses", "cad")


# ------------------------------------------------------------------ periods


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates [first, end) in a time zone: a month, a year to date, any range."""

    first: dt.date
    end: dt.date  # exclusive
    timezone: str

    def __post_init__(self) -> None:
        if self.end <= self.first:
            raise ValueError(f"period: {self.first} .. {self.end} is empty")

    @classmethod
    def month(cls, year: int, month: int, timezone: str) -> Period:
        first = dt.date(year, month, 1)
        end = dt.date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, end, timezone)

    @classmethod
    def parse_month(cls, text: str, timezone: str) -> Period:
        """'2024-03' -> March 2024 (ValueError naming the value otherwise)."""
        try:
            year, month = (int(x) for x in text.split("-"))
            return cls.month(year, month, timezone)
        except ValueError:
            raise ValueError(f"month {text!r} is not YYYY-MM like 2024-03") from None

    @classmethod
    def year_to_date(cls, month: Period) -> Period:
        """1 January of the month's year up to the month's end."""
        return cls(dt.date(month.first.year, 1, 1), month.end, month.timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start_utc(self) -> dt.datetime:
        return _local_midnight(self.first, self.zone)

    @property
    def end_utc(self) -> dt.datetime:
        return _local_midnight(self.end, self.zone)

    def contains(self, instant: dt.datetime) -> bool:
        return self.start_utc <= instant < self.end_utc

    @property
    def days(self) -> int:
        return (self.end - self.first).days

    @property
    def hours(self) -> float:
        """Elapsed hours (a month with a DST change has one hour more or less)."""
        return (self.end_utc - self.start_utc).total_seconds() / 3600

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        if self.first.day == 1 and last.month == self.first.month and self.end.day == 1:
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()}..{last.isoformat()}"

    def months(self) -> list[Period]:
        """The calendar months the period touches, each clipped to the period."""
        out = []
        cursor = self.first
        while cursor < self.end:
            m = Period.month(cursor.year, cursor.month, self.timezone)
            out.append(Period(max(m.first, self.first), min(m.end, self.end), self.timezone))
            cursor = m.end
        return out

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "first_day": self.first.isoformat(),
            "last_day": (self.end - dt.timedelta(days=1)).isoformat(),
            "timezone": self.timezone,
            "start_utc": self.start_utc.isoformat(),
            "end_utc": self.end_utc.isoformat(),
        }


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(UTC)


# ------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One 911 call (never a backup request: those are :class:`BackupRecord`).

    ``area`` is a beat or an H3 cell id, never a point; the adapters drop addresses,
    names and narratives before a record exists.
    """

    call_id: str
    received_at: dt.datetime
    call_type: str
    route: str
    reason_codes: tuple[str, ...] = ()
    team_sent: bool = False  # a team was dispatched
    reached: bool = False  # a team arrived (on-scene time or a team disposition)
    dispatched_at: dt.datetime | None = None
    on_scene_at: dt.datetime | None = None
    cleared_at: dt.datetime | None = None
    disposition: str | None = None  # a key of DISPOSITIONS (None: no team disposition)
    crisis_line_outcome: str | None = None
    area: str | None = None
    rules_version: str = ""
    eligible: bool | None = None  # None: judge from reason_codes


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """A police backup request made by a team on a call (counted with that call)."""

    parent_id: str
    parent_received_at: dt.datetime
    parent_call_type: str
    cause: str = "not_recorded"


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """A dispatcher's route override (event ``dispatch.override``) on a call."""

    call_id: str
    call_received_at: dt.datetime
    route: str
    team_sent: bool  # the override sent a team (team_id in the payload)


@dataclass(frozen=True, slots=True)
class ShiftRecord:
    team: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    staffed: bool  # its members cover the team unit's disciplines


@dataclass(frozen=True, slots=True)
class FollowUpRecord:
    call_received_at: dt.datetime
    due_at: dt.datetime
    first_attempt_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ReferralRecord:
    created_at: dt.datetime
    status: str


@dataclass(frozen=True, slots=True)
class FirstContactRecord:
    """A person's first contact with the program and their 911 calls around it."""

    first_at: dt.datetime
    calls_before: int  # in the window before the first contact
    calls_after: int  # in the window after it
    complete: bool  # the after-window has elapsed


@dataclass(frozen=True)
class ReportData:
    """Everything the measures read, already without personal data."""

    basis: str  # live | responses (a team's own records) | cad (a CAD export, replayed)
    calls: Sequence[CallRecord] | pl.DataFrame  # records, or columns as calls_frame()
    backups: Sequence[BackupRecord] = ()
    overrides: Sequence[OverrideRecord] = ()
    shifts: Sequence[ShiftRecord] | None = None  # None: staffing unknown for this source
    follow_ups: Sequence[FollowUpRecord] | None = None
    referrals: Sequence[ReferralRecord] | None = None
    first_contacts: Sequence[FirstContactRecord] | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    # when the data was read: follow-ups still inside their window are not counted yet
    as_of: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Estimate:
    """A configured figure with the sentence that says where it comes from."""

    value: float | None
    source: str = ""


@dataclass(frozen=True)
class ReportSettings:
    """Program / report settings (Django: settings.HEART_REPORTS; CLI: options)."""

    team_unit: str = "crt"
    team_routes: frozenset[str] = frozenset({"crt"})
    suppression_threshold: int = 10
    police_minutes_per_call: Estimate = field(default_factory=lambda: Estimate(None))
    ems_minutes_per_call: Estimate = field(default_factory=lambda: Estimate(None))
    annual_budget: Estimate = field(default_factory=lambda: Estimate(None))
    currency: str = "USD"
    follow_up_hours: float = 48.0
    repeat_window_days: int = 90
    max_interval_minutes: float = 24 * 60


# ------------------------------------------------------------------ time figures


@dataclass(frozen=True, slots=True)
class TimeStats:
    mean: float | None
    p50: float | None
    p90: float | None
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "p50": self.p50, "p90": self.p90, "n": self.n}


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC):
    position (n - 1) * q in the sorted values. The median of an even count is the mean of
    the two middle values."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("quantile of no values")
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def time_stats(minutes: Iterable[float], *, digits: int = 2) -> TimeStats:
    values = sorted(minutes)
    if not values:
        return TimeStats(None, None, None, 0)
    return TimeStats(
        round(math.fsum(values) / len(values), digits),
        round(quantile(values, 0.5), digits),
        round(quantile(values, 0.9), digits),
        len(values),
    )


def elapsed_minutes(
    start: dt.datetime | None, end: dt.datetime | None, *, limit: float
) -> float | None:
    """Elapsed minutes between two instants; None when either is missing or the interval
    is negative or longer than ``limit`` (a data-entry slip, not a real interval)."""
    if start is None or end is None:
        return None
    # in UTC: Python subtracts two times of the same zone on the wall clock, which is
    # an hour off across a daylight-saving change
    minutes = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60.0
    if minutes < 0 or minutes > limit:
        return None
    return minutes


# ------------------------------------------------------------------ per-call rules


def is_eligible(call: CallRecord) -> bool:
    """A call type the program takes, with no weapon or violence excluding it."""
    if call.eligible is not None:
        return call.eligible
    codes = call.reason_codes
    return "nature_eligible" in codes and not EXCLUDING_CODES.intersection(codes)


def missed_cause(call: CallRecord, *, team_unit: str, overridden: bool) -> str:
    """Why an eligible call was not reached by a team (one of MISSED_CAUSES).

    The route's reasons (heart.domain.triage, the intake fallback) name the team unit's
    status: ``crt_closed_hours``, ``crt_outside_area``, ``crt_unavailable`` … An override
    outranks them: the rules would have sent a team but a dispatcher decided otherwise."""
    if overridden:
        return "override"
    prefix = f"{team_unit}_"
    found = [
        _CAUSE_OF_STATUS[code[len(prefix) :]]
        for code in call.reason_codes
        if code.startswith(prefix) and code[len(prefix) :] in _CAUSE_OF_STATUS
    ]
    if not found:
        return "not_reached"
    # the last word wins: a fallback for "no team free" comes after the first triage
    return found[-1]


def response_bin(minutes: float) -> str:
    """The distribution bin of a response time: '0-5', '5-10', … '120+' ([lo, hi))."""
    label = f"{RESPONSE_BINS[-1]}+"
    for lo, hi in zip(RESPONSE_BINS, RESPONSE_BINS[1:], strict=False):
        if lo <= minutes < hi:
            return f"{lo}-{hi}"
    return label


def response_bins() -> list[str]:
    return [f"{lo}-{hi}" for lo, hi in zip(RESPONSE_BINS, RESPONSE_BINS[1:], strict=False)] + [
        f"{RESPONSE_BINS[-1]}+"
    ]


def local_hour_of_week(instant: dt.datetime, zone: ZoneInfo) -> tuple[int, int]:
    """(weekday 0=Monday, hour 0-23) on the local clock. On the autumn DST change the
    repeated 01:00 hour counts twice into hour 1; on the spring change hour 2 is empty."""
    local = instant.astimezone(zone)
    return local.weekday(), local.hour


# ------------------------------------------------------------------ the figures


@dataclass
class Figures:
    """Exact figures for a period (before small-cell suppression; see disclosure.py)."""

    period: Period
    basis: str
    calls_total: int
    by_route: dict[str, int]
    by_call_type: dict[str, int]
    by_call_type_route: dict[tuple[str, str], int]
    eligible: int
    reached: int  # eligible calls a team reached
    missed_by_cause: dict[str, int]
    team_responses: int  # calls a team reached (eligible or not)
    response_minutes: TimeStats
    response_histogram: dict[str, int]
    dispatch_minutes: TimeStats
    on_scene_minutes: TimeStats
    dispositions: dict[str, int]
    backup_requests: int
    backup_by_cause: dict[str, int]
    backup_by_call_type: dict[str, int]
    overrides: int
    overrides_by_route: dict[str, int]
    crisis_line: dict[str, int]
    follow_ups_due: int | None
    follow_ups_within: int | None
    referrals_made: int | None
    referrals_completed: int | None
    repeat: dict | None
    hour_of_week: dict[tuple[int, int], int]
    by_area: dict[str, int]
    team_hours: float | None
    police_minutes: Estimate
    ems_minutes: Estimate
    budget_for_period: float | None
    budget_source: str
    currency: str
    rules_versions: dict[str, int]
    follow_up_hours: float
    repeat_window_days: int
    source: str = ""
    notes: tuple[str, ...] = ()

    # derived figures: one definition each ------------------------------------------

    @property
    def reached_share(self) -> float | None:
        return _share(self.reached, self.eligible)

    @property
    def backup_share(self) -> float | None:
        return _share(self.backup_requests, self.team_responses)

    @property
    def calls_per_team_hour(self) -> float | None:
        if not self.team_hours:
            return None
        return round(self.team_responses / self.team_hours, 4)

    @property
    def cost_per_team_response(self) -> float | None:
        if self.budget_for_period is None or not self.team_responses:
            return None
        return round(self.budget_for_period / self.team_responses, 2)

    def unit_hours_saved(self, minutes: Estimate) -> float | None:
        """Team responses x an estimated police (or EMS) time per call, in hours."""
        if minutes.value is None:
            return None
        return round(self.team_responses * minutes.value / 60.0, 1)

    @property
    def follow_ups_share(self) -> float | None:
        if self.follow_ups_due is None or self.follow_ups_within is None:
            return None
        return _share(self.follow_ups_within, self.follow_ups_due)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def period_budget(annual: Estimate, period: Period) -> float | None:
    """The annual budget spread evenly over the days of the year (a 31-day month of a
    365-day year gets 31/365 of it)."""
    if annual.value is None:
        return None
    total = 0.0
    for m in period.months():
        year_days = 366 if _leap(m.first.year) else 365
        total += annual.value * m.days / year_days
    return round(total, 2)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def staffed_team_hours(shifts: Iterable[ShiftRecord], period: Period) -> float:
    """Elapsed hours of staffed shifts inside the period (a shift across midnight at the
    month's end counts its hours on each side in each month)."""
    start, end = period.start_utc, period.end_utc
    seconds = 0.0
    for s in shifts:
        if not s.staffed:
            continue
        lo, hi = max(s.starts_at.astimezone(UTC), start), min(s.ends_at.astimezone(UTC), end)
        if hi > lo:
            seconds += (hi - lo).total_seconds()
    return round(seconds / 3600, 2)


# ------------------------------------------------------------------ calls as columns

_TIME = pl.Datetime("us", "UTC")
CALL_SCHEMA = {
    "call_id": pl.String,
    "received_at": _TIME,
    "call_type": pl.String,
    "route": pl.String,
    "reason_codes": pl.List(pl.String),
    "team_sent": pl.Boolean,
    "reached": pl.Boolean,
    "dispatched_at": _TIME,
    "on_scene_at": _TIME,
    "cleared_at": _TIME,
    "disposition": pl.String,
    "crisis_line_outcome": pl.String,
    "area": pl.String,
    "rules_version": pl.String,
    "eligible": pl.Boolean,
}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(UTC)


def calls_frame(calls: Sequence[CallRecord] | pl.DataFrame) -> pl.DataFrame:
    """The calls as columns (CALL_SCHEMA): the records themselves, or a frame an adapter
    built with the same columns (a million calls never become a million objects)."""
    if isinstance(calls, pl.DataFrame):
        missing = [c for c in CALL_SCHEMA if c not in calls.columns]
        if missing:
            raise ValueError(f"calls frame: missing columns {missing}")
        return calls.select([pl.col(c).cast(t) for c, t in CALL_SCHEMA.items()])
    columns: dict[str, list] = {name: [] for name in CALL_SCHEMA}
    for c in calls:
        columns["call_id"].append(c.call_id)
        columns["received_at"].append(_utc(c.received_at))
        columns["call_type"].append(c.call_type)
        columns["route"].append(c.route)
        columns["reason_codes"].append(list(c.reason_codes))
        columns["team_sent"].append(c.team_sent)
        columns["reached"].append(c.reached)
        columns["dispatched_at"].append(_utc(c.dispatched_at))
        columns["on_scene_at"].append(_utc(c.on_scene_at))
        columns["cleared_at"].append(_utc(c.cleared_at))
        columns["disposition"].append(c.disposition)
        columns["crisis_line_outcome"].append(c.crisis_line_outcome)
        columns["area"].append(c.area)
        columns["rules_version"].append(c.rules_version)
        columns["eligible"].append(c.eligible)
    return pl.DataFrame(columns, schema=CALL_SCHEMA)


def _eligible_expr() -> pl.Expr:
    """is_eligible() on columns: the stated flag, else the reason codes."""
    codes = pl.col("reason_codes")
    judged = codes.list.contains("nature_eligible") & ~pl.any_horizontal(
        [codes.list.contains(c) for c in sorted(EXCLUDING_CODES)]
    )
    return pl.coalesce(pl.col("eligible"), judged.fill_null(False))


def _missed_expr(team_unit: str, overridden: set[str]) -> pl.Expr:
    """missed_cause() on columns: an override first, else the last code naming the team
    unit's status, else 'not_reached'."""
    causes = {f"{team_unit}_{status}": cause for status, cause in _CAUSE_OF_STATUS.items()}
    last = (
        pl.col("reason_codes")
        .list.eval(pl.element().replace_strict(causes, default=None, return_dtype=pl.String))
        .list.drop_nulls()
        .list.last()
    )
    return (
        pl.when(pl.col("call_id").is_in(list(overridden)))
        .then(pl.lit("override"))
        .otherwise(last.fill_null("not_reached"))
    )


def _minutes_expr(start: str, end: str, limit: float) -> pl.Expr:
    """elapsed_minutes() on columns."""
    m = (pl.col(end) - pl.col(start)).dt.total_seconds(fractional=True) / 60.0
    return pl.when(m.is_between(0, limit)).then(m).otherwise(None)


def _bin_expr(column: str) -> pl.Expr:
    """response_bin() on a column: the same [lo, hi) bins and labels."""
    m = pl.col(column)
    expr = pl.lit(f"{RESPONSE_BINS[-1]}+")
    pairs = list(zip(RESPONSE_BINS, RESPONSE_BINS[1:], strict=False))
    for lo, hi in reversed(pairs):
        expr = pl.when((m >= lo) & (m < hi)).then(pl.lit(f"{lo}-{hi}")).otherwise(expr)
    return expr


def _counts(frame: pl.DataFrame, *keys: str) -> dict:
    if frame.height == 0:
        return {}
    rows = frame.group_by(list(keys)).len().iter_rows()
    if len(keys) == 1:
        return {k: n for k, n in rows if k is not None}
    return {tuple(r[:-1]): r[-1] for r in rows}


def compute(data: ReportData, period: Period, settings: ReportSettings) -> Figures:
    """Every measure for calls received in ``period`` (records outside it are ignored).

    The per-call rules are those of the functions above (is_eligible, missed_cause,
    elapsed_minutes, local_hour_of_week), applied to columns; tests check both on the
    same fixtures."""
    start, end = period.start_utc, period.end_utc
    limit = settings.max_interval_minutes
    frame = calls_frame(data.calls).filter(
        (pl.col("received_at") >= start) & (pl.col("received_at") < end)
    )
    # the backups and overrides of these calls (a set of the few ids they name, never of
    # every call: a year of a big city's calls is a million)
    named = {b.parent_id for b in data.backups} | {o.call_id for o in data.overrides}
    ids = set(frame.filter(pl.col("call_id").is_in(list(named))).get_column("call_id").to_list())
    overrides = [o for o in data.overrides if o.call_id in ids]
    overridden = {o.call_id for o in overrides}
    local = pl.col("received_at").dt.convert_time_zone(period.timezone)
    frame = frame.with_columns(
        _eligible_expr().alias("is_eligible"),
        (local.dt.weekday() - 1).alias("weekday"),
        local.dt.hour().alias("hour"),
        pl.col("area").fill_null("unknown"),
    )
    eligible = frame.filter(pl.col("is_eligible"))
    missed_frame = eligible.filter(~pl.col("reached")).with_columns(
        _missed_expr(settings.team_unit, overridden).alias("cause")
    )
    missed: Counter[str] = Counter({c: 0 for c in MISSED_CAUSES})
    missed.update(_counts(missed_frame, "cause"))
    reached_frame = frame.filter(pl.col("reached")).with_columns(
        _minutes_expr("received_at", "on_scene_at", limit).alias("response"),
        _minutes_expr("received_at", "dispatched_at", limit).alias("dispatch"),
        _minutes_expr("on_scene_at", "cleared_at", limit).alias("on_scene"),
        pl.col("disposition").fill_null("not_recorded"),
    )
    response = reached_frame.get_column("response").drop_nulls().to_list()
    dispatch = reached_frame.get_column("dispatch").drop_nulls().to_list()
    on_scene = reached_frame.get_column("on_scene").drop_nulls().to_list()

    backups = [b for b in data.backups if b.parent_id in ids]
    follow_due = follow_within = None
    if data.follow_ups is not None:
        follow_due = follow_within = 0
        for f in data.follow_ups:
            if not (start <= f.call_received_at < end):
                continue
            # as the care SLA: counted once attempted or once its deadline has passed
            due = f.due_at.astimezone(UTC)
            if f.first_attempt_at is None and due > data.as_of.astimezone(UTC):
                continue
            follow_due += 1
            follow_within += int(
                f.first_attempt_at is not None and f.first_attempt_at.astimezone(UTC) <= due
            )
    made = completed = None
    if data.referrals is not None:
        inside = [r for r in data.referrals if start <= r.created_at < end]
        made = len(inside)
        completed = sum(1 for r in inside if r.status == "completed")
    repeat = None
    if data.first_contacts is not None:
        cohort = [f for f in data.first_contacts if start <= f.first_at < end]
        done = [f for f in cohort if f.complete]
        repeat = {
            "people": len(cohort),
            "complete": len(done),
            "calls_before": sum(f.calls_before for f in cohort),
            "calls_after": sum(f.calls_after for f in done),
            "mean_before": _mean([f.calls_before for f in cohort]),
            "mean_after": _mean([f.calls_after for f in done]),
            "mean_before_complete": _mean([f.calls_before for f in done]),
        }

    return Figures(
        period=period,
        basis=data.basis,
        calls_total=frame.height,
        by_route=_counts(frame, "route"),
        by_call_type=_counts(frame, "call_type"),
        by_call_type_route=_counts(frame, "call_type", "route"),
        eligible=eligible.height,
        reached=int(eligible.get_column("reached").sum()),
        missed_by_cause=dict(missed),
        team_responses=reached_frame.height,
        response_minutes=time_stats(response),
        response_histogram=_counts(
            reached_frame.filter(pl.col("response").is_not_null()).with_columns(
                _bin_expr("response").alias("bin")
            ),
            "bin",
        ),
        dispatch_minutes=time_stats(dispatch),
        on_scene_minutes=time_stats(on_scene),
        dispositions=_counts(reached_frame, "disposition"),
        backup_requests=len(backups),
        backup_by_cause=dict(Counter(b.cause for b in backups)),
        backup_by_call_type=dict(Counter(b.parent_call_type for b in backups)),
        overrides=len(overrides),
        overrides_by_route=dict(Counter(o.route for o in overrides)),
        crisis_line=_counts(frame, "crisis_line_outcome"),
        follow_ups_due=follow_due,
        follow_ups_within=follow_within,
        referrals_made=made,
        referrals_completed=completed,
        repeat=repeat,
        hour_of_week=_counts(frame, "weekday", "hour"),
        by_area=_counts(frame, "area"),
        team_hours=(None if data.shifts is None else staffed_team_hours(data.shifts, period)),
        police_minutes=settings.police_minutes_per_call,
        ems_minutes=settings.ems_minutes_per_call,
        budget_for_period=period_budget(settings.annual_budget, period),
        budget_source=settings.annual_budget.source,
        currency=settings.currency,
        rules_versions={k: n for k, n in _counts(frame, "rules_version").items() if k},
        follow_up_hours=settings.follow_up_hours,
        repeat_window_days=settings.repeat_window_days,
        source=data.source,
        notes=data.notes,
    )


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None

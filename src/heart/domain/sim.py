"""Staffing simulation: a SimPy model of one program's teams over a period.

Pure domain code (NumPy + SimPy + the dispatch/geo/program domain; no Django, no I/O).

Model, in one paragraph (docs/planning.md has the long form):

* Calls arrive at given minutes (replayed from history, or drawn from a fitted
  hour-of-week Poisson process by :class:`TimeOfWeekArrivals`), each with a point, a
  call type and a priority. Every call here is *eligible*: eligibility is decided
  beforehand by the triage engine. A call with no usable point, or outside the
  program's area, is counted apart and never "reached" (unless the run says otherwise,
  with the assumed travel time stated).
* Teams work weekly shifts (:class:`ShiftPlan`, the same day/clock syntax as program
  files) in the program's local time: a shift starts at 08:00 on the wall clock on both
  sides of a daylight-saving change, and not at all on the program's holidays when the
  plan closes on them. A team on a call when its shift ends finishes the call.
* A call that arrives while no team is on shift is ``missed_off_shift``. Otherwise the
  live :func:`heart.domain.dispatch.recommend` chooses among the free teams, with travel
  minutes from :class:`heart.domain.geo.TravelModel` (the live function). If no team is
  free, the program's own "no team free" policy
  (:class:`heart.domain.program.NoTeamFreePolicy`, the setting live intake reads) says
  whether the call falls back at once or waits up to N minutes (by priority or route),
  waiting calls being served in arrival or priority order; a call that falls back is
  ``missed_busy`` (the run card's next step takes it).
* A team drives from where it is (its post, or on its way back to it), spends the
  on-scene minutes drawn for the call, then drives back to its post, free to take a
  call on the way (its position moves along the line back).

Same seed, same numbers: every random draw comes from ``numpy.random.default_rng``
seeded with ``(seed, replication)``, and nothing depends on the order of a set or a
dict of strings (which changes with PYTHONHASHSEED between processes).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import simpy

from heart.domain.dispatch import UnitSnapshot, UnitState, recommend
from heart.domain.geo import TravelModel
from heart.domain.program import FALL_BACK_AT_ONCE, NoTeamFreePolicy
from heart.domain.schedule import Window, describe_windows, parse_clock, parse_days, split_window

# outcome codes per call
PENDING, REACHED, MISSED_BUSY, MISSED_OFF_SHIFT, NO_LOCATION, OUTSIDE_AREA = 0, 1, 2, 3, 4, 5
OUTCOME_NAMES = {
    PENDING: "pending",
    REACHED: "reached",
    MISSED_BUSY: "fell_back_no_team_free",
    MISSED_OFF_SHIFT: "no_team_on_shift",
    NO_LOCATION: "no_location",
    OUTSIDE_AREA: "outside_area",
}


class SimInputError(ValueError):
    """A simulation input is wrong; the message names the parameter."""


# --------------------------------------------------------------------------------------
# shifts
# --------------------------------------------------------------------------------------


def _elapsed_minutes(start: dt.datetime, local: dt.datetime) -> float:
    """Real minutes from ``start`` to a local wall-clock time (both in the same zone).

    Aware datetimes sharing a tzinfo subtract as wall clocks in Python, which is an hour
    off across a DST change: go through UTC.
    """
    return (local.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds() / 60.0


def _local(day: dt.date, minute: int, zone) -> dt.datetime:
    """The wall-clock time ``minute`` after local midnight of ``day`` (24:00 = next day)."""
    if minute >= 24 * 60:
        day, minute = day + dt.timedelta(days=1), minute - 24 * 60
    return dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    """Weekly on-duty windows of a team, e.g. ``"Mon-Fri 08:00-17:00; Sat 10:00-14:00"``.

    ``closed_on_holidays``: no shift on the program calendar's holidays.
    """

    label: str
    windows: tuple[Window, ...]
    closed_on_holidays: bool = False

    @classmethod
    def parse(cls, text: str, *, closed_on_holidays: bool = False) -> ShiftPlan:
        text = text.strip()
        if text.lower() in {"24/7", "always", "daily 00:00-24:00"}:
            return cls("24/7", (Window(frozenset(range(7)), 0, 24 * 60),), closed_on_holidays)
        windows: list[Window] = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            days_text, _, clock = part.rpartition(" ")
            try:
                start, end = clock.split("-")
                windows.extend(
                    split_window(parse_days(days_text), parse_clock(start), parse_clock(end))
                )
            except ValueError as exc:
                raise SimInputError(
                    f"hours: {part!r} is not like 'Mon-Fri 08:00-17:00' ({exc})"
                ) from None
        if not windows:
            raise SimInputError(f"hours: {text!r} names no window")
        return cls(text, tuple(windows), closed_on_holidays)

    def describe(self) -> str:
        return describe_windows(self.windows) + (
            ", closed on holidays" if self.closed_on_holidays else ""
        )

    def intervals(
        self, start: dt.datetime, days: int, holidays: frozenset[dt.date] = frozenset()
    ) -> list[tuple[float, float]]:
        """Merged on-duty [from, to) in real minutes from ``start`` (a tz-aware local
        midnight) over ``days`` local days.

        Windows are wall-clock times of the start's zone, so across a DST change a shift
        still starts at 08:00 local (the real minutes from the start shift by an hour).
        On a holiday (when the plan closes on holidays) the day's windows are skipped; a
        window past midnight belongs to the day it runs on.
        """
        if start.tzinfo is None:
            raise SimInputError("start: a time zone is required")
        # every replication of a sweep asks again: the same plan, start and days
        return list(_shift_intervals(self, start, days, frozenset(holidays)))

    def _intervals(
        self, start: dt.datetime, days: int, holidays: frozenset[dt.date]
    ) -> tuple[tuple[float, float], ...]:
        zone = start.tzinfo
        first = start.date()
        raw = []
        for d in range(days):
            day = first + dt.timedelta(days=d)
            if self.closed_on_holidays and day in holidays:
                continue
            weekday = day.weekday()
            for w in self.windows:
                if weekday in w.days:
                    raw.append(
                        (
                            _elapsed_minutes(start, _local(day, w.start_minute, zone)),
                            _elapsed_minutes(start, _local(day, w.end_minute, zone)),
                        )
                    )
        raw.sort()
        merged: list[tuple[float, float]] = []
        for a, b in raw:
            if b <= a:  # a window inside the hour skipped in spring: it does not exist
                continue
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return tuple(merged)


@lru_cache(maxsize=256)
def _shift_intervals(
    plan: ShiftPlan, start: dt.datetime, days: int, holidays: frozenset[dt.date]
) -> tuple[tuple[float, float], ...]:
    return plan._intervals(start, days, holidays)


@dataclass(frozen=True, slots=True)
class TeamSpec:
    id: str
    base_lon: float
    base_lat: float
    shifts: ShiftPlan
    kind: str = "crt"
    disciplines: frozenset[str] = frozenset()


def make_teams(
    n: int, shifts: ShiftPlan, bases: Sequence[tuple[float, float]], kind: str = "crt"
) -> tuple[TeamSpec, ...]:
    """``n`` teams on the same hours, spread round-robin over the given posts."""
    if n < 1:
        raise SimInputError(f"teams: at least one team is needed, found {n}")
    if not bases:
        raise SimInputError("bases: at least one post (lon, lat) is needed")
    return tuple(
        TeamSpec(f"team-{i + 1}", *bases[i % len(bases)], shifts=shifts, kind=kind)
        for i in range(n)
    )


# --------------------------------------------------------------------------------------
# calls and on-scene times
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimCalls:
    """Eligible calls of one run, sorted by arrival minute (from the run's start).

    ``priority``: the CAD priority (None when unknown); ``outside``: the call is outside
    the program's area (counted apart). A call with a NaN point has no location.
    """

    minute: np.ndarray  # float64
    lon: np.ndarray  # float64, NaN when unknown
    lat: np.ndarray
    call_type: np.ndarray  # object (str)
    priority: np.ndarray | None = None  # object (str or None)
    outside: np.ndarray | None = None  # bool

    def __post_init__(self) -> None:
        n = len(self.minute)
        if not (len(self.lon) == len(self.lat) == len(self.call_type) == n):
            raise SimInputError("calls: minute, lon, lat and call_type differ in length")
        for name in ("priority", "outside"):
            extra = getattr(self, name)
            if extra is not None and len(extra) != n:
                raise SimInputError(f"calls: {name} differs in length")
        if n and np.any(np.diff(self.minute) < 0):
            raise SimInputError("calls: arrival minutes must be sorted")

    def __len__(self) -> int:
        return len(self.minute)

    @classmethod
    def build(cls, minute, lon, lat, call_type, priority=None, outside=None) -> SimCalls:
        minute = np.asarray(minute, dtype=float)
        order = np.argsort(minute, kind="stable")
        return cls(
            minute[order],
            np.asarray(lon, dtype=float)[order],
            np.asarray(lat, dtype=float)[order],
            np.asarray(call_type, dtype=object)[order],
            None if priority is None else np.asarray(priority, dtype=object)[order],
            None if outside is None else np.asarray(outside, dtype=bool)[order],
        )


class ServiceModel:
    """Minutes drawn per call (on-scene time, a delay) by call type."""

    def sample(self, rng: np.random.Generator, call_types: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class FixedService(ServiceModel):
    minutes: float

    def sample(self, rng: np.random.Generator, call_types: np.ndarray) -> np.ndarray:
        return np.full(len(call_types), float(self.minutes))

    def describe(self) -> dict:
        return {"kind": "fixed", "minutes": self.minutes}


@dataclass(frozen=True)
class EmpiricalService(ServiceModel):
    """Resampling of observed minutes, per call type when it has enough data.

    Types with fewer than ``min_samples`` observations (or unseen types) use the pooled
    sample: a noisy per-type distribution from five calls is worse than the pool. Types
    are kept in sorted order: the draws must not depend on a set's order (which changes
    with PYTHONHASHSEED from one process to the next).
    """

    by_type: dict[str, np.ndarray]
    pooled: np.ndarray
    min_samples: int = 20

    @classmethod
    def fit(
        cls, call_types: Sequence[str | None], minutes: Sequence[float], *, min_samples: int = 20
    ) -> EmpiricalService:
        m = np.asarray(minutes, dtype=float)
        t = np.asarray(call_types, dtype=object)
        ok = np.isfinite(m) & (m >= 0)
        if not ok.any():
            raise SimInputError("minutes: no usable observation to fit")
        by_type = {}
        for ct in sorted({x for x in t[ok].tolist() if x is not None}):
            sample = m[ok & (t == ct)]
            if len(sample) >= min_samples:
                by_type[ct] = np.sort(sample)
        return cls(by_type, np.sort(m[ok]), min_samples)

    def sample(self, rng: np.random.Generator, call_types: np.ndarray) -> np.ndarray:
        out = np.empty(len(call_types))
        types = np.asarray(call_types, dtype=object)
        pooled = np.ones(len(types), dtype=bool)
        for ct in sorted(self.by_type):
            sample = self.by_type[ct]
            mask = types == ct
            k = int(mask.sum())
            if k:
                out[mask] = sample[rng.integers(0, len(sample), k)]
                pooled &= ~mask
        k = int(pooled.sum())
        if k:
            out[pooled] = self.pooled[rng.integers(0, len(self.pooled), k)]
        return out

    def describe(self) -> dict:
        return {
            "kind": "empirical",
            "pooled": {
                "n": len(self.pooled),
                "mean": float(np.mean(self.pooled)),
                "p50": float(np.median(self.pooled)),
            },
            "by_type": {
                ct: {"n": len(s), "p50": float(np.median(s))}
                for ct, s in sorted(self.by_type.items())
            },
        }


@lru_cache(maxsize=64)
def _local_hour_of_week(start: dt.datetime, hours: int) -> np.ndarray:
    """For each real hour from ``start`` (a local midnight), its local hour of the week
    (Monday 00:00 = 0): across a DST change the real hours keep their wall-clock hour."""
    zone = start.tzinfo
    utc0 = start.astimezone(dt.UTC)
    base = start.weekday() * 24
    off0 = start.utcoffset()
    out = np.empty(hours, dtype=np.int64)
    # offsets change rarely: step a day at a time and fill hour by hour only on change days
    h = 0
    while h < hours:
        day_end = min(h + 24, hours)
        a = (utc0 + dt.timedelta(hours=h)).astimezone(zone).utcoffset()
        b = (utc0 + dt.timedelta(hours=day_end - 1)).astimezone(zone).utcoffset()
        if a == b:
            shift = int((a - off0).total_seconds() // 3600)
            out[h:day_end] = (base + np.arange(h, day_end) + shift) % 168
        else:
            for x in range(h, day_end):
                off = (utc0 + dt.timedelta(hours=x)).astimezone(zone).utcoffset()
                out[x] = (base + x + int((off - off0).total_seconds() // 3600)) % 168
        h = day_end
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class TimeOfWeekArrivals:
    """A Poisson process whose rate depends on the local hour of the week (168 rates).

    Locations, call types, priorities and area flags of drawn calls are resampled
    together from history, so where calls come from and what they are keep their joint
    distribution.
    """

    rate_per_hour: np.ndarray  # shape (168,), Monday 00:00 first
    lon: np.ndarray
    lat: np.ndarray
    call_type: np.ndarray
    priority: np.ndarray | None = None
    outside: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        weekday: Sequence[int],
        hour: Sequence[int],
        weeks_observed: float,
        lon: Sequence[float],
        lat: Sequence[float],
        call_type: Sequence[str],
        priority: Sequence[str | None] | None = None,
        outside: Sequence[bool] | None = None,
    ) -> TimeOfWeekArrivals:
        if weeks_observed <= 0:
            raise SimInputError("arrivals: the history spans no time")
        idx = np.asarray(weekday, dtype=int) * 24 + np.asarray(hour, dtype=int)
        if len(idx) == 0:
            raise SimInputError("arrivals: no calls to fit")
        counts = np.bincount(idx, minlength=168).astype(float)
        return cls(
            counts / weeks_observed,
            np.asarray(lon, dtype=float),
            np.asarray(lat, dtype=float),
            np.asarray(call_type, dtype=object),
            None if priority is None else np.asarray(priority, dtype=object),
            None if outside is None else np.asarray(outside, dtype=bool),
        )

    def expected_calls(self, days: int, start_weekday: int = 0) -> float:
        hours = (start_weekday * 24 + np.arange(days * 24)) % 168
        return float(self.rate_per_hour[hours].sum())

    def scaled_to(self, calls: float, days: int, start_weekday: int = 0) -> TimeOfWeekArrivals:
        """The same weekly shape with ``calls`` expected calls over ``days``."""
        factor = calls / self.expected_calls(days, start_weekday)
        return TimeOfWeekArrivals(
            self.rate_per_hour * factor,
            self.lon,
            self.lat,
            self.call_type,
            self.priority,
            self.outside,
        )

    def draw(self, rng: np.random.Generator, days: int, start: dt.datetime | int = 0) -> SimCalls:
        """Calls over ``days`` from ``start`` (a tz-aware local midnight: rates follow the
        local hour across DST; or a weekday number: fixed 24-hour days)."""
        n_hours = days * 24
        if isinstance(start, dt.datetime):
            how = _local_hour_of_week(start, n_hours)
        else:
            how = (start * 24 + np.arange(n_hours)) % 168
        counts = rng.poisson(self.rate_per_hour[how])
        hours = np.arange(n_hours)
        minute = np.repeat(hours * 60.0, counts) + rng.uniform(0.0, 60.0, int(counts.sum()))
        minute.sort()
        pick = rng.integers(0, len(self.lon), len(minute))
        return SimCalls(
            minute,
            self.lon[pick],
            self.lat[pick],
            self.call_type[pick],
            None if self.priority is None else self.priority[pick],
            None if self.outside is None else self.outside[pick],
        )


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimConfig:
    start: dt.datetime  # local midnight the run's minute 0 stands for (tz-aware)
    days: int
    teams: tuple[TeamSpec, ...]
    travel: TravelModel = field(default_factory=TravelModel)
    # the program's [no_team_free] setting (live intake reads the same)
    policy: NoTeamFreePolicy = FALL_BACK_AT_ONCE
    route: str = "crt"  # the teams' route, for a policy that holds by route
    # None: calls without a point are counted apart (no_location), never reached;
    # a number: they are served with this assumed travel time (stated in the output)
    unlocated_travel_minutes: float | None = None
    serve_outside_area: bool = False  # True: calls outside the area are served too
    unit_kind: str = "crt"
    holidays: frozenset[dt.date] = frozenset()
    return_to_post: bool = True  # teams drive back to their post after a call

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise SimInputError("start: a time zone is required")
        if self.days < 1:
            raise SimInputError(f"days: at least 1, found {self.days}")
        if not self.teams:
            raise SimInputError("teams: at least one team is needed")
        if self.unlocated_travel_minutes is not None and self.unlocated_travel_minutes < 0:
            raise SimInputError("unlocated_travel_minutes: must not be negative")


def _q(values: np.ndarray, p: float) -> float:
    return float(np.percentile(values, p)) if len(values) else math.nan


@dataclass(frozen=True, slots=True)
class RunResult:
    """One replication: per-call times (minutes from start; NaN if not reached)."""

    outcome: np.ndarray  # int8 codes
    dispatched: np.ndarray
    arrived: np.ndarray
    cleared: np.ndarray
    arrival: np.ndarray  # call arrival minute
    team: np.ndarray  # int16 team index, -1 if none
    busy_minutes: np.ndarray  # per team: dispatch -> clear, overtime included
    scheduled_minutes: np.ndarray  # per team
    busy_on_duty_minutes: np.ndarray  # per team: the part of busy time inside its shifts

    @property
    def response_minutes(self) -> np.ndarray:
        """Call arrival -> team on scene, for reached calls."""
        reached = self.outcome == REACHED
        return self.arrived[reached] - self.arrival[reached]

    @property
    def wait_minutes(self) -> np.ndarray:
        reached = self.outcome == REACHED
        return self.dispatched[reached] - self.arrival[reached]

    def metrics(self) -> dict[str, float]:
        n = len(self.outcome)
        resp = self.response_minutes
        wait = self.wait_minutes
        counts = np.bincount(self.outcome, minlength=6)
        reached = int(counts[REACHED])
        # calls a team could have been asked to take: a location in the area, a team on shift
        on_shift = int(counts[REACHED] + counts[MISSED_BUSY])
        sched = float(self.scheduled_minutes.sum())
        return {
            "calls": float(n),
            "reached": float(reached),
            "share_reached": reached / n if n else math.nan,
            "share_reached_on_shift": reached / on_shift if on_shift else math.nan,
            "missed_busy": float(counts[MISSED_BUSY]),
            "missed_off_shift": float(counts[MISSED_OFF_SHIFT]),
            "no_location": float(counts[NO_LOCATION]),
            "outside_area": float(counts[OUTSIDE_AREA]),
            "response_mean": float(resp.mean()) if len(resp) else math.nan,
            "response_p50": _q(resp, 50),
            "response_p90": _q(resp, 90),
            "wait_mean": float(wait.mean()) if len(wait) else math.nan,
            "wait_p50": _q(wait, 50),
            "wait_p90": _q(wait, 90),
            # busy time inside shifts / shift time: at most 1; overtime is reported apart
            "utilisation": float(self.busy_on_duty_minutes.sum()) / sched if sched else math.nan,
            "overtime_minutes": float(self.busy_minutes.sum() - self.busy_on_duty_minutes.sum()),
        }


class _PreparedTravel:
    """The travel model as ``recommend`` sees it in a run: the live TravelModel's minutes,
    read from a table computed in one vectorised pass.

    Posts are fixed, so :meth:`TravelModel.minutes_array` gives every post -> call time
    for all calls up front; ``recommend`` reads them through :meth:`minutes`. A team away
    from its post (driving back) is a miss: the live :meth:`TravelModel.minutes` computes
    it. (Only ``minutes`` is offered: for the handful of teams of a run, ``recommend``'s
    plain loop is faster than building arrays.)
    """

    __slots__ = ("model", "current")

    def __init__(self, model: TravelModel):
        self.model = model
        self.current: dict[tuple[float, float], float] = {}

    def minutes(self, from_lon: float, from_lat: float, to_lon: float, to_lat: float) -> float:
        got = self.current.get((from_lon, from_lat))
        if got is None:
            return self.model.minutes(from_lon, from_lat, to_lon, to_lat)
        return got


def simulate(
    calls: SimCalls,
    on_scene: np.ndarray,
    config: SimConfig,
    *,
    travel_table=None,
    pre_dispatch: np.ndarray | None = None,
) -> RunResult:
    """Run one replication. ``on_scene``: minutes per call (drawn by the caller);
    ``pre_dispatch``: minutes per call before it may be dispatched (none: 0)."""
    n = len(calls)
    if pre_dispatch is not None and len(pre_dispatch) != n:
        raise SimInputError("pre_dispatch: one value per call is needed")
    teams = config.teams
    k = len(teams)
    if len(on_scene) != n:
        raise SimInputError("on_scene: one value per call is needed")
    posts = sorted({(t.base_lon, t.base_lat) for t in teams})
    post_of = [posts.index((t.base_lon, t.base_lat)) for t in teams]
    table = travel_table if travel_table is not None else travel_minutes_table(calls, posts, config)
    model = config.travel
    travel = _PreparedTravel(model)
    current = travel.current
    turnout = model.turnout_minutes

    env = simpy.Environment()
    # per-call results as plain lists while running (a NumPy item write costs more than
    # a list's), made arrays at the end
    nan = math.nan
    outcome = [PENDING] * n
    dispatched = [nan] * n
    arrived = [nan] * n
    cleared = [nan] * n
    team_of = [-1] * n
    service_minutes = np.asarray(on_scene, dtype=float).tolist()
    busy = [0.0] * k
    free = [True] * k
    on_shift = [False] * k
    shifts_on = [0]  # teams on shift now
    # a team driving back to its post: (call lon, lat, left at, back at); None at its post
    returning: list[tuple[float, float, float, float] | None] = [None] * k
    queue: list[tuple[int, float, int]] = []  # (priority rank, ready minute, call)
    by_id = {t.id: j for j, t in enumerate(teams)}
    # a free team at its post looks the same every time: build its snapshot once
    snap_home = [
        UnitSnapshot(t.id, t.kind, UnitState.AVAILABLE, True, t.disciplines, t.base_lon, t.base_lat)
        for t in teams
    ]
    lon_list, lat_list = calls.lon.tolist(), calls.lat.tolist()
    located = (np.isfinite(calls.lon) & np.isfinite(calls.lat)).tolist()
    policy = config.policy
    priorities = calls.priority.tolist() if calls.priority is not None else [None] * n
    hold_by_priority = {
        p: policy.hold_for(route=config.route, priority=p) for p in sorted(set(priorities), key=str)
    }
    rank_by_priority = {p: policy.queue_rank(p) for p in hold_by_priority}
    hold = [hold_by_priority[p] for p in priorities]
    rank = [rank_by_priority[p] for p in priorities]
    outside = calls.outside.tolist() if calls.outside is not None else [False] * n
    unlocated_eta = config.unlocated_travel_minutes
    start = config.start
    minute_td = dt.timedelta(minutes=1)

    def snapshot(j: int, now: float) -> UnitSnapshot:
        back = returning[j]
        if back is None:
            return snap_home[j]
        from_lon, from_lat, left, home_at = back
        if now >= home_at:
            returning[j] = None
            return snap_home[j]
        t = teams[j]
        f = (now - left) / (home_at - left) if home_at > left else 1.0
        return UnitSnapshot(
            t.id,
            t.kind,
            UnitState.AVAILABLE,
            True,
            t.disciplines,
            from_lon + (t.base_lon - from_lon) * f,
            from_lat + (t.base_lat - from_lat) * f,
        )

    def try_dispatch(i: int) -> bool:
        now = env.now
        ready = [j for j in range(k) if free[j] and on_shift[j]]
        if not ready:
            return False
        row = table[i]
        for post, minutes in zip(posts, row, strict=True):
            current[post] = minutes
        rec = recommend(
            call_lon=lon_list[i],
            call_lat=lat_list[i],
            unit_kind=config.unit_kind,
            units=[snapshot(j, now) for j in ready],
            now=start + now * minute_td,
            travel=travel,  # type: ignore[arg-type]  # duck-typed: minutes() only
            limit=1,
        )
        pick = rec.best
        if pick is None:
            return False
        j = by_id[pick.unit_id]
        eta = pick.eta_minutes
        if not math.isfinite(eta):
            eta = unlocated_eta if unlocated_eta is not None else 0.0
        outcome[i] = REACHED
        team_of[i] = j
        dispatched[i] = now
        arrived[i] = now + eta
        done = eta + service_minutes[i]
        cleared[i] = now + done
        free[j] = False
        returning[j] = None
        busy[j] += done
        env.timeout(done).callbacks.append(lambda _e, i=i, j=j: release(i, j))
        return True

    def drain() -> None:
        while queue:
            i = queue[0][2]
            if outcome[i] != PENDING:  # gave up waiting
                heapq.heappop(queue)
                continue
            if not try_dispatch(i):
                return
            heapq.heappop(queue)

    def release(i: int, j: int) -> None:
        free[j] = True
        if config.return_to_post and located[i]:
            drive = float(row_minutes(i, j)) - turnout
            if drive > 0:
                returning[j] = (lon_list[i], lat_list[i], env.now, env.now + drive)
        drain()

    def row_minutes(i: int, j: int) -> float:
        return table[i][post_of[j]]

    def give_up(i: int) -> None:
        if outcome[i] == PENDING:
            outcome[i] = MISSED_BUSY

    def arrive(i: int) -> None:
        if outside[i] and not config.serve_outside_area:
            outcome[i] = OUTSIDE_AREA
            return
        if not located[i] and unlocated_eta is None:
            outcome[i] = NO_LOCATION
            return
        if not shifts_on[0]:
            outcome[i] = MISSED_OFF_SHIFT
            return
        # a free team never leaves a call waiting, so a non-empty queue means none is free
        if not queue and try_dispatch(i):
            return
        wait = hold[i]
        if wait <= 0:
            outcome[i] = MISSED_BUSY
            return
        heapq.heappush(queue, (rank[i], env.now, i))
        env.timeout(wait).callbacks.append(lambda _e, i=i: give_up(i))

    def arrivals():
        # a call joins the dispatch queue when it is ready: arrival + pre-dispatch delay
        ready = calls.minute if pre_dispatch is None else calls.minute + pre_dispatch
        order = range(n) if pre_dispatch is None else np.argsort(ready, kind="stable").tolist()
        ready_at = ready.tolist()
        for i in order:
            t = ready_at[i]
            if t > env.now:
                yield env.timeout(t - env.now)
            arrive(i)

    def shift_clock(j: int, intervals: list[tuple[float, float]]):
        for a, b in intervals:
            if a > env.now:
                yield env.timeout(a - env.now)
            on_shift[j] = True
            shifts_on[0] += 1
            drain()
            yield env.timeout(b - env.now)
            on_shift[j] = False
            shifts_on[0] -= 1

    shifts = [t.shifts.intervals(config.start, config.days, config.holidays) for t in teams]
    for j, intervals in enumerate(shifts):
        # shifts start before arrivals at the same minute: processes started first run first
        env.process(shift_clock(j, intervals))
    env.process(arrivals())
    env.run()
    outcome = np.array(outcome, dtype=np.int8)
    dispatched = np.array(dispatched, dtype=float)
    arrived = np.array(arrived, dtype=float)
    cleared = np.array(cleared, dtype=float)
    team_of = np.array(team_of, dtype=np.int16)
    scheduled = np.array([sum(b - a for a, b in iv) for iv in shifts], dtype=float)
    on_duty = np.zeros(k)
    for j, intervals in enumerate(shifts):
        mine = team_of == j
        if intervals and mine.any():
            on_duty[j] = np.sum(
                _duty_before(intervals, cleared[mine]) - _duty_before(intervals, dispatched[mine])
            )
    return RunResult(
        outcome,
        dispatched,
        arrived,
        cleared,
        calls.minute,
        team_of,
        np.array(busy),
        scheduled,
        on_duty,
    )


def _duty_before(intervals: list[tuple[float, float]], t: np.ndarray) -> np.ndarray:
    """On-duty minutes from the start up to each time in ``t`` (piecewise linear)."""
    xs = np.array([x for a, b in intervals for x in (a, b)], dtype=float)
    lengths = np.array([b - a for a, b in intervals], dtype=float)
    ys = np.column_stack([np.cumsum(lengths) - lengths, np.cumsum(lengths)]).ravel()
    return np.interp(t, xs, ys)


def travel_minutes_table(
    calls: SimCalls, posts: Sequence[tuple[float, float]], config: SimConfig
) -> list[list[float]]:
    """Minutes from every post to every call (rows: calls), by ``TravelModel.minutes_array``.

    Calls without a usable point get ``inf`` (the recommendation's "no ETA").
    """
    if not len(calls):
        return []
    located = np.isfinite(calls.lon) & np.isfinite(calls.lat)
    cols = []
    for lon, lat in posts:
        col = np.full(len(calls), math.inf)
        # minutes_array(from=calls, to=post): haversine is symmetric, so this is post -> call
        col[located] = config.travel.minutes_array(calls.lon[located], calls.lat[located], lon, lat)
        cols.append(col)
    return np.column_stack(cols).tolist()


# --------------------------------------------------------------------------------------
# replications and confidence intervals
# --------------------------------------------------------------------------------------

# two-sided 95% Student t quantiles by degrees of freedom (1..30); normal beyond
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def mean_ci(
    values: Sequence[float], *, lower: float | None = None, upper: float | None = None
) -> dict[str, float]:
    """Mean and a 95% t confidence interval over replications (NaNs dropped).

    ``lower``/``upper`` clip the interval to the metric's possible range (a count
    cannot be below 0, a share not above 1).
    """
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean = float(v.mean())
    if len(v) == 1:
        return {"mean": mean, "low": mean, "high": mean, "n": 1}
    t = _T975[len(v) - 2] if len(v) - 1 <= len(_T975) else 1.96
    half = t * float(v.std(ddof=1)) / math.sqrt(len(v))
    low = mean - half if lower is None else max(lower, mean - half)
    high = mean + half if upper is None else min(upper, mean + half)
    return {"mean": mean, "low": low, "high": high, "n": len(v)}


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to run: either replayed calls or an arrival model, plus service and config."""

    config: SimConfig
    service: ServiceModel
    replay: SimCalls | None = None
    arrivals: TimeOfWeekArrivals | None = None
    # minutes from a call's arrival until it may be dispatched (screening, clinician
    # triage, deferral of non-urgent calls); None: dispatch as soon as a team is free
    pre_dispatch: ServiceModel | None = None

    def __post_init__(self) -> None:
        if (self.replay is None) == (self.arrivals is None):
            raise SimInputError("scenario: give replayed calls or an arrival model, not both")


def run_replication(scenario: Scenario, seed: int, rep: int, travel_table=None) -> RunResult:
    rng = np.random.default_rng([seed, rep])
    cfg = scenario.config
    if scenario.replay is not None:
        calls = scenario.replay
    else:
        calls = scenario.arrivals.draw(rng, cfg.days, cfg.start)  # type: ignore[union-attr]
        travel_table = None
    on_scene = scenario.service.sample(rng, calls.call_type)
    # drawn after on-scene times, so runs without a delay keep their numbers
    delay = (
        scenario.pre_dispatch.sample(rng, calls.call_type)
        if scenario.pre_dispatch is not None
        else None
    )
    return simulate(calls, on_scene, cfg, travel_table=travel_table, pre_dispatch=delay)


METRIC_KEYS = (
    "share_reached",
    "share_reached_on_shift",
    "response_mean",
    "response_p50",
    "response_p90",
    "wait_mean",
    "wait_p50",
    "wait_p90",
    "utilisation",
    "overtime_minutes",
    "missed_busy",
    "missed_off_shift",
    "no_location",
    "outside_area",
    "calls",
    "reached",
)


def run_replications(scenario: Scenario, *, replications: int, seed: int) -> dict:
    """Metrics of each replication and their means with 95% confidence intervals."""
    if replications < 1:
        raise SimInputError(f"replications: at least 1, found {replications}")
    table = None
    if scenario.replay is not None:
        posts = sorted({(t.base_lon, t.base_lat) for t in scenario.config.teams})
        table = travel_minutes_table(scenario.replay, posts, scenario.config)
    runs = [run_replication(scenario, seed, r, table).metrics() for r in range(replications)]
    return summarise_runs(runs)


def summarise_runs(runs: list[dict[str, float]]) -> dict:
    # every metric is >= 0; shares and utilisation are also <= 1
    bounded = {"share_reached", "share_reached_on_shift", "utilisation"}
    ci = {
        key: mean_ci([r[key] for r in runs], lower=0.0, upper=1.0 if key in bounded else None)
        for key in METRIC_KEYS
    }
    return {
        "replications": len(runs),
        "share_reached": ci["share_reached"],
        "share_reached_on_shift": ci["share_reached_on_shift"],
        "response_minutes": {
            "mean": ci["response_mean"],
            "p50": ci["response_p50"],
            "p90": ci["response_p90"],
        },
        "wait_minutes": {"mean": ci["wait_mean"], "p50": ci["wait_p50"], "p90": ci["wait_p90"]},
        "utilisation": ci["utilisation"],
        "overtime_minutes": ci["overtime_minutes"],
        "missed_busy": ci["missed_busy"],
        "missed_off_shift": ci["missed_off_shift"],
        "no_location": ci["no_location"],
        "outside_area": ci["outside_area"],
        "calls": ci["calls"],
        "reached": ci["reached"],
        "runs": runs,
    }


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs."""
    x = np.sort(np.asarray(a, dtype=float)[np.isfinite(a)])
    y = np.sort(np.asarray(b, dtype=float)[np.isfinite(b)])
    if not len(x) or not len(y):
        return math.nan
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / len(x)
    cdf_y = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.max(np.abs(cdf_x - cdf_y)))


def quantiles(values: Sequence[float], probs: Sequence[float]) -> list[float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return [math.nan] * len(probs)
    return [float(q) for q in np.quantile(v, probs)]


# --------------------------------------------------------------------------------------
# travel calibration
# --------------------------------------------------------------------------------------


def calibrate_travel(
    base: TravelModel,
    drive_minutes: Sequence[float],
    real_minutes: Sequence[float],
    probs: tuple[float, float] = (0.5, 0.9),
) -> tuple[TravelModel, dict]:
    """A :class:`TravelModel` whose dispatch -> arrival times match real ones.

    ``drive_minutes``: the base model's driving minutes (no turnout) for calls of the
    fit period; ``real_minutes``: their real dispatch -> arrival times (the two need not
    be paired: where the team was is not in the records). Real time = access + factor x
    drive is fitted by matching two quantiles (median and 90th percentile by default):
    ``factor`` scales the road factor, ``access`` (the new turnout) is the time to get
    going, park and find the person. Robust to the slips a few records have.
    """
    d = np.asarray(drive_minutes, dtype=float)
    r = np.asarray(real_minutes, dtype=float)
    d, r = d[np.isfinite(d)], r[np.isfinite(r) & (r >= 0)]
    if len(d) < 20 or len(r) < 20:
        raise SimInputError(
            f"travel: too few observations to calibrate ({len(d)} drives, {len(r)} real times)"
        )
    lo, hi = probs
    d_lo, d_hi = np.quantile(d, [lo, hi])
    r_lo, r_hi = np.quantile(r, [lo, hi])
    factor = (r_hi - r_lo) / (d_hi - d_lo) if d_hi > d_lo else 1.0
    factor = float(max(factor, 0.05))
    access = float(max(r_lo - factor * d_lo, 0.0))
    model = TravelModel(base.road_factor * factor, base.speed_kmh, access)
    return model, {
        "method": f"quantile matching at p{int(lo * 100)} and p{int(hi * 100)}",
        "factor": factor,
        "access_minutes": access,
        "road_factor": model.road_factor,
        "speed_kmh": model.speed_kmh,
        "fitted_on": int(len(r)),
    }

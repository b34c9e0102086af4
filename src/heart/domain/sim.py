"""Staffing simulation: a SimPy model of one program's teams over a period.

Pure domain code (NumPy + SimPy + the dispatch/geo domain; no Django, no I/O).

Model, in one paragraph (docs/planning.md has the long form):

* Calls arrive at given minutes (replayed from history, or drawn from a fitted
  hour-of-week Poisson process by :class:`TimeOfWeekArrivals`), each with a point and
  a call type. Every call here is *eligible*: eligibility is decided beforehand by the
  triage engine.
* Teams work weekly shifts (:class:`ShiftPlan`, the same day/clock syntax as program
  files). A team that is on a call when its shift ends finishes the call.
* A call that arrives while no team is on shift is ``missed_off_shift``. Otherwise the
  live :func:`heart.domain.dispatch.recommend` chooses among the teams on shift, with
  travel minutes from :class:`heart.domain.geo.TravelModel` (the live function). If
  no team is free the call waits (first come, first served) up to ``max_wait_minutes``;
  a call still waiting then is ``missed_busy`` (police take it).
* A team drives from its post (base), spends the on-scene minutes drawn for the call
  type, and is free again at its post (return travel is not modelled).

Same seed, same numbers: every random draw comes from ``numpy.random.default_rng``
seeded with ``(seed, replication)``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from heart.domain.dispatch import UnitSnapshot, UnitState, recommend
from heart.domain.geo import TravelModel
from heart.domain.schedule import Window, describe_windows, parse_clock, parse_days, split_window

# outcome codes per call
PENDING, REACHED, MISSED_BUSY, MISSED_OFF_SHIFT = 0, 1, 2, 3


class SimInputError(ValueError):
    """A simulation input is wrong; the message names the parameter."""


# --------------------------------------------------------------------------------------
# shifts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    """Weekly on-duty windows of a team, e.g. ``"Mon-Fri 08:00-17:00; Sat 10:00-14:00"``."""

    label: str
    windows: tuple[Window, ...]

    @classmethod
    def parse(cls, text: str) -> ShiftPlan:
        text = text.strip()
        if text.lower() in {"24/7", "always", "daily 00:00-24:00"}:
            return cls("24/7", (Window(frozenset(range(7)), 0, 24 * 60),))
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
        return cls(text, tuple(windows))

    def describe(self) -> str:
        return describe_windows(self.windows)

    def intervals(self, start_weekday: int, days: int) -> list[tuple[float, float]]:
        """Merged on-duty [from, to) minutes over ``days`` days from a local midnight."""
        raw = []
        for d in range(days):
            weekday = (start_weekday + d) % 7
            for w in self.windows:
                if weekday in w.days:
                    raw.append((d * 1440.0 + w.start_minute, d * 1440.0 + w.end_minute))
        raw.sort()
        merged: list[tuple[float, float]] = []
        for a, b in raw:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged


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
    """Eligible calls of one run, sorted by arrival minute (from the run's start)."""

    minute: np.ndarray  # float64
    lon: np.ndarray  # float64, NaN when unknown
    lat: np.ndarray
    call_type: np.ndarray  # object (str)

    def __post_init__(self) -> None:
        n = len(self.minute)
        if not (len(self.lon) == len(self.lat) == len(self.call_type) == n):
            raise SimInputError("calls: minute, lon, lat and call_type differ in length")
        if n and np.any(np.diff(self.minute) < 0):
            raise SimInputError("calls: arrival minutes must be sorted")

    def __len__(self) -> int:
        return len(self.minute)

    @classmethod
    def build(cls, minute, lon, lat, call_type) -> SimCalls:
        minute = np.asarray(minute, dtype=float)
        order = np.argsort(minute, kind="stable")
        return cls(
            minute[order],
            np.asarray(lon, dtype=float)[order],
            np.asarray(lat, dtype=float)[order],
            np.asarray(call_type, dtype=object)[order],
        )


class ServiceModel:
    """On-scene minutes (arrival -> departure) per call type."""

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
    """Resampling of observed on-scene minutes, per call type when it has enough data.

    Types with fewer than ``min_samples`` observations (or unseen types) use the pooled
    sample: a noisy per-type distribution from five calls is worse than the pool.
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
            raise SimInputError("on-scene minutes: no usable observation to fit")
        by_type = {}
        for ct in set(t[ok].tolist()):
            sample = m[ok & (t == ct)]
            if ct is not None and len(sample) >= min_samples:
                by_type[ct] = np.sort(sample)
        return cls(by_type, np.sort(m[ok]), min_samples)

    def sample(self, rng: np.random.Generator, call_types: np.ndarray) -> np.ndarray:
        out = np.empty(len(call_types))
        types = np.asarray(call_types, dtype=object)
        pooled = np.ones(len(types), dtype=bool)
        for ct, sample in self.by_type.items():
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
            "pooled": {"n": len(self.pooled), "p50": float(np.median(self.pooled))},
            "by_type": {
                ct: {"n": len(s), "p50": float(np.median(s))}
                for ct, s in sorted(self.by_type.items())
            },
        }


@dataclass(frozen=True)
class TimeOfWeekArrivals:
    """A Poisson process whose rate depends on the hour of the week (168 rates).

    Locations and call types of drawn calls are resampled together from history, so
    where calls come from and what they are keep their joint distribution.
    """

    rate_per_hour: np.ndarray  # shape (168,), Monday 00:00 first
    lon: np.ndarray
    lat: np.ndarray
    call_type: np.ndarray

    @classmethod
    def fit(
        cls,
        weekday: Sequence[int],
        hour: Sequence[int],
        weeks_observed: float,
        lon: Sequence[float],
        lat: Sequence[float],
        call_type: Sequence[str],
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
        )

    def expected_calls(self, days: int, start_weekday: int = 0) -> float:
        hours = (start_weekday * 24 + np.arange(days * 24)) % 168
        return float(self.rate_per_hour[hours].sum())

    def scaled_to(self, calls: float, days: int, start_weekday: int = 0) -> TimeOfWeekArrivals:
        """The same weekly shape with ``calls`` expected calls over ``days``."""
        factor = calls / self.expected_calls(days, start_weekday)
        return TimeOfWeekArrivals(self.rate_per_hour * factor, self.lon, self.lat, self.call_type)

    def draw(self, rng: np.random.Generator, days: int, start_weekday: int = 0) -> SimCalls:
        hours = np.arange(days * 24)
        counts = rng.poisson(self.rate_per_hour[(start_weekday * 24 + hours) % 168])
        minute = np.repeat(hours * 60.0, counts) + rng.uniform(0.0, 60.0, int(counts.sum()))
        minute.sort()
        pick = rng.integers(0, len(self.lon), len(minute))
        return SimCalls(minute, self.lon[pick], self.lat[pick], self.call_type[pick])


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimConfig:
    start: dt.datetime  # local midnight the run's minute 0 stands for (tz-aware)
    days: int
    teams: tuple[TeamSpec, ...]
    travel: TravelModel = field(default_factory=TravelModel)
    max_wait_minutes: float = 30.0
    unlocated_travel_minutes: float = 15.0  # ETA for a call without a usable point
    unit_kind: str = "crt"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise SimInputError("start: a time zone is required")
        if self.days < 1:
            raise SimInputError(f"days: at least 1, found {self.days}")
        if not self.teams:
            raise SimInputError("teams: at least one team is needed")
        if self.max_wait_minutes < 0:
            raise SimInputError("max_wait_minutes: must not be negative")


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
        on_shift = int((self.outcome != MISSED_OFF_SHIFT).sum())
        reached = int((self.outcome == REACHED).sum())
        sched = float(self.scheduled_minutes.sum())
        return {
            "calls": float(n),
            "reached": float(reached),
            "share_reached": reached / n if n else math.nan,
            "share_reached_on_shift": reached / on_shift if on_shift else math.nan,
            "missed_busy": float((self.outcome == MISSED_BUSY).sum()),
            "missed_off_shift": float(n - on_shift),
            "response_p50": float(np.percentile(resp, 50)) if len(resp) else math.nan,
            "response_p90": float(np.percentile(resp, 90)) if len(resp) else math.nan,
            "wait_p90": float(np.percentile(self.wait_minutes, 90)) if len(resp) else math.nan,
            # busy time inside shifts / shift time: at most 1; overtime is reported apart
            "utilisation": float(self.busy_on_duty_minutes.sum()) / sched if sched else math.nan,
            "overtime_minutes": float(self.busy_minutes.sum() - self.busy_on_duty_minutes.sum()),
        }


class _PreparedTravel(TravelModel):
    """TravelModel whose minutes for the current call were computed in one vectorised pass.

    Posts are fixed, so :meth:`TravelModel.minutes_array` gives every post -> call time
    for all calls up front; ``recommend`` then reads them through :meth:`minutes` and
    never computes a different number than the live function (a miss falls back to it).
    """

    __slots__ = ("current",)

    def minutes(self, from_lon: float, from_lat: float, to_lon: float, to_lat: float) -> float:
        got = self.current.get((from_lon, from_lat))
        if got is None:
            return TravelModel.minutes(self, from_lon, from_lat, to_lon, to_lat)
        return got

    def minutes_array(self, from_lon, from_lat, to_lon: float, to_lat: float) -> np.ndarray:
        # recommend() asks for all ready teams at once: answer from the table too
        got = [
            self.current.get(p)
            for p in zip(np.asarray(from_lon).tolist(), np.asarray(from_lat).tolist(), strict=True)
        ]
        if any(m is None for m in got):
            return TravelModel.minutes_array(self, from_lon, from_lat, to_lon, to_lat)
        return np.array(got, dtype=float)


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
    table = travel_table if travel_table is not None else travel_minutes_table(calls, posts, config)
    travel = _PreparedTravel(
        config.travel.road_factor, config.travel.speed_kmh, config.travel.turnout_minutes
    )
    current: dict[tuple[float, float], float] = {}
    object.__setattr__(travel, "current", current)  # frozen dataclass: set once, then mutate

    env = simpy.Environment()
    outcome = np.zeros(n, dtype=np.int8)
    dispatched = np.full(n, np.nan)
    arrived = np.full(n, np.nan)
    cleared = np.full(n, np.nan)
    team_of = np.full(n, -1, dtype=np.int16)
    busy = np.zeros(k)
    free = [True] * k
    on_shift = [False] * k
    queue: deque[int] = deque()
    by_id = {t.id: j for j, t in enumerate(teams)}
    # snapshots never change while a team is in a state: build them once
    snap_free = [
        UnitSnapshot(t.id, t.kind, UnitState.AVAILABLE, True, t.disciplines, t.base_lon, t.base_lat)
        for t in teams
    ]
    snap_busy = [
        UnitSnapshot(t.id, t.kind, UnitState.ON_SCENE, True, t.disciplines, t.base_lon, t.base_lat)
        for t in teams
    ]
    lon_list, lat_list = calls.lon.tolist(), calls.lat.tolist()
    start = config.start
    minute_td = dt.timedelta(minutes=1)

    def try_dispatch(i: int) -> bool:
        # no free team on shift: there is nothing to choose, so skip the recommendation
        if not any(free[j] and on_shift[j] for j in range(k)):
            return False
        units = [snap_free[j] if free[j] else snap_busy[j] for j in range(k) if on_shift[j]]
        for post, minutes in zip(posts, table[i], strict=True):
            current[post] = minutes
        now = env.now
        rec = recommend(
            call_lon=lon_list[i],
            call_lat=lat_list[i],
            unit_kind=config.unit_kind,
            units=units,
            now=start + now * minute_td,
            travel=travel,
            limit=1,
        )
        pick = rec.best
        if pick is None:
            return False
        j = by_id[pick.unit_id]
        eta = (
            pick.eta_minutes if math.isfinite(pick.eta_minutes) else config.unlocated_travel_minutes
        )
        outcome[i] = REACHED
        team_of[i] = j
        dispatched[i] = now
        arrived[i] = now + eta
        done = eta + float(on_scene[i])
        cleared[i] = now + done
        free[j] = False
        busy[j] += done
        ev = env.timeout(done)
        ev.callbacks.append(lambda _e, j=j: release(j))
        return True

    def drain() -> None:
        while queue:
            i = queue[0]
            if outcome[i] != PENDING:  # gave up waiting
                queue.popleft()
                continue
            if not try_dispatch(i):
                return
            queue.popleft()

    def release(j: int) -> None:
        free[j] = True
        drain()

    def give_up(i: int) -> None:
        if outcome[i] == PENDING:
            outcome[i] = MISSED_BUSY

    def arrive(i: int) -> None:
        if not any(on_shift):
            outcome[i] = MISSED_OFF_SHIFT
            return
        if not queue and try_dispatch(i):
            return
        queue.append(i)
        if config.max_wait_minutes == 0:
            give_up(i)
        else:
            env.timeout(config.max_wait_minutes).callbacks.append(lambda _e, i=i: give_up(i))

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
            drain()
            yield env.timeout(b - env.now)
            on_shift[j] = False

    weekday = config.start.weekday()
    shifts = [t.shifts.intervals(weekday, config.days) for t in teams]
    for j, intervals in enumerate(shifts):
        # shifts start before arrivals at the same minute: processes started first run first
        env.process(shift_clock(j, intervals))
    env.process(arrivals())
    env.run()
    scheduled = np.array([sum(b - a for a, b in iv) for iv in shifts], dtype=float)
    on_duty = np.zeros(k)
    for j, intervals in enumerate(shifts):
        mine = team_of == j
        if intervals and mine.any():
            on_duty[j] = np.sum(
                _duty_before(intervals, cleared[mine]) - _duty_before(intervals, dispatched[mine])
            )
    return RunResult(
        outcome, dispatched, arrived, cleared, calls.minute, team_of, busy, scheduled, on_duty
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
        calls = scenario.arrivals.draw(rng, cfg.days, cfg.start.weekday())  # type: ignore[union-attr]
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
    "response_p50",
    "response_p90",
    "wait_p90",
    "utilisation",
    "overtime_minutes",
    "missed_busy",
    "missed_off_shift",
    "calls",
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
        "response_minutes": {"p50": ci["response_p50"], "p90": ci["response_p90"]},
        "wait_minutes": {"p90": ci["wait_p90"]},
        "utilisation": ci["utilisation"],
        "overtime_minutes": ci["overtime_minutes"],
        "missed_busy": ci["missed_busy"],
        "missed_off_shift": ci["missed_off_shift"],
        "calls": ci["calls"],
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

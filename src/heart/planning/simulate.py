"""From a planning store to simulation runs: eligible calls, fitted inputs, sweeps.

The model itself is :mod:`heart.domain.sim`; this module only turns stored calls into
its inputs and writes the JSON summary whose keys docs/planning.md documents.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from heart.domain.geo import TravelModel
from heart.domain.program import Program
from heart.domain.sim import (
    EmpiricalService,
    FixedService,
    Scenario,
    ServiceModel,
    ShiftPlan,
    SimCalls,
    SimConfig,
    SimInputError,
    TimeOfWeekArrivals,
    make_teams,
    run_replications,
)
from heart.planning.eligibility import classify, default_rules_date

DEFAULT_ON_SCENE_MINUTES = 45.0  # used only when no timeline data is given


def eligible_calls(
    program: Program, calls: pl.DataFrame, *, rules_as_of: dt.date | None = None
) -> pl.DataFrame:
    """Eligible calls (type eligible, not excluded), oldest first.

    Calls without a point stay in: the simulator gives them ``unlocated_travel_minutes``.
    """
    df = classify(program, calls, rules_as_of=rules_as_of)
    return df.filter(pl.col("eligible")).sort("received_utc")


def local_midnight(first_utc: dt.datetime, zone: str) -> dt.datetime:
    local = first_utc.astimezone(ZoneInfo(zone))
    return dt.datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone))


def replay_calls(calls: pl.DataFrame, start: dt.datetime) -> tuple[SimCalls, int]:
    """Stored calls as minutes from ``start`` and the number of days they span."""
    if not calls.height:
        raise SimInputError("calls: no eligible calls to replay")
    utc = calls.get_column("received_utc")
    minutes = ((utc - start.astimezone(dt.UTC)).dt.total_seconds() / 60.0).to_numpy()
    days = int(math.ceil((minutes.max() + 1) / 1440.0))
    lon = calls.get_column("lon").cast(pl.Float64).fill_null(np.nan).to_numpy()
    lat = calls.get_column("lat").cast(pl.Float64).fill_null(np.nan).to_numpy()
    return SimCalls.build(minutes, lon, lat, calls.get_column("nature").to_numpy()), days


def fit_arrivals(calls: pl.DataFrame, zone: str) -> TimeOfWeekArrivals:
    if not calls.height:
        raise SimInputError("calls: no eligible calls to fit arrivals on")
    local = calls.get_column("received_utc").dt.convert_time_zone(zone)
    span = calls["received_utc"].max() - calls["received_utc"].min()  # type: ignore[operator]
    weeks = max(span.total_seconds() / (7 * 86400), 1.0)  # type: ignore[union-attr]
    # places and types are resampled from located calls when there are any
    located = calls.filter(pl.col("lon").is_not_null())
    pool = located if located.height else calls
    return TimeOfWeekArrivals.fit(
        (local.dt.weekday() - 1).to_numpy(),
        local.dt.hour().to_numpy(),
        weeks,
        pool.get_column("lon").cast(pl.Float64).fill_null(np.nan).to_numpy(),
        pool.get_column("lat").cast(pl.Float64).fill_null(np.nan).to_numpy(),
        pool.get_column("nature").to_numpy(),
    )


def fit_on_scene(timeline_calls: pl.DataFrame) -> EmpiricalService:
    """On-scene minutes by call type from a store imported with a timeline."""
    if "on_scene_minutes" not in timeline_calls.columns:
        raise SimInputError(
            "on-scene: that store has no timeline (import it with a timeline, e.g. lane-county-mcs)"
        )
    df = timeline_calls.filter(pl.col("on_scene_minutes").is_not_null())
    return EmpiricalService.fit(
        df.get_column("nature").to_list(), df.get_column("on_scene_minutes")
    )


def fit_pre_dispatch(lane: pl.DataFrame) -> tuple[EmpiricalService | None, int]:
    """Pre-dispatch delay from calls that came in while no other call held a team.

    A real request -> dispatch interval is processing (screening, clinician triage,
    deferral) plus queueing for a busy team. When a call arrives while no other call is
    between its dispatch and its departure, a team was free, so its interval is the
    processing part alone: those intervals are resampled (per call type when there are
    enough). Returns the model and how many calls it rests on.
    """
    cols = {"received_utc", "dispatched_utc", "cleared_utc", "request_to_dispatch_minutes"}
    if not cols <= set(lane.columns):
        return None, 0
    busy = lane.filter(pl.col("dispatched_utc").is_not_null() & pl.col("cleared_utc").is_not_null())
    starts = np.sort(busy["dispatched_utc"].dt.epoch("s").to_numpy())
    ends = np.sort(busy["cleared_utc"].dt.epoch("s").to_numpy())
    req = lane["received_utc"].dt.epoch("s").to_numpy()
    # calls holding a team at the request instant = dispatched before it - cleared before it
    holding = np.searchsorted(starts, req, side="right") - np.searchsorted(ends, req, side="right")
    minutes = lane["request_to_dispatch_minutes"].to_numpy()
    idle = (holding <= 0) & np.isfinite(minutes.astype(float))
    if int(idle.sum()) < 20:
        return None, int(idle.sum())
    types = lane["nature"].to_numpy()[idle]
    return EmpiricalService.fit(types, minutes[idle].astype(float)), int(idle.sum())


def default_posts(calls: pl.DataFrame) -> list[tuple[float, float]]:
    """One post at the median point of the calls (robust to a few far-away calls)."""
    located = calls.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    if not located.height:
        raise SimInputError("posts: the calls have no coordinates; give --post LON,LAT")
    return [(float(located["lon"].median()), float(located["lat"].median()))]  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlanInputs:
    """Everything a run needs except the team count and hours."""

    program: str
    rules_version: str
    rules_as_of: dt.date
    start: dt.datetime
    days: int
    service: ServiceModel
    posts: tuple[tuple[float, float], ...]
    travel: TravelModel
    max_wait_minutes: float
    unit_kind: str
    replay: SimCalls | None = None
    arrivals: TimeOfWeekArrivals | None = None
    pre_dispatch: ServiceModel | None = None  # screening/triage before dispatch

    def scenario(self, teams: int, hours: ShiftPlan) -> Scenario:
        cfg = SimConfig(
            self.start,
            self.days,
            make_teams(teams, hours, self.posts, kind=self.unit_kind),
            travel=self.travel,
            max_wait_minutes=self.max_wait_minutes,
            unit_kind=self.unit_kind,
        )
        return Scenario(
            cfg,
            self.service,
            replay=self.replay,
            arrivals=self.arrivals,
            pre_dispatch=self.pre_dispatch,
        )

    def header(self) -> dict:
        return {
            "program": self.program,
            "rules_version": self.rules_version,
            "rules_as_of": self.rules_as_of.isoformat(),
            "arrivals": "replay" if self.replay is not None else "fitted_time_of_week",
            "start": self.start.isoformat(),
            "days": self.days,
            "posts": [list(p) for p in self.posts],
            "travel": {
                "road_factor": self.travel.road_factor,
                "speed_kmh": self.travel.speed_kmh,
                "turnout_minutes": self.travel.turnout_minutes,
            },
            "max_wait_minutes": self.max_wait_minutes,
            "on_scene": self.service.describe(),
            "pre_dispatch": self.pre_dispatch.describe() if self.pre_dispatch else None,
        }


def prepare(
    program: Program,
    calls: pl.DataFrame,
    *,
    rules_as_of: dt.date | None = None,
    arrivals: str = "replay",
    days: int = 365,
    calls_per_year: float | None = None,
    service: ServiceModel | None = None,
    posts: Sequence[tuple[float, float]] | None = None,
    travel: TravelModel | None = None,
    max_wait_minutes: float = 30.0,
    pre_dispatch: ServiceModel | None = None,
) -> PlanInputs:
    rules = rules_as_of or default_rules_date(program)
    eligible = eligible_calls(program, calls, rules_as_of=rules)
    if not eligible.height:
        raise SimInputError(f"calls: none of the stored calls is eligible under {program.name}")
    # the simulated teams are the program's field-team unit: their kind is its kind
    team_unit = program.team_unit
    unit_kind = program.units[team_unit].kind if team_unit is not None else "team"
    start = local_midnight(eligible["received_utc"].min(), program.timezone)  # type: ignore[arg-type]
    replay = model = None
    if arrivals == "replay":
        replay, days = replay_calls(eligible, start)
    elif arrivals == "fitted":
        model = fit_arrivals(eligible, program.timezone)
        if calls_per_year:
            model = model.scaled_to(calls_per_year * days / 365.0, days, start.weekday())
    else:
        raise SimInputError(f"arrivals: {arrivals!r} is not 'replay' or 'fitted'")
    return PlanInputs(
        program=program.name,
        rules_version=program.rules_version,
        rules_as_of=rules,
        start=start,
        days=days,
        service=service or FixedService(DEFAULT_ON_SCENE_MINUTES),
        posts=tuple(posts or default_posts(eligible)),
        travel=travel or TravelModel(),
        max_wait_minutes=max_wait_minutes,
        unit_kind=unit_kind,
        replay=replay,
        arrivals=model,
        pre_dispatch=pre_dispatch,
    )


def run(inputs: PlanInputs, *, teams: int, hours: ShiftPlan, replications: int, seed: int) -> dict:
    summary = run_replications(inputs.scenario(teams, hours), replications=replications, seed=seed)
    return {
        **inputs.header(),
        "teams": teams,
        "hours": hours.label,
        "seed": seed,
        **summary,
    }


def _sweep_one(args: tuple) -> dict:
    inputs, teams, hours, replications, seed = args
    out = run(inputs, teams=teams, hours=hours, replications=replications, seed=seed)
    out.pop("runs")
    return out


def sweep(
    inputs: PlanInputs,
    *,
    team_counts: Sequence[int],
    hour_plans: Sequence[ShiftPlan],
    replications: int,
    seed: int,
    workers: int | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Every team count x hour plan; same seed for each cell (common random numbers)."""
    tasks = [(inputs, t, h, replications, seed) for h in hour_plans for t in team_counts]
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    results: list[dict] = []
    if workers <= 1:
        for task in tasks:
            results.append(_sweep_one(task))
            if on_done:
                on_done(results[-1])
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for row in pool.map(_sweep_one, tasks):
            results.append(row)
            if on_done:
                on_done(row)
    return results

"""From a planning store to simulation runs: eligible calls, fitted inputs, sweeps.

The model itself is :mod:`heart.domain.sim`; this module only turns stored calls into
its inputs, runs replications (in this process, on local processes, or on a Dask
cluster: the same numbers for the same seeds everywhere) and writes the JSON summary
whose keys docs/planning.md documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from heart.domain.geo import TravelModel
from heart.domain.program import NoTeamFreePolicy, Program, normalise_priority
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
    calibrate_travel,
    make_teams,
    run_replication,
    summarise_runs,
    travel_minutes_table,
)
from heart.planning.eligibility import classify, rules_text

DEFAULT_ON_SCENE_MINUTES = 45.0  # used only when no timeline data is given
ENGINES = ("local", "dask")


def eligible_calls(
    program: Program, calls: pl.DataFrame, *, rules_as_of: dt.date | None = None
) -> pl.DataFrame:
    """Eligible calls (type eligible, not excluded), oldest first."""
    df = classify(program, calls, rules_as_of=rules_as_of)
    return df.filter(pl.col("eligible")).sort("received_utc")


def team_area_key(program: Program, area: str | None = None) -> str:
    """The area the simulated teams serve: ``area``, else the team unit's newest one."""
    if area is not None:
        if area not in program.areas:
            raise SimInputError(
                f"area: no area {area!r} in {program.name} ({sorted(program.areas)})"
            )
        return area
    unit = program.team_unit
    if unit is None:
        return next(iter(program.areas))
    newest = max(program.units[unit].periods, key=lambda p: p.start)
    return newest.area


def outside_area(program: Program, calls: pl.DataFrame, area_key: str) -> np.ndarray:
    """True for calls placed outside the area: by beat when the area lists beats and the
    call has one, else by point (a call with neither is *no location*, not outside)."""
    area = program.areas[area_key]
    n = calls.height
    lon = calls.get_column("lon").cast(pl.Float64).fill_null(np.nan).to_numpy()
    lat = calls.get_column("lat").cast(pl.Float64).fill_null(np.nan).to_numpy()
    has_point = np.isfinite(lon) & np.isfinite(lat)
    beat = calls.get_column("beat") if "beat" in calls.columns else pl.Series([None] * n)
    has_beat = beat.is_not_null().to_numpy() if area.beats else np.zeros(n, dtype=bool)
    inside = np.zeros(n, dtype=bool)
    if area.beats:
        inside[has_beat] = beat.is_in(sorted(area.beats)).fill_null(False).to_numpy()[has_beat]
    by_point = ~has_beat & has_point
    if area.geometry is not None and by_point.any():
        inside[by_point] = area.contains_points(lon[by_point], lat[by_point])
    known = has_beat | (by_point & (area.geometry is not None))
    return known & ~inside


def local_midnight(first_utc: dt.datetime, zone: str) -> dt.datetime:
    local = first_utc.astimezone(ZoneInfo(zone))
    return dt.datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone))


def _priorities(calls: pl.DataFrame) -> np.ndarray | None:
    if "priority" not in calls.columns:
        return None
    return np.array([normalise_priority(p) for p in calls["priority"].to_list()], dtype=object)


def replay_calls(
    calls: pl.DataFrame, start: dt.datetime, outside: np.ndarray | None = None
) -> tuple[SimCalls, int]:
    """Stored calls as minutes from ``start`` and the number of days they span."""
    if not calls.height:
        raise SimInputError("calls: no eligible calls to replay")
    utc = calls.get_column("received_utc")
    minutes = ((utc - start.astimezone(dt.UTC)).dt.total_seconds() / 60.0).to_numpy()
    days = int(math.ceil((minutes.max() + 1) / 1440.0))
    lon = calls.get_column("lon").cast(pl.Float64).fill_null(np.nan).to_numpy()
    lat = calls.get_column("lat").cast(pl.Float64).fill_null(np.nan).to_numpy()
    sim = SimCalls.build(
        minutes, lon, lat, calls.get_column("nature").to_numpy(), _priorities(calls), outside
    )
    return sim, days


def fit_arrivals(
    calls: pl.DataFrame, zone: str, outside: np.ndarray | None = None
) -> TimeOfWeekArrivals:
    """Hour-of-week rates (local time) and the calls to resample places and types from."""
    if not calls.height:
        raise SimInputError("calls: no eligible calls to fit arrivals on")
    local = calls.get_column("received_utc").dt.convert_time_zone(zone)
    span = calls["received_utc"].max() - calls["received_utc"].min()  # type: ignore[operator]
    weeks = max(span.total_seconds() / (7 * 86400), 1.0)  # type: ignore[union-attr]
    return TimeOfWeekArrivals.fit(
        (local.dt.weekday() - 1).to_numpy(),
        local.dt.hour().to_numpy(),
        weeks,
        calls.get_column("lon").cast(pl.Float64).fill_null(np.nan).to_numpy(),
        calls.get_column("lat").cast(pl.Float64).fill_null(np.nan).to_numpy(),
        calls.get_column("nature").to_numpy(),
        _priorities(calls),
        outside,
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


def fit_travel(
    timeline_calls: pl.DataFrame, posts: Sequence[tuple[float, float]], base: TravelModel
) -> tuple[TravelModel, dict]:
    """Travel calibrated to a store's real dispatch -> arrival times (calls with points):
    driving minutes from the nearest post by the base model against the real times."""
    if "dispatch_to_arrival_minutes" not in timeline_calls.columns:
        raise SimInputError("travel: that store has no timeline (dispatch -> arrival times)")
    df = timeline_calls.filter(
        pl.col("lon").is_not_null()
        & pl.col("lat").is_not_null()
        & pl.col("dispatch_to_arrival_minutes").is_not_null()
    )
    if df.height < 20:
        raise SimInputError(
            f"travel: {df.height} calls with a point and a dispatch -> arrival time; "
            "at least 20 are needed"
        )
    drive = nearest_post_drive(df["lon"].to_numpy(), df["lat"].to_numpy(), posts, base)
    return calibrate_travel(base, drive, df["dispatch_to_arrival_minutes"].to_numpy())


def nearest_post_drive(lon, lat, posts, model: TravelModel) -> np.ndarray:
    """Driving minutes (turnout left out) from the nearest post to each point."""
    cols = [
        model.minutes_array(np.asarray(lon, float), np.asarray(lat, float), px, py)
        for px, py in posts
    ]
    return np.min(np.column_stack(cols), axis=1) - model.turnout_minutes


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
    rules_as_of: dt.date | None
    start: dt.datetime
    days: int
    service: ServiceModel
    posts: tuple[tuple[float, float], ...]
    travel: TravelModel
    policy: NoTeamFreePolicy
    route: str
    unit_kind: str
    replay: SimCalls | None = None
    arrivals: TimeOfWeekArrivals | None = None
    pre_dispatch: ServiceModel | None = None  # screening/triage before dispatch
    unlocated_travel_minutes: float | None = None
    serve_outside_area: bool = False
    area: str = ""
    holidays: frozenset[dt.date] = frozenset()
    closed_on_holidays: bool = False
    return_to_post: bool = True
    notes: dict = field(default_factory=dict)  # counts, time zone, travel fit: stated as is

    def scenario(self, teams: int, hours: ShiftPlan) -> Scenario:
        if self.closed_on_holidays and not hours.closed_on_holidays:
            hours = dataclasses.replace(hours, closed_on_holidays=True)
        cfg = SimConfig(
            self.start,
            self.days,
            make_teams(teams, hours, self.posts, kind=self.unit_kind),
            travel=self.travel,
            policy=self.policy,
            route=self.route,
            unlocated_travel_minutes=self.unlocated_travel_minutes,
            serve_outside_area=self.serve_outside_area,
            unit_kind=self.unit_kind,
            holidays=self.holidays,
            return_to_post=self.return_to_post,
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
            "rules_as_of": self.rules_as_of.isoformat() if self.rules_as_of else None,
            "rules": rules_text(self.rules_as_of),
            "arrivals": "replay" if self.replay is not None else "fitted_time_of_week",
            "start": self.start.isoformat(),
            "days": self.days,
            "posts": [list(p) for p in self.posts],
            "travel": {
                "road_factor": self.travel.road_factor,
                "speed_kmh": self.travel.speed_kmh,
                "turnout_minutes": self.travel.turnout_minutes,
                "return_to_post": self.return_to_post,
                **self.notes.get("travel", {}),
            },
            "no_team_free": {**self.policy.as_dict(), "source": self.notes.get("policy_source")},
            "area": self.area,
            "calls_outside_area": (
                "served (--serve-outside-area)"
                if self.serve_outside_area
                else "counted apart (outside_area), never reached"
            ),
            "calls_without_location": (
                f"served with an assumed {self.unlocated_travel_minutes:g} min travel time "
                "(--unlocated-travel)"
                if self.unlocated_travel_minutes is not None
                else "counted apart (no_location), never reached"
            ),
            "unlocated_travel_minutes": self.unlocated_travel_minutes,
            "holidays": {
                "closed_on_holidays": self.closed_on_holidays,
                "dates": sorted(d.isoformat() for d in self.holidays)
                if self.closed_on_holidays
                else [],
            },
            "time_zone": self.notes.get("time_zone"),
            "counts": self.notes.get("counts"),
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
    policy: NoTeamFreePolicy | None = None,
    pre_dispatch: ServiceModel | None = None,
    unlocated_travel_minutes: float | None = None,
    serve_outside_area: bool = False,
    area: str | None = None,
    rows_read: int | None = None,
    notes: dict | None = None,
) -> PlanInputs:
    """``policy`` None: the program's own [no_team_free] setting (the live one)."""
    eligible = eligible_calls(program, calls, rules_as_of=rules_as_of)
    if not eligible.height:
        hint = ""
        if rules_as_of is None and program.first_effective_date:
            hint = (
                f" by each call's own date (the program starts {program.first_effective_date}; "
                f"--rules-as-of {program.first_effective_date} replays history under its rules)"
            )
        raise SimInputError(
            f"calls: none of the stored calls is eligible under {program.name}{hint}"
        )
    # the simulated teams are the program's field-team unit: their kind and route are its
    team_unit = program.team_unit
    unit_kind = program.units[team_unit].kind if team_unit is not None else "team"
    route = program.team_route or "crt"
    area_key = team_area_key(program, area)
    outside = outside_area(program, eligible, area_key)
    start = local_midnight(eligible["received_utc"].min(), program.timezone)  # type: ignore[arg-type]
    replay = model = None
    if arrivals == "replay":
        replay, days = replay_calls(eligible, start, outside)
    elif arrivals == "fitted":
        model = fit_arrivals(eligible, program.timezone, outside)
        if calls_per_year:
            model = model.scaled_to(calls_per_year * days / 365.0, days, start.weekday())
    else:
        raise SimInputError(f"arrivals: {arrivals!r} is not 'replay' or 'fitted'")
    closed = False
    if team_unit is not None:
        newest = max(program.units[team_unit].periods, key=lambda p: p.start)
        closed = newest.closed_on_holidays
    end_year = (start + dt.timedelta(days=days)).year
    holidays = program.holidays.dates_between(start.year, end_year) if closed else frozenset()
    all_calls = rows_read if rows_read is not None else calls.height
    counts = {
        "rows_read": all_calls,
        "kept": calls.height,
        "eligible": eligible.height,
        "eligible_share_of_all_calls": eligible.height / all_calls if all_calls else None,
        "eligible_outside_area": int(outside.sum()),
        "eligible_without_location": int(
            eligible.filter(pl.col("lon").is_null() | pl.col("lat").is_null()).height
        ),
    }
    notes = {
        **(notes or {}),
        "counts": {**(notes or {}).get("counts", {}), **counts},
        "policy_source": (notes or {}).get(
            "policy_source", f"{program.name} [no_team_free]" if policy is None else "override"
        ),
    }
    return PlanInputs(
        program=program.name,
        rules_version=program.rules_version,
        rules_as_of=rules_as_of,
        start=start,
        days=days,
        service=service or FixedService(DEFAULT_ON_SCENE_MINUTES),
        posts=tuple(posts or default_posts(eligible)),
        travel=travel or TravelModel(),
        policy=policy or program.no_team_free,
        route=route,
        unit_kind=unit_kind,
        replay=replay,
        arrivals=model,
        pre_dispatch=pre_dispatch,
        unlocated_travel_minutes=unlocated_travel_minutes,
        serve_outside_area=serve_outside_area,
        area=f"{area_key}: {program.areas[area_key].label}",
        holidays=holidays,
        closed_on_holidays=closed,
        notes=notes,
    )


# --------------------------------------------------------------------------------------
# running: one replication is one task, seeded by (seed, replication), wherever it runs
# --------------------------------------------------------------------------------------


def run_task(inputs: PlanInputs, teams: int, hours: ShiftPlan, seed: int, rep: int) -> dict:
    """The metrics of one replication of one plan (the unit of work of every engine)."""
    scenario = inputs.scenario(teams, hours)
    table = None
    if scenario.replay is not None:
        posts = sorted({(t.base_lon, t.base_lat) for t in scenario.config.teams})
        table = travel_minutes_table(scenario.replay, posts, scenario.config)
    return run_replication(scenario, seed, rep, table).metrics()


_worker_inputs: PlanInputs | None = None


def _init_worker(inputs: PlanInputs) -> None:
    global _worker_inputs
    _worker_inputs = inputs


def _worker_task(task: tuple[int, ShiftPlan, int, int]) -> dict:
    assert _worker_inputs is not None
    return run_task(_worker_inputs, *task)


def _cell(inputs: PlanInputs, teams: int, hours: ShiftPlan, seed: int, runs: list[dict]) -> dict:
    summary = summarise_runs(runs)
    # the share of *all* calls (every row read) a plan reaches: eligible calls are a part
    counts = inputs.notes.get("counts") or {}
    scale = (
        counts["eligible"] / counts["rows_read"]
        if counts.get("rows_read") and counts.get("eligible")
        else None
    )
    share = summary["share_reached"]
    summary["share_reached_of_all_calls"] = (
        {k: (v * scale if k != "n" else v) for k, v in share.items()} if scale else None
    )
    return {"teams": teams, "hours": hours.label, "seed": seed, **summary}


def sweep(
    inputs: PlanInputs,
    *,
    team_counts: Sequence[int],
    hour_plans: Sequence[ShiftPlan],
    replications: int,
    seed: int,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    on_done: Callable[[dict], None] | None = None,
    keep_runs: bool = False,
) -> list[dict]:
    """Every team count x hour plan x replication; the same seeds for every cell (common
    random numbers), so differences between plans are not noise from different draws.

    ``engine``: ``local`` (this process with one worker, else local processes) or
    ``dask`` (a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``);
    every engine gives the same numbers for the same seed.
    """
    if replications < 1:
        raise SimInputError(f"replications: at least 1, found {replications}")
    if engine not in ENGINES:
        raise SimInputError(f"engine: {engine!r} is not one of {ENGINES}")
    cells = [(t, h) for h in hour_plans for t in team_counts]
    tasks = [(t, h, seed, r) for t, h in cells for r in range(replications)]
    if engine == "dask":
        metrics = _run_dask(inputs, tasks, workers, scheduler)
    else:
        workers = workers or min(len(cells), os.cpu_count() or 1)
        if workers <= 1:
            metrics = [run_task(inputs, *task) for task in tasks]
        else:
            with ProcessPoolExecutor(
                max_workers=workers, initializer=_init_worker, initargs=(inputs,)
            ) as pool:
                metrics = list(pool.map(_worker_task, tasks, chunksize=max(1, replications // 2)))
    rows = []
    for c, (t, h) in enumerate(cells):
        runs = metrics[c * replications : (c + 1) * replications]
        row = _cell(inputs, t, h, seed, runs)
        if not keep_runs:
            row.pop("runs")
        rows.append(row)
        if on_done:
            on_done(row)
    return rows


def _run_dask(
    inputs: PlanInputs, tasks: list[tuple], workers: int | None, scheduler: str | None
) -> list[dict]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SimInputError(
            "engine dask: Dask is not installed (pip install 'heart[distributed]')"
        ) from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        shared = client.scatter(inputs, broadcast=True)
        futures = [client.submit(run_task, shared, *task, pure=False) for task in tasks]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(
    inputs: PlanInputs,
    *,
    teams: int,
    hours: ShiftPlan,
    replications: int,
    seed: int,
    workers: int | None = 1,
    engine: str = "local",
    scheduler: str | None = None,
) -> dict:
    """One plan: the header, the summary and the per-replication values."""
    (row,) = sweep(
        inputs,
        team_counts=[teams],
        hour_plans=[hours],
        replications=replications,
        seed=seed,
        workers=workers,
        engine=engine,
        scheduler=scheduler,
        keep_runs=True,
    )
    return {**inputs.header(), **row}

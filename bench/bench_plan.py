"""Planning simulation benchmark (not run by the tests).

    .venv/bin/python bench/bench_plan.py                 # all figures
    .venv/bin/python bench/bench_plan.py --quick         # 2 replications per sweep cell
    .venv/bin/python bench/bench_plan.py --skip-sweep    # the one-year figure only

1. One simulated year: 25,000 eligible calls, 6 teams on 24/7 shifts (the worst case:
   every call goes through the recommendation), Durham-shaped arrivals and points,
   on-scene minutes from Lane County when ../shared is present, Durham's policy (no team
   free: fall back at once), teams driving back to their posts. Target: <= 0.5 s.
2. A sweep: 5 team counts x 4 hour plans x 20 replications = 400 simulated years,
   arrivals redrawn each replication from the fitted hour-of-week process (25,000 a
   year), on 2 local processes. Target: <= 60 s on this 2-core machine.
3. The same sweep cells on Dask (a LocalCluster, `pip install -e '.[distributed]'`) with 1
   and then 2 worker processes: the speed-up from 1 to 2 workers, and a check that Dask
   gives exactly the local numbers for the same seed (skipped when Dask is missing).
4. Seeded runs are reproducible: the one-year run in two fresh processes with different
   PYTHONHASHSEED must print the same figures.

Wall times on a shared machine are noisy: the CPU time of the process is printed beside
the one-year wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from heart.batch.synthetic import HOURLY_WEIGHTS
from heart.domain.program_file import load_program
from heart.domain.sim import (
    FixedService,
    ShiftPlan,
    SimCalls,
    SimConfig,
    TimeOfWeekArrivals,
    make_teams,
    simulate,
    travel_minutes_table,
)
from heart.planning.simulate import PlanInputs, sweep

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared")) / "data"
ZONE = ZoneInfo("America/New_York")
START = dt.datetime(2024, 1, 1, tzinfo=ZONE)  # a Monday
CALLS_PER_YEAR = 25_000
HOUR_PLANS = ("Mon-Fri 08:00-17:00", "daily 08:00-20:00", "daily 07:00-23:00", "24/7")
TEAM_COUNTS = (2, 3, 4, 5, 6)
POSTS = ((-78.9, 35.99), (-78.93, 36.03))


def points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    city = load_program("durham-heart-2023").areas["city"].geometry
    minx, miny, maxx, maxy = city.bounds
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < n:
        x, y = rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)
        keep = shapely.contains_xy(city, x, y)
        lon, lat = np.concatenate([lon, x[keep]]), np.concatenate([lat, y[keep]])
    return lon[:n], lat[:n]


def service() -> tuple[object, str]:
    lane = SHARED / "lane_county/mcslc_dispatches_2024-08_to_2025-06.csv"
    if not lane.exists():
        return FixedService(45.0), "fixed 45 min (../shared missing)"
    import tempfile

    from heart.domain.mapping import load_mapping
    from heart.planning.simulate import fit_on_scene
    from heart.planning.store import CallTypeTable, Timeline, import_calls, load_store

    mapping = load_mapping("lane-county-mcs")
    with tempfile.TemporaryDirectory() as tmp:
        import_calls(
            input_path=lane,
            mapping=mapping,
            out_dir=Path(tmp),
            call_types=CallTypeTable.load(Path("lane-county-mcs")),
            timeline=Timeline.builtin_for(mapping),
            allow_rejects=True,  # 77 of 2,191 rows have no request time
        )
        return fit_on_scene(load_store(Path(tmp))), "Lane County MCS, by call type"


def workload():
    rng = np.random.default_rng(2024)
    # hour-of-week shape: the synthetic daily curve, weekends 10% lighter
    weekly = np.tile(HOURLY_WEIGHTS, 7) * np.repeat([1, 1, 1, 1, 1, 0.9, 0.9], 24)
    lon, lat = points(5000, rng)
    natures = np.array(
        ["CRISIS", "TRESPASS OR UNWANTED", "WELFARE CHECK", "SUICIDE THREAT"], object
    )
    types = natures[rng.integers(0, len(natures), 5000)]
    arrivals = TimeOfWeekArrivals(weekly, lon, lat, types).scaled_to(CALLS_PER_YEAR, 365)
    # one year, exactly 25,000 calls
    hours = np.arange(365 * 24)
    p = arrivals.rate_per_hour[hours % 168]
    minute = np.sort(
        rng.choice(hours, CALLS_PER_YEAR, p=p / p.sum()) * 60.0 + rng.uniform(0, 60, CALLS_PER_YEAR)
    )
    pick = rng.integers(0, len(lon), CALLS_PER_YEAR)
    calls = SimCalls(minute, lon[pick], lat[pick], types[pick])
    return arrivals, calls


def one_year(calls, on_scene, policy) -> tuple[float, float, dict]:
    cfg = SimConfig(START, 365, make_teams(6, ShiftPlan.parse("24/7"), POSTS), policy=policy)
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        draws = on_scene.sample(np.random.default_rng(1), calls.call_type)
        table = travel_minutes_table(
            calls, sorted({(t.base_lon, t.base_lat) for t in cfg.teams}), cfg
        )
        result = simulate(calls, draws, cfg, travel_table=table)
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, result.metrics()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the sweep's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask-replications", type=int, default=5)
    parser.add_argument("--print-one-year", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    program = load_program("durham-heart-2023")
    arrivals, calls = workload()
    on_scene, on_scene_label = service()
    if args.print_one_year:  # the reproducibility check's child process
        _, _, m = one_year(calls, on_scene, program.no_team_free)
        print(f"{m['share_reached']:.6f} {m['response_p90']:.6f} {m['utilisation']:.6f}")
        return 0
    print(
        f"{dt.date.today()} python {sys.version.split()[0]}, {os.cpu_count()} CPUs "
        f"(machine shared: wall times are noisy); on-scene: {on_scene_label}; "
        f"policy: {program.no_team_free.describe()}"
    )

    # 1. one year
    wall, cpu, m = one_year(calls, on_scene, program.no_team_free)
    print(
        f"one year: {len(calls):,} calls, 6 teams 24/7: {wall:.2f} s wall, {cpu:.2f} s CPU "
        f"(best of 3; target <= 0.5 s); reached {m['share_reached']:.1%}, response mean "
        f"{m['response_mean']:.1f} / p50 {m['response_p50']:.1f} / p90 "
        f"{m['response_p90']:.1f} min, utilisation {m['utilisation']:.0%}"
    )

    # 4. reproducible across processes (PYTHONHASHSEED changes set/dict-of-str order)
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, __file__, "--print-one-year"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout.strip())
    print(
        f"one year in two processes (PYTHONHASHSEED 1 and 2): "
        f"{'identical' if len(outputs) == 1 else 'DIFFERENT'}: {sorted(outputs)}"
    )
    if args.skip_sweep:
        return 0

    # 2. the sweep on local processes
    reps = 2 if args.quick else 20
    inputs = PlanInputs(
        program="bench",
        rules_version="bench",
        rules_as_of=None,
        start=START,
        days=365,
        service=on_scene,
        posts=POSTS,
        travel=SimConfig(START, 1, make_teams(1, ShiftPlan.parse("24/7"), POSTS)).travel,
        policy=program.no_team_free,
        route="crt",
        unit_kind="crt",
        arrivals=arrivals,
    )
    plans = [ShiftPlan.parse(h) for h in HOUR_PLANS]
    t0, c0 = time.perf_counter(), cpu_seconds()
    rows = sweep(
        inputs,
        team_counts=TEAM_COUNTS,
        hour_plans=plans,
        replications=reps,
        seed=7,
        workers=args.workers,
    )
    took, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(
        f"sweep: {len(TEAM_COUNTS)} team counts x {len(HOUR_PLANS)} hour plans x {reps} "
        f"replications = {len(rows) * reps} simulated years on {args.workers} local processes: "
        f"{took:.1f} s wall (target <= 60 s); {cpu:.1f} CPU-seconds in all processes, i.e. "
        f"{cpu / args.workers:.1f} s on {args.workers} otherwise idle cores"
    )
    for r in rows:
        print(
            f"  {r['teams']} teams {r['hours']:<20} reached {r['share_reached']['mean']:.1%} "
            f"[{r['share_reached']['low']:.1%}-{r['share_reached']['high']:.1%}]  "
            f"mean {r['response_minutes']['mean']['mean']:.1f} "
            f"p90 {r['response_minutes']['p90']['mean']:.1f} min  "
            f"util {r['utilisation']['mean']:.0%}"
        )

    # 3. Dask: 1 -> 2 workers, and the same numbers as the local run
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        print("dask: not installed (pip install -e '.[distributed]'): skipped")
        return 0
    dreps = args.dask_replications
    local = sweep(
        inputs, team_counts=TEAM_COUNTS, hour_plans=plans, replications=dreps, seed=7, workers=1
    )
    times = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        got = sweep(
            inputs,
            team_counts=TEAM_COUNTS,
            hour_plans=plans,
            replications=dreps,
            seed=7,
            workers=workers,
            engine="dask",
        )
        times[workers] = time.perf_counter() - t0
        same = got == local
        print(
            f"dask LocalCluster, {workers} worker process(es): {len(got) * dreps} simulated "
            f"years in {times[workers]:.1f} s (cluster start included); "
            f"{'identical to' if same else 'DIFFERENT from'} the local run"
        )
    print(f"dask speed-up 1 -> 2 workers: {times[1] / times[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

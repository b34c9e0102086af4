"""Planning simulation benchmark (not run by the tests).

    .venv/bin/python bench/bench_plan.py            # both figures
    .venv/bin/python bench/bench_plan.py --quick    # 2 replications per sweep cell

1. One simulated year: 25,000 eligible calls, 6 teams on 24/7 shifts (the worst case:
   every call goes through the recommendation), Durham-shaped arrivals and points,
   on-scene minutes from Lane County when ../shared is present. Target: <= 2 s.
2. A sweep: 5 team counts x 4 hour plans x 20 replications, arrivals redrawn each
   replication from the fitted hour-of-week process (25,000 a year), on 2 processes.
   Target: <= 2 min on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
        )
        return fit_on_scene(load_store(Path(tmp))), "Lane County MCS, by call type"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    # hour-of-week shape: the synthetic daily curve, weekends 10% lighter
    weekly = np.tile(HOURLY_WEIGHTS, 7) * np.repeat([1, 1, 1, 1, 1, 0.9, 0.9], 24)
    lon, lat = points(5000, rng)
    natures = np.array(
        ["CRISIS", "TRESPASS OR UNWANTED", "WELFARE CHECK", "SUICIDE THREAT"], object
    )
    types = natures[rng.integers(0, len(natures), 5000)]
    arrivals = TimeOfWeekArrivals(weekly, lon, lat, types).scaled_to(CALLS_PER_YEAR, 365)
    on_scene, on_scene_label = service()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; on-scene: {on_scene_label}")

    # 1. one year, exactly 25,000 calls, 6 teams 24/7
    hours = np.arange(365 * 24)
    p = arrivals.rate_per_hour[hours % 168]
    minute = np.sort(
        rng.choice(hours, CALLS_PER_YEAR, p=p / p.sum()) * 60.0 + rng.uniform(0, 60, CALLS_PER_YEAR)
    )
    pick = rng.integers(0, len(lon), CALLS_PER_YEAR)
    calls = SimCalls(minute, lon[pick], lat[pick], types[pick])
    cfg = SimConfig(
        START, 365, make_teams(6, ShiftPlan.parse("24/7"), [(-78.9, 35.99), (-78.93, 36.03)])
    )
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        draws = on_scene.sample(np.random.default_rng(1), calls.call_type)
        table = travel_minutes_table(
            calls, sorted({(t.base_lon, t.base_lat) for t in cfg.teams}), cfg
        )
        result = simulate(calls, draws, cfg, travel_table=table)
        best = min(best, time.perf_counter() - t0)
    m = result.metrics()
    print(
        f"one year: {len(calls):,} calls, 6 teams 24/7: {best:.2f} s (best of 3; target <= 2 s); "
        f"share reached {m['share_reached']:.1%}, p90 response {m['response_p90']:.1f} min, "
        f"utilisation {m['utilisation']:.0%}"
    )

    # 2. the sweep
    reps = 2 if args.quick else 20
    inputs = PlanInputs(
        program="bench",
        rules_version="bench",
        rules_as_of=START.date(),
        start=START,
        days=365,
        service=on_scene,
        posts=((-78.9, 35.99), (-78.93, 36.03)),
        travel=cfg.travel,
        max_wait_minutes=30.0,
        unit_kind="crt",
        arrivals=arrivals,
    )
    t0 = time.perf_counter()
    rows = sweep(
        inputs,
        team_counts=TEAM_COUNTS,
        hour_plans=[ShiftPlan.parse(h) for h in HOUR_PLANS],
        replications=reps,
        seed=7,
        workers=args.workers,
    )
    took = time.perf_counter() - t0
    print(
        f"sweep: {len(TEAM_COUNTS)} team counts x {len(HOUR_PLANS)} hour plans x {reps} replications "
        f"= {len(rows) * reps} simulated years on {args.workers} processes: {took:.1f} s "
        "(target <= 120 s)"
    )
    for r in rows:
        print(
            f"  {r['teams']} teams {r['hours']:<20} share reached {r['share_reached']['mean']:.1%} "
            f"[{r['share_reached']['low']:.1%}-{r['share_reached']['high']:.1%}]  "
            f"p90 {r['response_minutes']['p90']['mean']:.1f} min  util {r['utilisation']['mean']:.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validation against Lane County MCS records: simulated vs real response intervals.

The Lane County export has request, dispatch, arrival and departure times but, being
de-identified, no addresses: only the city. The validation therefore

* replays the real request times and call types,
* draws each call's point uniformly in a disc around its city's centre (radii below),
  with the teams posted in central Eugene,
* resamples on-scene minutes from the same records (by call type),
* lets calls wait up to the longest real request -> dispatch interval,

and compares the three intervals with quantile plots and the two-sample KS statistic
for a few team counts (the real staffing is not in the data).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from heart.domain.geo import TravelModel
from heart.domain.sim import (
    REACHED,
    Scenario,
    ShiftPlan,
    SimCalls,
    SimConfig,
    ks_statistic,
    make_teams,
    quantiles,
    run_replication,
)
from heart.planning import charts
from heart.planning.simulate import fit_on_scene, fit_pre_dispatch, local_midnight

LANE_ZONE = "America/Los_Angeles"
# (lon, lat, radius km): city centres; radii ~ sqrt(city area / pi) (Eugene ~115 km²,
# Springfield ~40 km²); "Other" is the rest of the metro and county fringe served.
CITY_DISCS = {
    "EUGENE": (-123.0868, 44.0521, 6.0),
    "SPRINGFIELD": (-122.9870, 44.0462, 3.6),
}
OTHER_DISC = (-123.0868, 44.0521, 15.0)
POST = (-123.0920, 44.0520)  # downtown Eugene
INTERVALS = (
    ("request_to_dispatch", "request -> dispatch"),
    ("dispatch_to_arrival", "dispatch -> arrival"),
    ("on_scene", "arrival -> departure"),
)
PROBS = (0.1, 0.25, 0.5, 0.75, 0.9)


def place_calls(
    cities: list[str | None], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in each call's city disc (area-uniform: radius ~ sqrt(u))."""
    n = len(cities)
    lon0, lat0, radius = (np.empty(n) for _ in range(3))
    for i, c in enumerate(cities):
        lon0[i], lat0[i], radius[i] = CITY_DISCS.get((c or "").strip().upper(), OTHER_DISC)
    r_km = radius * np.sqrt(rng.uniform(0, 1, n))
    theta = rng.uniform(0, 2 * np.pi, n)
    lat = lat0 + (r_km * np.sin(theta)) / 111.32
    lon = lon0 + (r_km * np.cos(theta)) / (111.32 * np.cos(np.radians(lat0)))
    return lon, lat


def validate(
    lane: pl.DataFrame,
    *,
    team_counts: tuple[int, ...] = (1, 2, 3),
    hours: str = "24/7",
    seed: int = 1,
    replications: int = 5,
    out_dir: Path | None = None,
    travel: TravelModel | None = None,
) -> dict:
    needed = {"request_to_dispatch_minutes", "dispatch_to_arrival_minutes", "on_scene_minutes"}
    if not needed <= set(lane.columns):
        raise ValueError("validation: the store has no timeline (import with lane-county-mcs)")
    lane = lane.sort("received_utc")
    real = {name: lane[f"{name}_minutes"].drop_nulls().to_numpy() for name, _ in INTERVALS}
    start = local_midnight(lane["received_utc"].min(), LANE_ZONE)  # type: ignore[arg-type]
    minutes = ((lane["received_utc"] - start.astimezone(dt.UTC)).dt.total_seconds() / 60).to_numpy()
    days = int(minutes.max() // 1440) + 1
    rng = np.random.default_rng(seed)
    city = lane["city"].to_list() if "city" in lane.columns else [None] * lane.height
    lon, lat = place_calls(city, rng)
    calls = SimCalls.build(minutes, lon, lat, lane["nature"].to_numpy())
    service = fit_on_scene(lane)
    max_wait = (
        float(real["request_to_dispatch"].max()) if len(real["request_to_dispatch"]) else 60.0
    )
    model = travel or TravelModel()
    plan = ShiftPlan.parse(hours)

    pre_dispatch, idle_calls = fit_pre_dispatch(lane)
    variants = [("queueing only", None)]
    if pre_dispatch is not None:
        variants.append(("with pre-dispatch delay", pre_dispatch))

    by_teams = []
    for (variant, delay), n in ((v, n) for v in variants for n in team_counts):
        cfg = SimConfig(
            start, days, make_teams(n, plan, [POST]), travel=model, max_wait_minutes=max_wait
        )
        scenario = Scenario(cfg, service, replay=calls, pre_dispatch=delay)
        sim = {name: [] for name, _ in INTERVALS}
        reached = []
        for rep in range(replications):
            r = run_replication(scenario, seed, rep)
            ok = r.outcome == REACHED
            reached.append(float(ok.mean()))
            sim["request_to_dispatch"].append(r.dispatched[ok] - r.arrival[ok])
            sim["dispatch_to_arrival"].append(r.arrived[ok] - r.dispatched[ok])
            sim["on_scene"].append(r.cleared[ok] - r.arrived[ok])
        pooled = {k: np.concatenate(v) for k, v in sim.items()}
        row = {
            "teams": n,
            "model": variant,
            "share_reached": float(np.mean(reached)),
            "intervals": {},
        }
        for name, label in INTERVALS:
            d = ks_statistic(real[name], pooled[name])
            row["intervals"][name] = {
                "label": label,
                "ks": d,
                "real_quantiles": dict(
                    zip(map(str, PROBS), quantiles(real[name], PROBS), strict=True)
                ),
                "sim_quantiles": dict(
                    zip(map(str, PROBS), quantiles(pooled[name], PROBS), strict=True)
                ),
                "real_n": int(len(real[name])),
            }
            if out_dir is not None:
                suffix = "" if delay is None else "_delay"
                charts.quantile_plot(
                    real[name],
                    pooled[name],
                    out_dir / f"qq_{name}_{n}teams{suffix}.png",
                    title=f"{label}, {n} team(s), {variant}",
                    ks=d,
                )
        by_teams.append(row)
    best = min(by_teams, key=lambda r: r["intervals"]["request_to_dispatch"]["ks"])
    queueing_only = [r for r in by_teams if r["model"] == "queueing only"]
    best_queueing = min(queueing_only, key=lambda r: r["intervals"]["request_to_dispatch"]["ks"])
    return {
        "source": "Lane County MCS dispatches (de-identified; city only)",
        "calls": lane.height,
        "days": days,
        "hours": plan.label,
        "replications": replications,
        "seed": seed,
        "max_wait_minutes": max_wait,
        "post": list(POST),
        "travel": {
            "road_factor": model.road_factor,
            "speed_kmh": model.speed_kmh,
            "turnout_minutes": model.turnout_minutes,
        },
        "pre_dispatch": {
            "fitted_from_idle_calls": idle_calls,
            "model": pre_dispatch.describe() if pre_dispatch is not None else None,
        },
        "by_teams": by_teams,
        "best_teams_by_request_to_dispatch": best_queueing["teams"],
        "best_overall": {"teams": best["teams"], "model": best["model"]},
    }

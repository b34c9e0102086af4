"""Validation of the simulator against real response records: in sample, and held out.

``validate_held_out`` (``heart plan validate``) splits a store with a timeline at a date:
every fitted input — arrivals (hour-of-week rates, call types, places), on-scene
minutes, the delay before dispatch, the travel calibration — is fitted on the calls
before the date only; the team count is chosen on that fit period too. The later calls
are never seen by the fit: the simulation of the test period is compared with them,
interval by interval (p50, p90, mean, their ratios, the two-sample KS statistic and a
quantile plot), for each team count tried.

Real intervals are taken straight from the recorded times: every interval of the test
period that is >= 0, with no upper cap (the store's own interval columns drop values
over the timeline's limit as slips; the report says how many each count leaves out).

Places: exports like Lane County's are de-identified to the city, so each call gets a
point drawn uniformly in a disc around its city's centre (radii below) with the teams
posted in central Eugene; a store with coordinates uses them.

``validate`` is the older in-sample comparison (``heart plan report --lane``): inputs
fitted on the same records it compares with, which the report labels as in-sample.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from heart.domain.geo import TravelModel
from heart.domain.program import NoTeamFreePolicy
from heart.domain.sim import (
    REACHED,
    EmpiricalService,
    Scenario,
    ShiftPlan,
    SimCalls,
    SimConfig,
    SimInputError,
    TimeOfWeekArrivals,
    calibrate_travel,
    ks_statistic,
    make_teams,
    quantiles,
    run_replication,
)
from heart.planning import charts, jsonsafe
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
# (name, label, from column, to column): the three intervals a response is judged by
VALIDATED = (
    ("request_to_dispatch", "request -> dispatch", "received_utc", "dispatched_utc"),
    ("dispatch_to_arrival", "dispatch -> arrival", "dispatched_utc", "arrived_utc"),
    ("arrival_to_departure", "arrival -> departure", "arrived_utc", "cleared_utc"),
)
TARGET = 0.15  # simulated p50 and p90 within ±15% of the real ones
PROBS = (0.1, 0.25, 0.5, 0.75, 0.9)
# the older in-sample comparison's names for the same intervals
INTERVALS = (
    ("request_to_dispatch", "request -> dispatch"),
    ("dispatch_to_arrival", "dispatch -> arrival"),
    ("on_scene", "arrival -> departure"),
)


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


def real_intervals(calls: pl.DataFrame) -> dict[str, dict]:
    """Every recorded interval >= 0 per validated interval, with what was left out."""
    out = {}
    for name, label, a, b in VALIDATED:
        if a not in calls.columns or b not in calls.columns:
            raise SimInputError(
                f"validation: the store has no {a} / {b} (import it with a timeline)"
            )
        minutes = ((calls[b] - calls[a]).dt.total_seconds() / 60.0).to_numpy().astype(float)
        known = np.isfinite(minutes)
        ok = known & (minutes >= 0)
        out[name] = {
            "label": label,
            "values": minutes[ok],
            "n": int(ok.sum()),
            "dropped_negative": int((known & (minutes < 0)).sum()),
            "missing_a_time": int((~known).sum()),
        }
    return out


def _points(calls: pl.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    lon = calls["lon"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    lat = calls["lat"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    if calls.height and np.isfinite(lon).mean() > 0.9:
        return lon, lat, "the calls' own coordinates"
    city = calls["city"].to_list() if "city" in calls.columns else [None] * calls.height
    dlon, dlat = place_calls(city, rng)
    return dlon, dlat, "drawn in a disc around each call's city (the export has no addresses)"


def _simulated(
    calls: SimCalls, cfg: SimConfig, service, pre_dispatch, seed: int, reps: int
) -> tuple[dict[str, np.ndarray], float]:
    """Pooled simulated intervals over replications, and the mean share reached."""
    scenario = Scenario(cfg, service, replay=calls, pre_dispatch=pre_dispatch)
    sim: dict[str, list[np.ndarray]] = {name: [] for name, *_ in VALIDATED}
    reached = []
    for rep in range(reps):
        r = run_replication(scenario, seed, rep)
        ok = r.outcome == REACHED
        reached.append(float(ok.mean()) if len(ok) else float("nan"))
        sim["request_to_dispatch"].append(r.dispatched[ok] - r.arrival[ok])
        sim["dispatch_to_arrival"].append(r.arrived[ok] - r.dispatched[ok])
        sim["arrival_to_departure"].append(r.cleared[ok] - r.arrived[ok])
    return {k: np.concatenate(v) for k, v in sim.items()}, float(np.nanmean(reached))


def _draw_calls(
    model: TimeOfWeekArrivals, start: dt.datetime, days: int, seed: int, rep: int
) -> SimCalls:
    # a stream of its own (not the replication's): the same calls at every team count
    return model.draw(np.random.default_rng([seed, rep, 7919]), days, start)


def _figures(values: np.ndarray) -> dict:
    return {
        "p50": float(np.percentile(values, 50)) if len(values) else None,
        "p90": float(np.percentile(values, 90)) if len(values) else None,
        "mean": float(np.mean(values)) if len(values) else None,
    }


def validate_held_out(
    calls: pl.DataFrame,
    *,
    fit_until: dt.date,
    zone: str = LANE_ZONE,
    team_counts: tuple[int, ...] = (1, 2, 3, 4),
    hours: str = "24/7",
    seed: int = 1,
    replications: int = 5,
    arrivals: str = "replay",
    out_dir: Path | None = None,
    counts: dict | None = None,
) -> dict:
    """Fit on the calls before ``fit_until`` (local date in ``zone``), test on the rest.

    ``arrivals``: ``replay`` replays the test period's own request times and call types
    (the input a plan is judged on, not a prediction); ``fitted`` draws them from the
    hour-of-week process fitted on the fit period (per week with data), which also
    tests the volume forecast.

    Returns the full report; with ``out_dir`` also writes validation.json (the summary in
    the documented shape), validation_report.json, validation.md and quantile plots.
    """
    if arrivals not in ("fitted", "replay"):
        raise SimInputError(f"arrivals: {arrivals!r} is not 'fitted' or 'replay'")
    if replications < 1:
        raise SimInputError(f"replications: at least 1, found {replications}")
    calls = calls.sort("received_utc")
    local_date = calls["received_utc"].dt.convert_time_zone(zone).dt.date()
    fit = calls.filter(local_date < fit_until)
    test = calls.filter(local_date >= fit_until)
    for part, df in (("fit", fit), ("test", test)):
        if df.height < 50:
            raise SimInputError(
                f"fit-until {fit_until}: the {part} part has {df.height} calls; at least 50 "
                f"are needed on each side (the store runs {local_date.min()} to "
                f"{local_date.max()})"
            )
    real_fit = real_intervals(fit)
    real_test = real_intervals(test)
    rng = np.random.default_rng([seed, 0])
    fit_lon, fit_lat, places = _points(fit, rng)
    test_lon, test_lat, _ = _points(test, rng)
    plan = ShiftPlan.parse(hours)
    drops = []

    # --- every fitted input, from the fit part only ----------------------------------
    service = fit_on_scene(fit)
    over = int(
        (
            fit["on_scene_minutes"].is_null()
            & fit["arrived_utc"].is_not_null()
            & fit["cleared_utc"].is_not_null()
        ).sum()
    )
    drops.append(
        f"on-scene minutes fitted on {len(service.pooled):,} fit-period calls; {over:,} "
        "intervals outside the timeline's limit (negative, or over its max_interval_minutes) "
        "left out of the fit as slips"
    )
    pre_dispatch, idle_calls = fit_pre_dispatch(fit)
    if pre_dispatch is None:
        raise SimInputError(
            f"validation: only {idle_calls} fit-period calls came in while a team was free; "
            "at least 20 are needed to fit the delay before dispatch"
        )
    base = TravelModel()
    drive = base.minutes_array(fit_lon, fit_lat, *POST) - base.turnout_minutes
    travel, travel_fit = calibrate_travel(base, drive, real_fit["dispatch_to_arrival"]["values"])
    engage = (
        ((fit["engaged_utc"] - fit["arrived_utc"]).dt.total_seconds() / 60).to_numpy()
        if {"engaged_utc", "arrived_utc"} <= set(fit.columns)
        else np.array([])
    )
    engage = engage[np.isfinite(engage) & (engage >= 0) & (engage <= 180)]
    travel_fit["engagement_minutes"] = (
        {"p50": float(np.median(engage)), "p90": float(np.percentile(engage, 90)), "n": len(engage)}
        if len(engage)
        else None
    )
    wait_fit = real_fit["request_to_dispatch"]["values"]
    hold = float(np.percentile(wait_fit, 99)) if len(wait_fit) else 60.0
    policy = NoTeamFreePolicy(action="hold", hold_minutes=hold)
    drops.append(
        f"calls wait for a team up to {hold:.0f} min (the fit period's 99th percentile of "
        "request -> dispatch), then count as handed on"
    )
    fit_start = local_midnight(fit["received_utc"].min(), zone)  # type: ignore[arg-type]
    test_start = dt.datetime(
        fit_until.year, fit_until.month, fit_until.day, tzinfo=fit_start.tzinfo
    )

    def minutes_from(df: pl.DataFrame, start: dt.datetime) -> np.ndarray:
        return ((df["received_utc"] - start.astimezone(dt.UTC)).dt.total_seconds() / 60).to_numpy()

    fit_minutes = minutes_from(fit, fit_start)
    fit_days = int(fit_minutes.max() // 1440) + 1
    test_minutes = minutes_from(test, test_start)
    test_days = int(test_minutes.max() // 1440) + 1
    local_fit = fit["received_utc"].dt.convert_time_zone(zone)
    # rates per week *with data*: an export with a gap (Lane has none for Nov-Dec 2024)
    # must not spread the calls it has over the weeks it lacks
    weeks_with_calls = local_fit.dt.strftime("%G-%V").n_unique()
    model = TimeOfWeekArrivals.fit(
        (local_fit.dt.weekday() - 1).to_numpy(),
        local_fit.dt.hour().to_numpy(),
        float(weeks_with_calls),
        fit_lon,
        fit_lat,
        fit["nature"].to_numpy(),
    )

    def config(n: int, start: dt.datetime, days: int) -> SimConfig:
        return SimConfig(
            start,
            days,
            make_teams(n, plan, [POST]),
            travel=travel,
            policy=policy,
            unlocated_travel_minutes=None,
        )

    def period_calls(start, days, minutes, lon, lat, types, rep) -> SimCalls:
        if arrivals == "replay":
            return SimCalls.build(minutes, lon, lat, types)
        return _draw_calls(model, start, days, seed, rep)

    def run_period(n, start, days, minutes, lon, lat, types) -> tuple[dict, float]:
        pooled: dict[str, list] = {name: [] for name, *_ in VALIDATED}
        shares = []
        for rep in range(replications):
            sim_calls = period_calls(start, days, minutes, lon, lat, types, rep)
            got, share = _simulated(
                sim_calls, config(n, start, days), service, pre_dispatch, seed + rep, 1
            )
            shares.append(share)
            for k, v in got.items():
                pooled[k].append(v)
        return {k: np.concatenate(v) for k, v in pooled.items()}, float(np.mean(shares))

    # --- the team count, chosen on the fit period --------------------------------------
    choice = []
    for n in team_counts:
        sim_fit, _ = run_period(
            n, fit_start, fit_days, fit_minutes, fit_lon, fit_lat, fit["nature"].to_numpy()
        )
        ks = ks_statistic(real_fit["request_to_dispatch"]["values"], sim_fit["request_to_dispatch"])
        choice.append({"teams": n, "fit_request_to_dispatch_ks": ks})
    chosen = min(choice, key=lambda c: (c["fit_request_to_dispatch_ks"], c["teams"]))["teams"]

    # --- the test period, never seen by the fit ----------------------------------------
    by_teams = []
    for n in team_counts:
        sim_test, share = run_period(
            n, test_start, test_days, test_minutes, test_lon, test_lat, test["nature"].to_numpy()
        )
        row = {"teams": n, "share_handled": share, "intervals": {}}
        for name, label, *_ in VALIDATED:
            real = real_test[name]["values"]
            sim = sim_test[name]
            r, s = _figures(real), _figures(sim)
            ks = ks_statistic(real, sim)
            ratio = {
                k: (s[k] / r[k] if r[k] and s[k] is not None else None) for k in ("p50", "p90")
            }
            row["intervals"][name] = {
                "label": label,
                "real": {**r, "n": len(real)},
                "simulated": {**s, "n": len(sim)},
                "ratio": ratio,
                "within_target": all(
                    x is not None and abs(x - 1) <= TARGET for x in ratio.values()
                ),
                "ks": ks,
                "real_quantiles": dict(zip(map(str, PROBS), quantiles(real, PROBS), strict=True)),
                "sim_quantiles": dict(zip(map(str, PROBS), quantiles(sim, PROBS), strict=True)),
            }
            if out_dir is not None and n == chosen:
                charts.quantile_plot(
                    real,
                    sim,
                    Path(out_dir) / f"qq_{name}_{n}teams.png",
                    title=f"{label}, {n} team(s), held-out test period",
                    ks=ks,
                )
        by_teams.append(row)
    chosen_row = next(r for r in by_teams if r["teams"] == chosen)
    for name, *_ in VALIDATED:
        info = real_test[name]
        drops.append(
            f"real {info['label']} (test period): {info['n']:,} intervals >= 0 used, no cap; "
            f"{info['dropped_negative']:,} negative (a later step recorded before an earlier "
            f"one) left out; {info['missing_a_time']:,} calls lack one of the two times"
        )
    last = test["received_utc"].max().astimezone(dt.UTC)  # type: ignore[union-attr]
    last_local = last.astimezone(fit_start.tzinfo).date()
    summary = {
        "fit": {
            "from": fit_start.date().isoformat(),
            "until": fit_until.isoformat(),
            "calls": fit.height,
        },
        "test": {
            "from": fit_until.isoformat(),
            "until": (last_local + dt.timedelta(days=1)).isoformat(),
            "calls": test.height,
        },
        "teams": chosen,
        "intervals": {
            name: {
                "real": {
                    "p50": iv["real"]["p50"],
                    "p90": iv["real"]["p90"],
                    "n": iv["real"]["n"],
                },
                "simulated": {"p50": iv["simulated"]["p50"], "p90": iv["simulated"]["p90"]},
                "ks": iv["ks"],
            }
            for name, iv in chosen_row["intervals"].items()
        },
    }
    report = {
        "summary": summary,
        "counts": counts,
        "zone": zone,
        "hours": plan.label,
        "replications": replications,
        "seed": seed,
        "arrivals": (
            "replayed test-period request times and call types"
            if arrivals == "replay"
            else "drawn from the hour-of-week process fitted on the fit period"
        ),
        "places": places,
        "post": list(POST),
        "travel": travel_fit,
        "no_team_free": policy.as_dict(),
        "pre_dispatch": {"fitted_from_idle_calls": idle_calls, "model": pre_dispatch.describe()},
        "on_scene": service.describe(),
        "team_choice": {
            "rule": "the team count whose simulated request -> dispatch is closest (KS) to the "
            "fit period's real one",
            "tried": choice,
            "chosen": chosen,
        },
        "target": f"simulated p50 and p90 within ±{TARGET:.0%} of the real ones",
        "caps_and_drops": drops,
        "by_teams": by_teams,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        jsonsafe.write(out / "validation.json", summary)
        jsonsafe.write(out / "validation_report.json", report)
        (out / "validation.md").write_text("\n".join(validation_markdown(report)) + "\n")
    return report


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def validation_markdown(report: dict) -> list[str]:
    s = report["summary"]
    lines = [
        "## Held-out validation",
        "",
        f"Fitted on {s['fit']['calls']:,} calls from {s['fit']['from']} until {s['fit']['until']}"
        f" (exclusive); tested on {s['test']['calls']:,} later calls until "
        f"{s['test']['until']} (exclusive), which no fitted input has seen. Teams "
        f"{report['hours']}; {report['replications']} replications, seed {report['seed']}; "
        f"arrivals {report['arrivals']}; places {report['places']}.",
        "",
        *(
            [
                f"Store: {c['rows_read']:,} rows read, {c['rejected']:,} rejected "
                f"({', '.join(f'{k} {v:,}' for k, v in c['rejected_by_reason'].items()) or 'none'})"
                f", {c['kept']:,} kept; fit and test parts are of the kept calls.",
                "",
            ]
            if (c := report.get("counts"))
            else []
        ),
        f"Team count chosen on the fit period: **{s['teams']}** "
        f"({report['team_choice']['rule']}). {report['target']}.",
        "",
        "| teams | interval | real p50 | sim p50 | ratio | real p90 | sim p90 | ratio | "
        "real mean | sim mean | KS | n real | within ±15% |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in report["by_teams"]:
        mark = " (chosen)" if row["teams"] == s["teams"] else ""
        for iv in row["intervals"].values():
            r, m, q = iv["real"], iv["simulated"], iv["ratio"]
            lines.append(
                f"| {row['teams']}{mark} | {iv['label']} | {_fmt(r['p50'])} | {_fmt(m['p50'])} | "
                f"{_fmt(q['p50'], '.2f')} | {_fmt(r['p90'])} | {_fmt(m['p90'])} | "
                f"{_fmt(q['p90'], '.2f')} | {_fmt(r['mean'])} | {_fmt(m['mean'])} | "
                f"{_fmt(iv['ks'], '.3f')} | {r['n']:,} | {'yes' if iv['within_target'] else 'no'} |"
            )
    t = report["travel"]
    engage = t.get("engagement_minutes")
    lines += [
        "",
        f"Travel: {t['method']} on {t['fitted_on']:,} fit-period dispatch -> arrival times: "
        f"road factor x{t['factor']:.2f}, access {t['access_minutes']:.1f} min"
        + (
            f"; after arrival, finding and engaging the person took a median "
            f"{engage['p50']:.0f} min (p90 {engage['p90']:.0f}) in the fit period "
            "(arrival -> engagement, part of the on-scene time)."
            if engage
            else "."
        ),
        "",
        "Caps and dropped rows:",
        "",
        *[f"* {d}" for d in report["caps_and_drops"]],
        "",
        *[
            f"![{name}](qq_{name}_{s['teams']}teams.png)"
            for name in ("request_to_dispatch", "dispatch_to_arrival", "arrival_to_departure")
        ],
    ]
    return lines


# --------------------------------------------------------------------------------------
# the older in-sample comparison (plan report --lane): labelled as in-sample
# --------------------------------------------------------------------------------------


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
    """Replay every call with inputs fitted on the same records (in sample)."""
    needed = {"request_to_dispatch_minutes", "dispatch_to_arrival_minutes", "on_scene_minutes"}
    if not needed <= set(lane.columns):
        raise SimInputError("validation: the store has no timeline (import with lane-county-mcs)")
    lane = lane.sort("received_utc")
    real = {name: lane[f"{name}_minutes"].drop_nulls().to_numpy() for name, _ in INTERVALS}
    start = local_midnight(lane["received_utc"].min(), LANE_ZONE)  # type: ignore[arg-type]
    minutes = ((lane["received_utc"] - start.astimezone(dt.UTC)).dt.total_seconds() / 60).to_numpy()
    days = int(minutes.max() // 1440) + 1
    rng = np.random.default_rng(seed)
    city = lane["city"].to_list() if "city" in lane.columns else [None] * lane.height
    lon, lat = place_calls(city, rng)
    calls = SimCalls.build(minutes, lon, lat, lane["nature"].to_numpy())
    service: EmpiricalService = fit_on_scene(lane)
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
            start,
            days,
            make_teams(n, plan, [POST]),
            travel=model,
            policy=NoTeamFreePolicy(action="hold", hold_minutes=max_wait),
            return_to_post=False,
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
                    out_dir / f"insample_qq_{name}_{n}teams{suffix}.png",
                    title=f"{label}, {n} team(s), {variant} (in sample)",
                    ks=d,
                )
        by_teams.append(row)
    best = min(by_teams, key=lambda r: r["intervals"]["request_to_dispatch"]["ks"])
    queueing_only = [r for r in by_teams if r["model"] == "queueing only"]
    best_queueing = min(queueing_only, key=lambda r: r["intervals"]["request_to_dispatch"]["ks"])
    return {
        "in_sample": True,
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

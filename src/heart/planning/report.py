"""The planning report: Lane County validation plus whatever planning outputs exist.

Writes ``OUT/report.md`` (Markdown with the charts beside it) and ``OUT/report.json``.
The analyst page shows the same files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from heart.planning.validation import validate


def write_report(
    lane: pl.DataFrame,
    *,
    out_dir: Path,
    plan_dir: Path | None = None,
    team_counts: tuple[int, ...] = (1, 2, 3),
    replications: int = 5,
    seed: int = 1,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    validation = validate(
        lane, team_counts=team_counts, replications=replications, seed=seed, out_dir=out_dir
    )
    doc: dict = {"validation": validation}
    lines = ["# Planning report", ""]
    if plan_dir is not None and plan_dir.is_dir():
        for name in ("eligibility.json", "area.json", "simulate.json"):
            path = plan_dir / name
            if path.exists():
                doc[path.stem] = json.loads(path.read_text())
        for png in sorted(plan_dir.glob("*.png")):
            shutil.copy(png, out_dir / png.name)
        lines += _plan_sections(doc, sorted(p.name for p in plan_dir.glob("*.png")))
    lines += _validation_section(validation)
    (out_dir / "report.json").write_text(json.dumps(doc, indent=1, default=str))
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plan_sections(doc: dict, pngs: list[str]) -> list[str]:
    lines: list[str] = []
    if "eligibility" in doc:
        lines += [
            "## Eligibility",
            "",
            "| program | rules as of | calls | eligible | team sent | share |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for p in doc["eligibility"]["programs"]:
            t = p["totals"]
            share = t["team_share_of_eligible"]
            lines.append(
                f"| {p['program']} | {p['rules_as_of']} | {t['calls']:,} | {t['eligible']:,} | "
                f"{t['team']:,} | {'-' if share is None else f'{share:.1%}'} |"
            )
        lines += [""] + [f"![{n}]({n})" for n in pngs if n.startswith("eligibility")] + [""]
    if "area" in doc:
        a = doc["area"]
        lines += (
            [
                "## Service area",
                "",
                f"Proposal: {a['proposal']['count']} zones, {a['proposal']['area_km2']} km², "
                f"{a['proposal']['covered_share']:.1%} of eligible calls. Current area "
                f"({a['current_area']['key']}): {a['current_area']['count']} zones, "
                f"{a['current_area']['covered_share']:.1%}.",
                "",
            ]
            + [f"![{n}]({n})" for n in pngs if n.startswith("area")]
            + [""]
        )
    if "simulate" in doc:
        s = doc["simulate"]
        rows = s.get("sweep") or [s]
        lines += [
            "## Staffing",
            "",
            "| teams | hours | share reached | response p50 | response p90 | utilisation | missed busy |",
            "|---:|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['teams']} | {r['hours']} | {_ci(r['share_reached'], '.1%')} | "
                f"{_ci(r['response_minutes']['p50'], '.1f')} | {_ci(r['response_minutes']['p90'], '.1f')} | "
                f"{_ci(r['utilisation'], '.0%')} | {_ci(r['missed_busy'], '.0f')} |"
            )
        lines += [""] + [f"![{n}]({n})" for n in pngs if n.startswith("simulate")] + [""]
    return lines


def _ci(d: dict, fmt: str) -> str:
    return f"{d['mean']:{fmt}} [{d['low']:{fmt}}–{d['high']:{fmt}}]"


def _validation_section(v: dict) -> list[str]:
    lines = [
        "## Validation: Lane County MCS",
        "",
        f"{v['calls']:,} dispatches over {v['days']} days replayed; teams {v['hours']}, "
        f"posted in central Eugene; {v['replications']} replications, seed {v['seed']}. "
        "Call points are drawn in a disc around each call's city (the export has no addresses).",
        "",
        "| model | teams | interval | KS D | real p50 | sim p50 | real p90 | sim p90 |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in v["by_teams"]:
        for iv in row["intervals"].values():
            rq, sq = iv["real_quantiles"], iv["sim_quantiles"]
            lines.append(
                f"| {row.get('model', 'queueing only')} | {row['teams']} | {iv['label']} | "
                f"{iv['ks']:.3f} | {rq['0.5']:.1f} | {sq['0.5']:.1f} | "
                f"{rq['0.9']:.1f} | {sq['0.9']:.1f} |"
            )
    best = v["best_teams_by_request_to_dispatch"]
    overall = v.get("best_overall") or {"teams": best, "model": "queueing only"}
    suffix = "_delay" if overall["model"] != "queueing only" else ""
    fitted = (v.get("pre_dispatch") or {}).get("fitted_from_idle_calls")
    lines += [
        "",
        f"Queueing only, the closest request -> dispatch fit is {best} team(s). "
        f"With a pre-dispatch delay resampled from the {fitted or 0:,} calls that came in "
        "while no other call held a team (so the delay is fitted in sample), the closest "
        f"is {overall['teams']} team(s), {overall['model']}:",
        "",
        *[
            f"![{name} {overall['teams']} teams](qq_{name}_{overall['teams']}teams{suffix}.png)"
            for name in ("request_to_dispatch", "dispatch_to_arrival", "on_scene")
        ],
        "",
        "Where the model is off, and why: see docs/planning.md (Validation).",
    ]
    return lines

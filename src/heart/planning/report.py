"""The planning report: the held-out validation, planning outputs, and (labelled as
such) the in-sample comparison.

Writes ``OUT/report.md`` (Markdown with the charts beside it) and ``OUT/report.json``.
The analyst page shows the same files. Which figures are in sample is said in words:
the held-out table comes from ``heart plan validate`` (inputs fitted before a date,
compared after it); the in-sample table fits and compares on the same records.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from heart.batch.io import InputError
from heart.planning import jsonsafe
from heart.planning.validation import validate, validation_markdown


def write_report(
    lane: pl.DataFrame | None,
    *,
    out_dir: Path,
    validation_dir: Path | None = None,
    plan_dir: Path | None = None,
    team_counts: tuple[int, ...] = (1, 2, 3),
    replications: int = 5,
    seed: int = 1,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc: dict = {}
    lines = ["# Planning report", ""]
    held_out = None
    if validation_dir is not None:
        path = Path(validation_dir) / "validation_report.json"
        if not path.exists():
            raise InputError(
                f"{validation_dir}: no validation_report.json (run `heart plan validate` first)"
            )
        held_out = json.loads(path.read_text())
        doc["held_out_validation"] = held_out
        for png in sorted(Path(validation_dir).glob("qq_*.png")):
            if png.resolve() != (out_dir / png.name).resolve():
                shutil.copy(png, out_dir / png.name)
    validation = None
    if lane is not None:
        validation = validate(
            lane, team_counts=team_counts, replications=replications, seed=seed, out_dir=out_dir
        )
        doc["in_sample_validation"] = validation
    lines += _which_figures(held_out is not None, validation is not None)
    if plan_dir is not None and plan_dir.is_dir():
        for name in ("eligibility.json", "area.json", "simulate.json"):
            path = plan_dir / name
            if path.exists():
                doc[path.stem] = json.loads(path.read_text())
        for png in sorted(plan_dir.glob("*.png")):
            shutil.copy(png, out_dir / png.name)
        lines += _plan_sections(doc, sorted(p.name for p in plan_dir.glob("*.png")))
    if held_out is not None:
        lines += validation_markdown(held_out) + [""]
    if validation is not None:
        lines += _validation_section(validation)
    jsonsafe.write(out_dir / "report.json", doc)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _which_figures(held_out: bool, in_sample: bool) -> list[str]:
    lines = ["**Which figures can be trusted how far.**", ""]
    if held_out:
        lines.append(
            "* *Held out*: the validation table below fits every input (on-scene times, the "
            "delay before dispatch, travel, arrivals, the team count) on calls before a date "
            "and compares with calls after it, which the fit never saw."
        )
    else:
        lines.append(
            "* No held-out validation was given (`heart plan validate`): nothing below has "
            "been checked against calls the model was not fitted on."
        )
    if in_sample:
        lines.append(
            "* *In sample*: the Lane County comparison at the end fits and compares on the "
            "same records. A close fit there shows the fitting works, not that the model "
            "predicts."
        )
    lines.append(
        "* The staffing figures are model outputs under the stated policy, travel and "
        "on-scene times; their confidence intervals cover simulation noise only."
    )
    return lines + [""]


def _plan_sections(doc: dict, pngs: list[str]) -> list[str]:
    lines: list[str] = []
    if "eligibility" in doc:
        e = doc["eligibility"]
        c = e.get("counts") or {}
        lines += [
            "## Eligibility",
            "",
            f"Rows read {c.get('rows_read', '-'):,}; rejected {c.get('rejected', 0):,}; kept "
            f"{c.get('kept', '-'):,}. Rules: {e.get('rules', '-')}.",
            "",
            "| program | calls read | eligible | of all calls | team sent | of all calls | of eligible |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for p in e["programs"]:
            t = p["totals"]
            lines.append(
                f"| {p['program']} | {t.get('rows_read', t['calls']):,} | {t['eligible']:,} | "
                f"{_pct(t.get('eligible_share_of_all_calls'))} | {t['team']:,} | "
                f"{_pct(t.get('team_share_of_all_calls'))} | {_pct(t['team_share_of_eligible'])} |"
            )
        lines += [""] + [f"![{n}]({n})" for n in pngs if n.startswith("eligibility")] + [""]
    if "area" in doc:
        a = doc["area"]
        lines += (
            [
                "## Service area",
                "",
                f"Objective: {(a.get('objective') or {}).get('statement', 'volume')}. "
                f"Proposal: {a['proposal']['count']} zones, {a['proposal']['area_km2']} km², "
                f"{_pct(a['proposal']['covered_share'])} of eligible calls. Current area "
                f"({a['current_area']['key']}): {a['current_area']['count']} zones, "
                f"{_pct(a['current_area']['covered_share'])}.",
                "",
                *[f"**Warning:** {w}" for w in a.get("warnings", [])],
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
            f"Policy: {(s.get('no_team_free') or {}).get('text', '-')}. Calls outside the area: "
            f"{s.get('calls_outside_area', '-')}; without a location: "
            f"{s.get('calls_without_location', '-')}.",
            "",
            "| teams | hours | reached, of eligible | of all calls | response mean | p50 | p90 | "
            "utilisation | fell back |",
            "|---:|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            resp = r["response_minutes"]
            lines.append(
                f"| {r['teams']} | {r['hours']} | {_ci(r['share_reached'], '.1%')} | "
                f"{_ci(r.get('share_reached_of_all_calls'), '.1%')} | "
                f"{_ci(resp.get('mean'), '.1f')} | {_ci(resp['p50'], '.1f')} | "
                f"{_ci(resp['p90'], '.1f')} | "
                f"{_ci(r['utilisation'], '.0%')} | {_ci(r['missed_busy'], '.0f')} |"
            )
        lines += [""] + [f"![{n}]({n})" for n in pngs if n.startswith("simulate")] + [""]
    return lines


def _ci(d: dict | None, fmt: str) -> str:
    if not d or d.get("mean") is None:
        return "-"
    return f"{d['mean']:{fmt}} [{d['low']:{fmt}}–{d['high']:{fmt}}]"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _validation_section(v: dict) -> list[str]:
    lines = [
        "## In-sample comparison: Lane County MCS (fitted and compared on the same records)",
        "",
        "**In sample:** every input below is fitted on the very calls it is compared with.",
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
            f"![{name} {overall['teams']} teams](insample_qq_{name}_{overall['teams']}teams{suffix}.png)"
            for name in ("request_to_dispatch", "dispatch_to_arrival", "on_scene")
        ],
        "",
        "Where the model is off, and why: see docs/planning.md (Validation).",
    ]
    return lines

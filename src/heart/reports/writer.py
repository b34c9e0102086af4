"""Write a report folder: report.html (+ report.css, charts/*.png), report.pdf (WeasyPrint
from the same HTML), summary.json, ytd.json and the open data (data/*.csv).

Everything written comes from the *published* summaries (heart.domain.public_summary):
nothing here reads a record, so nothing personal can reach a file.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import h3
from django.template.loader import render_to_string
from django.utils import translation

from heart.domain.metrics import MISSED_CAUSES
from heart.domain.program import Program
from heart.reports import charts, labels
from heart.reports.build import Report
from heart.reports.present import present

STATIC = Path(__file__).resolve().parent / "static" / "reports"
SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Written:
    out_dir: Path
    files: list[Path]


def write_report(
    report: Report,
    out_dir: Path,
    *,
    program: Program,
    pdf: bool = True,
    beat_shapes: dict[str, list[list[tuple[float, float]]]] | None = None,
    language: str = "en",
) -> Written:
    out_dir = Path(out_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    (out_dir / "charts").mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    threshold = report.settings.suppression_threshold

    files.append(_json(out_dir / "summary.json", {**report.summary, "generated_at": _iso(report)}))
    files.append(_json(out_dir / "ytd.json", report.as_ytd_document()))
    files += write_open_data(report.summary, out_dir / "data", months=report.months)

    with translation.override(language):
        made = draw_charts(
            report,
            out_dir / "charts",
            threshold=threshold,
            program=program,
            beat_shapes=beat_shapes,
        )
        files += made.values()
        shutil.copy(STATIC / "report.css", out_dir / "report.css")
        html = render_to_string(
            "reports/report.html",
            {
                **present(report.summary),
                "ytd": present(report.ytd_summary),
                "months": report.months,
                "charts": {k: f"charts/{p.name}" for k, p in made.items()},
                "program_title": program.title,
                "generated_at": report.generated_at,
                "threshold": threshold,
                "missed_causes": MISSED_CAUSES,
                "language": language,
            },
        )
    html_path = out_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    files.append(html_path)
    if pdf:
        files.append(write_pdf(html_path, out_dir / "report.pdf"))
    return Written(out_dir, files)


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """The PDF is the HTML file, as printed by WeasyPrint (its own print stylesheet)."""
    from weasyprint import HTML  # imported here: WeasyPrint loads Pango at import

    HTML(filename=str(html_path), base_url=str(html_path.parent)).write_pdf(str(pdf_path))
    return pdf_path


def _iso(report: Report) -> str:
    return report.generated_at.isoformat(timespec="seconds")


def _json(path: Path, doc: dict) -> Path:
    # allow_nan=False: a NaN would make invalid JSON; the summary never holds one
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return path


# ------------------------------------------------------------------ open data


def _value(v) -> str:
    return "" if v is None else str(v)


def _note(v) -> str:
    return SUPPRESSED if v is None else ""


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_open_data(s: dict, folder: Path, *, months: list[dict] | None = None) -> list[Path]:
    """One CSV per table; a hidden count is an empty cell with the note 'suppressed'."""
    folder.mkdir(parents=True, exist_ok=True)
    period = s["period"]["label"]
    out = []
    headline = [
        ("calls_total", s["calls_total"]),
        ("eligible", s["eligible"]),
        ("reached", s["reached"]),
        ("reached_share", s["reached_share"]),
        ("team_responses", s["team_responses"]),
        ("backup_requests", s["backup_requests"]["count"]),
        ("backup_share_of_team_calls", s["backup_requests"]["share_of_team_calls"]),
        ("overrides", s["overrides"]["count"]),
        ("crisis_line_outcomes", s["crisis_line"]["total"]),
        ("follow_ups_due", s["follow_ups"]["due"]),
        ("follow_ups_within_48h", s["follow_ups"]["within_48h"]),
        ("referrals_made", s["referrals"]["made"]),
        ("referrals_completed", s["referrals"]["completed"]),
        ("staffed_team_hours", s["staffing"]["team_hours"]),
        ("calls_per_team_hour", s["staffing"]["calls_per_team_hour"]),
        ("cost_per_team_response", s["cost"]["per_team_response"]),
        ("police_hours_saved_estimate", s["police_hours_saved"]["hours"]),
        ("ems_hours_saved_estimate", s["ems_hours_saved"]["hours"]),
    ]
    out.append(
        _csv(
            folder / "summary.csv",
            ["period", "measure", "value", "note"],
            [[period, k, _value(v), _note(v)] for k, v in headline],
        )
    )
    out.append(
        _csv(
            folder / "calls_by_route.csv",
            ["period", "route", "calls", "note"],
            [[period, r, _value(v), _note(v)] for r, v in s["by_route"].items()],
        )
    )
    out.append(
        _csv(
            folder / "calls_by_call_type_and_route.csv",
            ["period", "call_type", "route", "calls", "note"],
            [
                [period, r["call_type"], r["route"], _value(r["calls"]), _note(r["calls"])]
                for r in s["by_call_type_route"]
            ],
        )
    )
    how = s["hour_of_week"]
    out.append(
        _csv(
            folder / "calls_by_hour_of_week.csv",
            ["period", "weekday", "hour", "calls", "note"],
            [
                [period, day, h, _value(v), _note(v)]
                for day, row in zip(how["weekdays"], how["calls"], strict=True)
                for h, v in enumerate(row)
            ],
        )
    )
    out.append(
        _csv(
            folder / "calls_by_area.csv",
            ["period", "area", "area_kind", "calls", "note"],
            [[period, a, _area_kind(a), _value(v), _note(v)] for a, v in s["by_area"].items()],
        )
    )
    out.append(
        _csv(
            folder / "missed_by_cause.csv",
            ["period", "cause", "eligible_calls_missed", "note"],
            [[period, c, _value(v), _note(v)] for c, v in s["missed_by_cause"].items()],
        )
    )
    out.append(
        _csv(
            folder / "dispositions.csv",
            ["period", "outcome", "team_responses", "note"],
            [[period, o, _value(v), _note(v)] for o, v in s["dispositions"].items()],
        )
    )
    out.append(
        _csv(
            folder / "response_times.csv",
            ["period", "measure", "mean_minutes", "median_minutes", "p90_minutes", "n", "note"],
            [
                [
                    period,
                    name,
                    _value(s[name]["mean"]),
                    _value(s[name]["p50"]),
                    _value(s[name]["p90"]),
                    _value(s[name]["n"]),
                    SUPPRESSED if s[name]["mean"] is None and s[name]["n"] != 0 else "",
                ]
                for name in ("response_minutes", "dispatch_minutes", "on_scene_minutes")
            ],
        )
    )
    out.append(
        _csv(
            folder / "response_time_distribution.csv",
            ["period", "minutes", "calls", "note"],
            [[period, b, _value(v), _note(v)] for b, v in s["response_distribution"].items()],
        )
    )
    backups = s["backup_requests"]
    out.append(
        _csv(
            folder / "backup_requests.csv",
            ["period", "breakdown", "key", "requests", "note"],
            [[period, "all", "all", _value(backups["count"]), _note(backups["count"])]]
            + [[period, "cause", k, _value(v), _note(v)] for k, v in backups["by_cause"].items()]
            + [
                [period, "call_type", k, _value(v), _note(v)]
                for k, v in backups["by_call_type"].items()
            ],
        )
    )
    out.append(
        _csv(
            folder / "overrides.csv",
            ["period", "route", "overrides", "note"],
            [[period, "all", _value(s["overrides"]["count"]), _note(s["overrides"]["count"])]]
            + [[period, k, _value(v), _note(v)] for k, v in s["overrides"]["by_route"].items()],
        )
    )
    out.append(
        _csv(
            folder / "crisis_line_outcomes.csv",
            ["period", "outcome", "calls", "note"],
            [[period, k, _value(v), _note(v)] for k, v in s["crisis_line"]["outcomes"].items()],
        )
    )
    if months:
        out.append(
            _csv(
                folder / "monthly_trend.csv",
                [
                    "month",
                    "calls_total",
                    "eligible",
                    "reached",
                    "team_responses",
                    "response_median_minutes",
                    "backup_requests",
                    "police_hours_saved_estimate",
                ],
                [
                    [
                        m["period"]["label"],
                        _value(m["calls_total"]),
                        _value(m["eligible"]),
                        _value(m["reached"]),
                        _value(m["team_responses"]),
                        _value(m["response_minutes"]["p50"]),
                        _value(m["backup_requests"]["count"]),
                        _value(m["police_hours_saved"]["hours"]),
                    ]
                    for m in months
                ],
            )
        )
    return out


def _area_kind(area: str) -> str:
    if area == "unknown":
        return "unknown"
    return "h3_cell" if h3.is_valid_cell(area) else "beat"


# ------------------------------------------------------------------ charts


def draw_charts(
    report: Report,
    folder: Path,
    *,
    threshold: int,
    program: Program,
    beat_shapes: dict | None = None,
) -> dict[str, Path]:
    s = report.summary
    out = {
        "trend": charts.monthly_trend(
            report.months, folder / "monthly-trend.png", threshold=threshold
        ),
        "heat": charts.hour_of_week(s, folder / "hour-of-week.png", threshold=threshold),
        "dispositions": charts.bars(
            {k: v for k, v in s["dispositions"].items()},
            {k: str(v) for k, v in labels.DISPOSITIONS.items()},
            folder / "dispositions.png",
            title="How team responses ended",
            threshold=threshold,
        ),
        "response": charts.response_distribution(
            s, folder / "response-times.png", threshold=threshold
        ),
    }
    shapes = area_shapes(s["by_area"], beat_shapes)
    made = charts.area_map(
        s["by_area"],
        shapes,
        service_outlines(program, report.month.first),
        folder / "map.png",
        threshold=threshold,
        title="Calls by area",
    )
    if made is not None:
        out["map"] = made
    return out


def area_shapes(
    by_area: dict, beat_shapes: dict | None
) -> dict[str, list[list[tuple[float, float]]]]:
    shapes = {}
    for area in by_area:
        if area != "unknown" and h3.is_valid_cell(area):
            shapes[area] = [[(lng, lat) for lat, lng in h3.cell_to_boundary(area)]]
        elif beat_shapes and area in beat_shapes:
            shapes[area] = beat_shapes[area]
    return shapes


def service_outlines(program: Program, on) -> list[list[tuple[float, float]]]:
    """The team unit's service area in force on a date (before the program started, as
    when a CAD export is replayed: its newest area), as outline rings."""
    from heart.domain.schedule import period_in_force

    unit = program.team_unit
    if unit is None:
        return []
    periods = program.units[unit].periods
    period = period_in_force(periods, on) or (
        max(periods, key=lambda p: p.start) if periods else None
    )
    area = program.areas.get(period.area) if period else None
    if area is None or area.geometry is None:
        return []
    return rings(area.geometry)


def rings(geometry) -> list[list[tuple[float, float]]]:
    geoms = getattr(geometry, "geoms", [geometry])
    out = []
    for g in geoms:
        exterior = getattr(g, "exterior", None)
        if exterior is not None:
            out.append([(x, y) for x, y in exterior.coords])
    return out


def beat_shapes_from(
    path: Path, id_property: str = "CAD"
) -> dict[str, list[list[tuple[float, float]]]]:
    """Beat id -> outline rings, from a GeoJSON layer (e.g. the city's police beats)."""
    from shapely.geometry import shape

    from heart.batch.io import InputError
    from heart.domain.geo import normalise_beat

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the beat layer ({exc})") from None
    out: dict[str, list] = {}
    for i, feature in enumerate(data.get("features", [])):
        beat = normalise_beat((feature.get("properties") or {}).get(id_property))
        if beat is None or not feature.get("geometry"):
            continue
        try:
            out.setdefault(beat, []).extend(rings(shape(feature["geometry"])))
        except (ValueError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}: features[{i}]: not a polygon ({exc})") from None
    if not out:
        raise InputError(f"{path}: no feature has a {id_property!r} property")
    return out


def missed_labels() -> dict[str, str]:
    return {k: str(v) for k, v in labels.MISSED.items()}

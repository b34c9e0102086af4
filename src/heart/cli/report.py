"""`heart report --month YYYY-MM (--store STORE | --database) --out DIR`: the monthly
public report (report.html, report.pdf, summary.json, ytd.json, data/*.csv, charts/).

The figures are heart.domain.metrics over records from the live database
(heart.reports.selectors) or from a planning store (heart.reports.store_source); this
module only parses options, calls them and prints. Expected failures print one
``error:`` line naming the option or file and return 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from heart.cli.common import console, django_setup, out, parse_date


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be greater than 0")
    return value


def add_parser(sub) -> None:
    r = sub.add_parser(
        "report",
        help="monthly public report (HTML, PDF, JSON, open-data CSV) from the database or a store",
    )
    r.add_argument("--month", required=True, help="YYYY-MM, e.g. 2024-03")
    r.add_argument("--program", help="program (default: the deployment's, HEART_PROGRAM)")
    source = r.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="a planning store (`heart plan import`)")
    source.add_argument("--database", action="store_true", help="the live database")
    r.add_argument("--out", type=Path, required=True, help="folder to write")
    r.add_argument(
        "--basis",
        choices=("auto", "responses", "cad"),
        default="auto",
        help="store kind: a team's own records (responses) or a CAD export (cad)",
    )
    r.add_argument(
        "--rules-as-of", type=parse_date, help="cad stores: rules date (default: newest)"
    )
    r.add_argument(
        "--timezone", help="local time zone of the months (default: the store's or program's)"
    )
    r.add_argument("--threshold", type=int, help="suppress counts below this (default 10)")
    r.add_argument(
        "--police-minutes", type=_positive, help="police unit minutes per call (estimate)"
    )
    r.add_argument("--police-minutes-source", help="where that estimate comes from")
    r.add_argument(
        "--police-minutes-from",
        type=Path,
        metavar="STORE",
        help="estimate police minutes per call from a CAD store with dispatch and clear times",
    )
    r.add_argument("--ems-minutes", type=_positive, help="EMS unit minutes per call (estimate)")
    r.add_argument("--ems-minutes-source", help="where that estimate comes from")
    r.add_argument("--annual-budget", type=_positive, help="the program's annual budget")
    r.add_argument("--budget-source", help="where the budget comes from")
    r.add_argument("--currency", help="ISO code of the budget's currency (default USD)")
    r.add_argument("--area-by", choices=("h3", "beat"), help="areas of the tables and map")
    r.add_argument("--h3-resolution", type=int, choices=range(5, 10), metavar="5-9")
    r.add_argument("--beat-layer", type=Path, help="GeoJSON beat polygons for a map by beat")
    r.add_argument("--beat-id-property", default="CAD")
    r.add_argument("--language", choices=("en", "es"), default="en")
    r.add_argument("--no-pdf", action="store_true", help="skip report.pdf")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    django_setup()
    from django.conf import settings

    from heart.batch.io import InputError
    from heart.domain.mapping import MappingError
    from heart.domain.program import ProgramError
    from heart.domain.program_file import load_program
    from heart.reports.build import SettingsError

    try:
        program = load_program(args.program or settings.HEART_PROGRAM)
        values = dict(getattr(settings, "HEART_REPORTS", {}) or {})
        overrides = {
            "suppression_threshold": args.threshold,
            "police_minutes_per_call": args.police_minutes,
            "police_minutes_source": args.police_minutes_source,
            "ems_minutes_per_call": args.ems_minutes,
            "ems_minutes_source": args.ems_minutes_source,
            "annual_budget": args.annual_budget,
            "budget_source": args.budget_source,
            "currency": args.currency,
            "area_by": args.area_by,
            "h3_resolution": args.h3_resolution,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if args.police_minutes_from:
            from heart.reports.store_source import estimate_unit_minutes, store_info

            minutes, source = estimate_unit_minutes(
                store_info(args.police_minutes_from, basis="cad"), program
            )
            values["police_minutes_per_call"] = minutes
            values["police_minutes_source"] = source
        return _run(args, program, values, settings)
    except (InputError, MappingError, ProgramError, SettingsError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2


def _run(args, program, values: dict, settings) -> int:
    import time

    from heart.domain.metrics import Period
    from heart.reports.build import build_report, report_settings
    from heart.reports.writer import beat_shapes_from, write_report

    started = time.perf_counter()
    report_values = {k: v for k, v in values.items() if k not in ("area_by", "h3_resolution")}
    rs = report_settings(program, report_values)
    area_by = values.get("area_by") or "h3"
    resolution = int(values.get("h3_resolution") or 8)
    if args.store:
        from heart.reports.store_source import store_data, store_info

        info = store_info(args.store, basis=args.basis)
        zone = args.timezone or info.timezone or program.timezone
        if info.max_interval_minutes and "max_interval_minutes" not in values:
            from dataclasses import replace

            rs = replace(rs, max_interval_minutes=info.max_interval_minutes)
        team_route = program.team_route or "crt"

        def read(period):
            return store_data(
                info,
                period,
                program,
                team_route=team_route,
                team_routes=rs.team_routes,
                rules_as_of=args.rules_as_of,
                h3_resolution=resolution,
                area_by=area_by,
            )

        described = f"store {info.path} ({info.basis})"
    else:
        from heart.reports.selectors import live_data

        zone = args.timezone or program.timezone

        def read(period):
            return live_data(period, program, area_by=area_by, h3_resolution=resolution)

        described = "the database"
    month = Period.parse_month(args.month, zone)
    report = build_report(read, month, program=program, settings=rs)
    beats = None
    layer = args.beat_layer or values.get("beat_layer")
    if layer:
        beats = beat_shapes_from(Path(layer), args.beat_id_property)
    written = write_report(
        report,
        args.out,
        program=program,
        pdf=not args.no_pdf,
        beat_shapes=beats,
        language=args.language,
    )
    if not args.quiet:
        s = report.summary
        out.print(
            f"report {month.label} ({zone}) from {described}: {s['calls_total'] or 0:,} calls "
            f"shown, {len(s['suppressed_cells'])} cells suppressed "
            f"(threshold {rs.suppression_threshold}); {len(written.files)} files in {args.out} "
            f"in {time.perf_counter() - started:.1f} s",
            highlight=False,
        )
        if rs.police_minutes_per_call.value is None:
            out.print(
                "note: police hours not estimated (set --police-minutes with "
                "--police-minutes-source, or --police-minutes-from STORE)",
                highlight=False,
            )
    return 0

"""`heart triage|explain|programs`: the rules on a file of calls or on one call, no database."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from heart.cli.common import console, out, parse_date


def add_parsers(sub) -> None:
    t = sub.add_parser("triage", help="triage a CSV of calls with a program's rules")
    t.add_argument("calls", type=Path, help="CSV file of calls")
    t.add_argument("--program", required=True, help="built-in program name or TOML path")
    t.add_argument("--out", required=True, type=Path, help="decisions CSV to write")
    t.add_argument("--mapping", default="heart-standard", help="built-in mapping name or TOML path")
    t.add_argument("--rejects", type=Path, help="rejects CSV (default: OUT.rejects.csv)")
    t.add_argument(
        "--rules-as-of",
        type=parse_date,
        help="apply the rules in force on this date to every call (replay history)",
    )
    t.add_argument("--beat-layer", type=Path, help="exact beat polygons (GeoJSON) for the areas")
    t.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    t.set_defaults(handler=cmd_triage)

    e = sub.add_parser("explain", help="triage one call and print the reasons")
    e.add_argument("--program", required=True)
    e.add_argument("--nature", required=True)
    e.add_argument(
        "--time", required=True, help="ISO 8601 with offset, e.g. 2022-07-05T10:00-04:00"
    )
    e.add_argument("--beat")
    e.add_argument("--lon", type=float)
    e.add_argument("--lat", type=float)
    e.add_argument("--narrative")
    e.add_argument("--priority", help="the CAD priority (read by a program's priority rule)")
    e.add_argument("--type-text", help="the call type's own description (EIDO text)")
    e.add_argument("--weapon", action="store_true", help="the CAD flags a weapon")
    e.add_argument("--violence", action="store_true", help="the CAD flags violence")
    e.add_argument("--rules-as-of", type=parse_date)
    e.set_defaults(handler=cmd_explain)

    p = sub.add_parser("programs", help="list built-in programs and mappings")
    p.set_defaults(handler=cmd_programs)


def cmd_triage(args: argparse.Namespace) -> int:
    import contextlib

    from heart.batch.io import InputError
    from heart.batch.run import run_batch
    from heart.domain.mapping import MappingError, load_mapping
    from heart.domain.program import ProgramError
    from heart.domain.program_file import load_program

    try:
        program = load_program(args.program, beat_layer=args.beat_layer)
        mapping = load_mapping(args.mapping)
    except (ProgramError, MappingError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    rejects = args.rejects or args.out.with_name(args.out.stem + ".rejects.csv")
    progress: contextlib.AbstractContextManager = contextlib.nullcontext()
    report = None
    if not args.quiet and console.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console.real,
            transient=True,
        )
        progress = bar
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

    try:
        with progress:
            summary = run_batch(
                input_path=args.calls,
                program=program,
                mapping=mapping,
                out_path=args.out,
                rejects_path=rejects,
                rules_as_of=args.rules_as_of,
                progress=report,
                by_reason=not args.quiet,
            )
    except InputError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    if not args.quiet:
        from heart.batch.summary import print_summary

        print_summary(summary, args.out, rejects, console=console)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from heart.domain.geo import valid_lon_lat
    from heart.domain.program import ProgramError
    from heart.domain.program_file import load_program
    from heart.domain.triage import CallInput, decide

    try:
        program = load_program(args.program)
    except ProgramError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    try:
        when = dt.datetime.fromisoformat(args.time)
    except ValueError:
        console.print(f"[red]error:[/red] --time: {args.time!r} is not ISO 8601", highlight=False)
        return 2
    if when.tzinfo is None:
        console.print("[red]error:[/red] --time: give an offset, e.g. -04:00", highlight=False)
        return 2
    if (args.lon is not None or args.lat is not None) and not valid_lon_lat(args.lon, args.lat):
        console.print("[red]error:[/red] --lon/--lat: give both, inside the world", highlight=False)
        return 2
    decision = decide(
        program,
        CallInput(
            received_at=when,
            nature=args.nature,
            beat=args.beat,
            lon=args.lon,
            lat=args.lat,
            narrative=args.narrative,
            weapon_flag=args.weapon,
            violence_flag=args.violence,
            priority=args.priority,
            type_text=args.type_text,
        ),
        rules_as_of=args.rules_as_of,
    )
    out.print(f"[bold]route:[/bold] {decision.route}   [dim]{decision.rules_version}[/dim]")
    for i, reason in enumerate(decision.reasons, 1):
        out.print(f" {i}. [cyan]{reason.code}[/cyan] — {reason.text}", highlight=False)
    return 0


def cmd_programs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from heart.domain.mapping import builtin_mapping_names
    from heart.domain.program_file import builtin_program_names, load_program

    table = Table(title="Built-in programs")
    for col in ("name", "rules version", "units and hours"):
        table.add_column(col)
    for name in builtin_program_names():
        p = load_program(name)
        hours = "\n".join(f"{u.key}: {u.hours_text()}" for u in p.units.values())
        table.add_row(name, p.rules_version, hours)
    out.print(table)
    out.print("Built-in mappings: " + ", ".join(builtin_mapping_names()))
    return 0

"""The `heart` command line.

Sub-commands that need no database (triage, explain, programs) never import Django,
so a million-call batch starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path


class _LazyConsole:
    """A rich Console made on first use: a quiet batch run never pays for importing rich."""

    def __init__(self, **options):
        self._options = options
        self._console = None

    @property
    def real(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str):
        return getattr(self.real, name)


console = _LazyConsole(stderr=True)
out = _LazyConsole()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2022-07-01") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heart", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("triage", help="triage a CSV of calls with a program's rules")
    t.add_argument("calls", type=Path, help="CSV file of calls")
    t.add_argument("--program", required=True, help="built-in program name or TOML path")
    t.add_argument("--out", required=True, type=Path, help="decisions CSV to write")
    t.add_argument("--mapping", default="heart-standard", help="built-in mapping name or TOML path")
    t.add_argument("--rejects", type=Path, help="rejects CSV (default: OUT.rejects.csv)")
    t.add_argument(
        "--rules-as-of",
        type=_date,
        help="apply the rules in force on this date to every call (replay history)",
    )
    t.add_argument("--beat-layer", type=Path, help="exact beat polygons (GeoJSON) for the areas")
    t.add_argument("--quiet", action="store_true", help="no progress bar or summary")

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
    e.add_argument("--weapon", action="store_true", help="the CAD flags a weapon")
    e.add_argument("--violence", action="store_true", help="the CAD flags violence")
    e.add_argument("--rules-as-of", type=_date)

    sub.add_parser("programs", help="list built-in programs and mappings")

    d = sub.add_parser("demo", help="generate synthetic calls, triage and store them (SQLite)")
    d.add_argument("--calls", type=int, default=5000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--program", default="durham-heart-2023")

    from heart.planning.commands import add_parser as add_plan_parser

    add_plan_parser(sub)
    a = sub.add_parser("apiclient", help="API clients (e.g. the CAD): create prints a token")
    asub = a.add_subparsers(dest="apiclient_command", required=True)
    ac = asub.add_parser("create", help="create a client and print its token (shown once)")
    ac.add_argument("name")
    ac.add_argument(
        "--scope",
        action="append",
        choices=["intake", "avl"],
        help="what the client may do (repeatable; default intake)",
    )
    asub.add_parser("list", help="list clients (never the tokens)")
    ar = asub.add_parser("revoke", help="deactivate a client's token")
    ar.add_argument("name")

    sv = sub.add_parser("serve", help="run the web service (board, responder, API) with uvicorn")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--workers", type=int, default=1, help="server processes (more than one: PostgreSQL only)"
    )
    sv.add_argument(
        "--demo",
        action="store_true",
        help="migrate, seed Durham teams and one account per role, replay synthetic calls",
    )
    sv.add_argument("--no-replay", action="store_true", help="with --demo: seed only")
    sv.add_argument("--speed", type=float, default=30.0, help="demo clock speed-up (default 30)")
    sv.add_argument(
        "--calls-per-hour", type=float, default=12.0, help="demo calls per simulated hour"
    )

    m = sub.add_parser("manage", help="Django management commands (migrate, createsuperuser …)")
    m.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "triage": cmd_triage,
        "explain": cmd_explain,
        "programs": cmd_programs,
        "demo": cmd_demo,
        "manage": cmd_manage,
        "plan": cmd_plan,
        "apiclient": cmd_apiclient,
        "serve": cmd_serve,
    }[args.command]
    try:
        return handler(args) or 0
    except KeyboardInterrupt:
        return 130


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


def _django_setup() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
    django.setup()


def cmd_demo(args: argparse.Namespace) -> int:
    _django_setup()
    from heart.demo import run_demo

    return run_demo(calls=args.calls, seed=args.seed, program_name=args.program, console=console)


def cmd_plan(args: argparse.Namespace) -> int:
    from heart.planning.commands import run

    return run(args)


def cmd_apiclient(args: argparse.Namespace) -> int:
    _django_setup()
    from heart.accounts.models import ApiClient
    from heart.accounts.services import create_api_client
    from heart.calls.errors import ServiceError

    if args.apiclient_command == "create":
        try:
            client, token = create_api_client(name=args.name, scopes=args.scope)
        except ServiceError as exc:
            console.print(f"[red]{exc.message}[/red]")
            return 2
        console.print(f"API client {client.name!r} created (scopes: {', '.join(client.scopes)}).")
        console.print("The token is shown once; only its hash is stored:")
        out.print(token, soft_wrap=True, highlight=False)
        return 0
    if args.apiclient_command == "list":
        for c in ApiClient.objects.order_by("name"):
            state = "active" if c.active else "revoked"
            out.print(f"{c.name}\t{c.token_prefix}…\t{','.join(c.scopes)}\t{state}")
        return 0
    n = ApiClient.objects.filter(name=args.name).update(active=False)
    if not n:
        console.print(f"[red]no API client called {args.name!r}[/red]")
        return 2
    console.print(
        f"API client {args.name!r} revoked (takes effect within 30 s on running servers)."
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from heart.live.serve import run

    if not 0 < args.port < 65536:
        console.print("[red]error:[/red] --port: between 1 and 65535", highlight=False)
        return 2
    if args.workers < 1 or args.speed <= 0 or args.calls_per_hour <= 0:
        console.print(
            "[red]error:[/red] --workers, --speed and --calls-per-hour must be positive",
            highlight=False,
        )
        return 2
    return run(
        host=args.host,
        port=args.port,
        workers=args.workers,
        demo=args.demo,
        replay=not args.no_replay,
        speed=args.speed,
        calls_per_hour=args.calls_per_hour,
        console=console,
    )


def cmd_manage(args: argparse.Namespace) -> int:
    _django_setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["heart manage", *args.args])
    return 0


def entry() -> None:
    """Console-script entry point."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] == "triage":
        # Everything is written and closed; skip tearing down a million-row heap, which
        # would add a tenth of a second to every batch run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()

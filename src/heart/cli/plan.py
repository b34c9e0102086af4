"""`heart plan import|eligibility|area|simulate|report`: argument parsing and handlers.

The planning logic is the planning app's (store, eligibility, area, simulate, report,
charts); this module only parses options, calls it and prints. Every expected failure
(bad mapping, unreadable file, wrong option) prints one ``error:`` line naming the
file/field and returns 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heart.cli.common import console, out, parse_date


def _post(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LON,LAT like -78.9,35.99") from None
    return lon, lat


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 2,3,4") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive whole numbers like 2,3,4")
    return values


def add_parser(sub) -> None:
    plan = sub.add_parser("plan", help="planning from a city's call data (import, simulate …)")
    plan.set_defaults(handler=run)
    ps = plan.add_subparsers(dest="plan_command", required=True)

    i = ps.add_parser("import", help="import a CSV/Parquet export into a planning store")
    i.add_argument("calls", type=Path, help="CSV or Parquet file")
    i.add_argument("--mapping", required=True, help="built-in mapping name or TOML path")
    i.add_argument("--out", required=True, type=Path, help="store directory to write")
    i.add_argument("--call-types", help="call-type table CSV (or a built-in name)")
    i.add_argument("--call-type-column", default="call_type", help="its column of city call types")
    i.add_argument("--nature-column", default="nature", help="its column of program natures")
    i.add_argument(
        "--timeline", help="timeline TOML (default: the built-in one named like the mapping)"
    )
    i.add_argument("--quiet", action="store_true")

    e = ps.add_parser("eligibility", help="replay stored calls through program rules")
    e.add_argument("store", type=Path)
    e.add_argument("--program", action="append", required=True, help="repeat to compare")
    e.add_argument("--rules-as-of", type=parse_date, help="default: each program's newest period")
    e.add_argument("--area-by", choices=("beat", "h3"), default="beat")
    e.add_argument("--out", type=Path, required=True, help="directory for JSON, CSV and charts")

    a = ps.add_parser("area", help="propose a contiguous service area")
    a.add_argument("store", type=Path)
    a.add_argument("--program", required=True)
    a.add_argument("--rules-as-of", type=parse_date)
    a.add_argument("--beats", type=Path, help="beat polygons (GeoJSON); without it: H3 cells")
    a.add_argument("--id-property", default="CAD")
    a.add_argument("--max-zones", type=int, help="at most this many beats/cells")
    a.add_argument("--max-km2", type=float, help="at most this many square kilometres")
    a.add_argument("--current-area", help="program area to compare with (default: the first)")
    a.add_argument("--out", type=Path, required=True)

    s = ps.add_parser("simulate", help="staffing simulation (one plan or a sweep)")
    s.add_argument("store", type=Path)
    s.add_argument("--program", required=True)
    s.add_argument("--rules-as-of", type=parse_date)
    s.add_argument("--teams", type=_ints, default=[2], help="team count(s), e.g. 2 or 2,3,4,5,6")
    s.add_argument(
        "--hours",
        action="append",
        help="team hours, repeatable: 'daily 08:00-20:00', 'Mon-Fri 08:00-17:00', '24/7'",
    )
    s.add_argument("--replications", type=int, default=20)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--arrivals", choices=("replay", "fitted"), default="replay")
    s.add_argument("--days", type=int, default=365, help="length of a fitted run")
    s.add_argument("--calls-per-year", type=float, help="scale fitted arrivals to this volume")
    s.add_argument("--on-scene-from", type=Path, help="store with a timeline (e.g. Lane County)")
    s.add_argument(
        "--pre-dispatch-from",
        type=Path,
        help="store with a timeline: resample the delay before dispatch (screening, triage) "
        "from its calls that arrived while a team was free",
    )
    s.add_argument("--on-scene-minutes", type=float, help="fixed on-scene minutes instead")
    s.add_argument("--post", type=_post, action="append", help="team post LON,LAT (repeatable)")
    s.add_argument("--max-wait", type=float, default=30.0, help="minutes a call may wait")
    s.add_argument("--workers", type=int, help="processes for a sweep (default: CPU count)")
    s.add_argument("--out", type=Path, required=True, help="JSON summary to write")

    r = ps.add_parser("report", help="validation on Lane County and a planning report")
    r.add_argument("--lane", type=Path, required=True, help="store imported with lane-county-mcs")
    r.add_argument("--plan-dir", type=Path, help="outputs of eligibility/area/simulate to include")
    r.add_argument("--teams", type=_ints, default=[1, 2, 3])
    r.add_argument("--replications", type=int, default=5)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", type=Path, required=True)


def run(args: argparse.Namespace) -> int:
    from heart.batch.io import InputError
    from heart.domain.mapping import MappingError
    from heart.domain.program import ProgramError
    from heart.domain.sim import SimInputError
    from heart.planning.area import AreaInputError

    handler = {
        "import": cmd_import,
        "eligibility": cmd_eligibility,
        "area": cmd_area,
        "simulate": cmd_simulate,
        "report": cmd_report,
    }[args.plan_command]
    try:
        return handler(args) or 0
    except (MappingError, ProgramError, InputError, SimInputError, AreaInputError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2


def _progress(quiet: bool = False):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console.real,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


def cmd_import(args: argparse.Namespace) -> int:
    from rich.table import Table

    from heart.domain.mapping import load_mapping
    from heart.planning.store import CallTypeTable, Timeline, import_calls

    mapping = load_mapping(args.mapping)
    table = (
        CallTypeTable.load(
            Path(args.call_types),
            from_column=args.call_type_column,
            to_column=args.nature_column,
        )
        if args.call_types
        else None
    )
    if args.timeline == "none":
        timeline = None
    elif args.timeline:
        timeline = Timeline.load(Path(args.timeline))
    else:
        timeline = Timeline.builtin_for(mapping)
    progress = _progress(args.quiet)
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        s = import_calls(
            input_path=args.calls,
            mapping=mapping,
            out_dir=args.out,
            call_types=table,
            timeline=timeline,
            progress=report,
        )
    if args.quiet:
        return 0
    t = Table(title=f"Import — {s.mapping}")
    t.add_column("")
    t.add_column("rows", justify="right")
    t.add_row("read", f"{s.rows_read:,}")
    t.add_row("accepted", f"{s.accepted:,}")
    t.add_row("rejected", f"{s.rejected:,}")
    for reason, n in s.reject_reasons.items():
        t.add_row(f"  {reason}", f"{n:,}")
    for ct, n in list(s.unmapped_call_types.items())[:10]:
        t.add_row(f"  unmapped type {ct}", f"{n:,}")
    for name, n in s.interval_problems.items():
        if n:
            t.add_row(f"accepted, {name} interval unusable", f"{n:,}")
    console.print(t)
    if s.rows_read == 0:
        console.print("[yellow]warning:[/yellow] the file has a header but no data rows")
    console.print(f"store -> {s.store} (rejects: {args.out / 'rejects.csv'})", highlight=False)
    return 0


def cmd_eligibility(args: argparse.Namespace) -> int:
    from rich.table import Table

    from heart.domain.program_file import load_program
    from heart.planning import charts
    from heart.planning.eligibility import analyse, compare
    from heart.planning.store import load_store

    calls = load_store(args.store)
    programs = [load_program(p) for p in args.program]
    results = [
        analyse(p, calls, rules_as_of=args.rules_as_of, area_by=args.area_by) for p in programs
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    table = compare(results)
    table.write_csv(args.out / "eligibility_by_call_type.csv")
    for r in results:
        r.by_area.write_csv(args.out / f"eligibility_by_area_{r.program}.csv")
    charts.call_types(results, args.out / "eligibility_call_types.png")
    for r in results:
        charts.hour_of_week(r, args.out / f"eligibility_hours_{r.program}.png")
    (args.out / "eligibility.json").write_text(
        json.dumps({"programs": [r.as_dict() for r in results]}, indent=1, default=str)
    )
    t = Table(title=f"Eligibility — {calls.height:,} stored calls")
    for col in ("program", "rules as of", "eligible", "team sent", "share of eligible"):
        t.add_column(col, justify="right" if col != "program" else "left")
    for r in results:
        share = r.totals["team_share_of_eligible"]
        t.add_row(
            r.program,
            r.rules_as_of.isoformat(),
            f"{r.totals['eligible']:,}",
            f"{r.totals['team']:,}",
            "-" if share is None else f"{share:.1%}",
        )
    out.print(t)
    ct = Table(title="By call type (eligible / team sent)")
    ct.add_column("call type")
    for r in results:
        ct.add_column(r.program, justify="right")
    for row in table.iter_rows():
        ct.add_row(
            str(row[0]),
            *(f"{row[1 + 2 * k]:,} / {row[2 + 2 * k]:,}" for k in range(len(results))),
        )
    out.print(ct)
    console.print(f"tables and charts -> {args.out}", highlight=False)
    return 0


def cmd_area(args: argparse.Namespace) -> int:
    from rich.table import Table

    from heart.domain.program_file import load_program
    from heart.planning import area, charts
    from heart.planning.eligibility import H3_RESOLUTION, analyse, area_key
    from heart.planning.store import load_store

    program = load_program(args.program)
    calls = load_store(args.store)
    by = "beat" if args.beats else "h3"
    result = analyse(program, calls, rules_as_of=args.rules_as_of, area_by=by)
    counts = {
        a: int(n) for a, n in result.by_area.select("area", "eligible").iter_rows() if a is not None
    }
    if args.beats:
        zones = area.load_beat_zones(args.beats, args.id_property)
        adjacency = area.beat_adjacency(zones)
        unknown = sorted(set(counts) - set(zones))
        if unknown:
            console.print(
                f"[yellow]warning:[/yellow] {sum(counts[u] for u in unknown):,} eligible calls "
                f"are in beats missing from {args.beats}: {unknown[:10]}",
                highlight=False,
            )
    else:
        zones = area.h3_zones(list(counts))
        adjacency = area.h3_adjacency(zones)
    proposal = area.propose(
        counts, zones, adjacency, max_zones=args.max_zones, max_km2=args.max_km2
    )
    key = args.current_area or next(iter(program.areas))
    if key not in program.areas:
        console.print(f"[red]error:[/red] --current-area: no area {key!r} in {program.name}")
        return 2
    current_ids = set(program.areas[key].beats) if by == "beat" else set()
    if by == "h3":
        # the current area as the cells whose calls fall inside its outline
        cells = area_key(calls, by="h3")
        lon = calls["lon"].fill_null(float("nan")).to_numpy()
        lat = calls["lat"].fill_null(float("nan")).to_numpy()
        inside = program.areas[key].contains_points(lon, lat)
        current_ids = set(cells.filter(inside).drop_nulls().to_list())
    current = area.coverage(counts, current_ids, zones)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "program": program.name,
        "zones": "beats" if by == "beat" else f"h3 resolution {H3_RESOLUTION}",
        "limit": {"max_zones": args.max_zones, "max_km2": args.max_km2},
        "proposal": proposal.as_dict(),
        "proposal_contiguous": area.is_contiguous(set(proposal.zones), adjacency),
        "current_area": {"key": key, **current.as_dict()},
    }
    (args.out / "area.json").write_text(json.dumps(doc, indent=1))
    charts.area_map(
        zones,
        counts,
        proposal.zones,
        sorted(current_ids),
        args.out / "area_map.png",
        title=f"Proposal {proposal.share:.0%} vs current area {current.share:.0%} of eligible calls",
    )
    t = Table(title=f"Service area — {program.name}")
    for col in ("", "zones", "km²", "eligible calls covered", "share"):
        t.add_column(col, justify="right" if col else "left")
    for label, p in (("proposal", proposal), (f"current ({key})", current)):
        t.add_row(label, str(len(p.zones)), f"{p.area_km2:.1f}", f"{p.covered:,}", f"{p.share:.1%}")
    out.print(t)
    console.print(f"area.json and area_map.png -> {args.out}", highlight=False)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from heart.domain.program_file import load_program
    from heart.domain.sim import FixedService, ShiftPlan
    from heart.planning import charts
    from heart.planning.simulate import fit_on_scene, fit_pre_dispatch, prepare, run, sweep
    from heart.planning.store import load_store

    if args.replications < 1:
        console.print("[red]error:[/red] --replications: at least 1")
        return 2
    if args.on_scene_from and args.on_scene_minutes is not None:
        console.print("[red]error:[/red] give --on-scene-from or --on-scene-minutes, not both")
        return 2
    program = load_program(args.program)
    calls = load_store(args.store)
    plans = [ShiftPlan.parse(h) for h in (args.hours or ["daily 08:00-20:00"])]
    if args.on_scene_from:
        service = fit_on_scene(load_store(args.on_scene_from))
    elif args.on_scene_minutes is not None:
        service = FixedService(args.on_scene_minutes)
    else:
        service = None
    pre_dispatch = None
    if args.pre_dispatch_from:
        pre_dispatch, idle_calls = fit_pre_dispatch(load_store(args.pre_dispatch_from))
        if pre_dispatch is None:
            console.print(
                f"[red]error:[/red] --pre-dispatch-from: {args.pre_dispatch_from} has "
                f"{idle_calls} calls with a full timeline that came in while a team was "
                "free; at least 20 are needed",
                highlight=False,
            )
            return 2
    inputs = prepare(
        program,
        calls,
        rules_as_of=args.rules_as_of,
        arrivals=args.arrivals,
        days=args.days,
        calls_per_year=args.calls_per_year,
        service=service,
        posts=args.post,
        max_wait_minutes=args.max_wait,
        pre_dispatch=pre_dispatch,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if len(args.teams) == 1 and len(plans) == 1:
        with console.status("simulating…"):
            doc = run(
                inputs,
                teams=args.teams[0],
                hours=plans[0],
                replications=args.replications,
                seed=args.seed,
            )
        rows = [doc]
    else:
        progress = _progress()
        with progress:
            task = progress.add_task("sweep", total=len(args.teams) * len(plans))
            rows = sweep(
                inputs,
                team_counts=args.teams,
                hour_plans=plans,
                replications=args.replications,
                seed=args.seed,
                workers=args.workers,
                on_done=lambda _row: progress.advance(task),
            )
        doc = {
            **inputs.header(),
            "seed": args.seed,
            "replications": args.replications,
            "sweep": rows,
        }
        charts.sweep(rows, args.out.with_suffix(".png"))
    args.out.write_text(json.dumps(doc, indent=1))
    _print_runs(rows)
    console.print(f"summary -> {args.out}", highlight=False)
    return 0


def _ci(d: dict, fmt: str) -> str:
    return f"{d['mean']:{fmt}} [{d['low']:{fmt}}–{d['high']:{fmt}}]"


def _print_runs(rows: list[dict]) -> None:
    from rich.table import Table

    t = Table(title="Simulation (mean [95% CI] over replications)")
    for col in (
        "teams",
        "hours",
        "share reached",
        "response p50",
        "response p90",
        "utilisation",
        "missed busy",
    ):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["teams"]),
            r["hours"],
            _ci(r["share_reached"], ".1%"),
            _ci(r["response_minutes"]["p50"], ".1f"),
            _ci(r["response_minutes"]["p90"], ".1f"),
            _ci(r["utilisation"], ".0%"),
            _ci(r["missed_busy"], ".0f"),
        )
    out.print(t)


def cmd_report(args: argparse.Namespace) -> int:
    from heart.planning.report import write_report
    from heart.planning.store import load_store

    lane = load_store(args.lane)
    with console.status("validating on Lane County…"):
        path = write_report(
            lane,
            out_dir=args.out,
            plan_dir=args.plan_dir,
            team_counts=tuple(args.teams),
            replications=args.replications,
            seed=args.seed,
        )
    console.print(f"report -> {path}", highlight=False)
    return 0

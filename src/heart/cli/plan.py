"""`heart plan import|eligibility|area|simulate|validate|report`: options and handlers.

The planning logic is the planning app's (store, eligibility, area, simulate,
validation, report, charts); this module only parses options, calls it and prints.
Every expected failure (bad mapping, unreadable file, too many rejects, a program in
another time zone, a wrong option) prints one ``error:`` line naming the file/field and
returns 2. Every command prints (and writes) its counts: rows read, rejected by reason,
kept, and each share against all calls and against eligible calls.
"""

from __future__ import annotations

import argparse
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


def _share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share like 0.01 or 1%") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a share between 0 and 1")
    return value


def _filter(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not COLUMN=VALUE like City=Seattle")
    return column.strip(), value.strip()


def _no_team_free(text: str):
    """'fall_back' or 'hold:MINUTES' -> a policy (a what-if beside the program's own)."""
    from heart.domain.program import NoTeamFreePolicy

    if text == "fall_back":
        return NoTeamFreePolicy()
    kind, _, minutes = text.partition(":")
    try:
        value = float(minutes)
    except ValueError:
        value = -1.0
    if kind != "hold" or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not 'fall_back' or 'hold:MINUTES'")
    return NoTeamFreePolicy(action="hold", hold_minutes=value)


def _zone_option(p) -> None:
    p.add_argument(
        "--program-timezone",
        help="read the program's hours in this zone (required when the data are in another "
        "zone than the program, e.g. Durham rules on Lane County calls)",
    )


def add_parser(sub) -> None:
    plan = sub.add_parser("plan", help="planning from a city's call data (import, simulate …)")
    plan.set_defaults(handler=run)
    ps = plan.add_subparsers(dest="plan_command", required=True)

    i = ps.add_parser("import", help="import a CSV/Parquet export into a planning store")
    i.add_argument("calls", type=Path, help="CSV or Parquet file")
    i.add_argument("--mapping", required=True, help="built-in mapping name or TOML path")
    i.add_argument("--out", required=True, type=Path, help="store directory to write")
    i.add_argument("--no-header", action="store_true", help="the file's first row is data "
                   "(the mapping gives columns by position, e.g. datetime = 4)")  # fmt: skip
    i.add_argument("--call-types", help="call-type table CSV (or a built-in name)")
    i.add_argument("--call-type-column", default="call_type", help="its column of city call types")
    i.add_argument("--nature-column", default="nature", help="its column of program natures")
    i.add_argument(
        "--call-type-filter",
        type=_filter,
        action="append",
        help="use only the table's rows with COLUMN=VALUE (repeatable), e.g. City=Seattle",
    )
    i.add_argument(
        "--then-call-types",
        help="a second table (call_type,nature) applied to the first one's output, e.g. "
        "vera-categories: Vera categories -> program natures",
    )
    i.add_argument(
        "--timeline", help="timeline TOML (default: the built-in one named like the mapping)"
    )
    i.add_argument("--allow-rejects", action="store_true",
                   help="keep the readable rows even when more than --max-reject-share are "
                   "rejected")  # fmt: skip
    i.add_argument("--max-reject-share", type=_share, default=0.01,
                   help="rejected rows allowed without --allow-rejects (default 0.01 = 1%%)")  # fmt: skip
    i.add_argument("--quiet", action="store_true")

    e = ps.add_parser("eligibility", help="replay stored calls through program rules")
    e.add_argument("store", type=Path)
    e.add_argument("--program", action="append", required=True, help="repeat to compare")
    e.add_argument(
        "--rules-as-of",
        type=parse_date,
        help="judge every call by the rules of this date (default: each call's own date, "
        "as heart triage does)",
    )
    e.add_argument("--area-by", choices=("beat", "h3"), default="beat")
    _zone_option(e)
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
    a.add_argument("--objective", choices=("volume", "drive_time", "equity"), default="volume")
    a.add_argument("--post", type=_post, action="append", help="team post LON,LAT (drive time)")
    a.add_argument("--max-drive-minutes", type=float, help="drive_time: zones within this")
    a.add_argument("--equity-layer", type=Path, help="council wards / census tracts (GeoJSON)")
    a.add_argument("--equity-property", default="NAME", help="the layer's group id property")
    _zone_option(a)
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
    s.add_argument("--travel-from", type=Path,
                   help="store with points and a timeline: calibrate travel times to its real "
                   "dispatch -> arrival times")  # fmt: skip
    s.add_argument("--post", type=_post, action="append", help="team post LON,LAT (repeatable)")
    s.add_argument("--no-team-free", type=_no_team_free,
                   help="what-if instead of the program's [no_team_free]: 'fall_back' or "
                   "'hold:MINUTES'")  # fmt: skip
    s.add_argument("--unlocated-travel", type=float, metavar="MINUTES",
                   help="serve calls without a location with this assumed travel time "
                   "(default: counted apart, never reached)")  # fmt: skip
    s.add_argument("--serve-outside-area", action="store_true",
                   help="serve calls outside the program's area too (default: counted apart)")  # fmt: skip
    s.add_argument("--area", help="the area the teams serve (default: the team unit's newest)")
    s.add_argument("--workers", type=int, help="processes (default: CPU count)")
    s.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local processes, or Dask (pip install 'heart[distributed]')")  # fmt: skip
    s.add_argument("--scheduler", help="with --engine dask: a running cluster's address")
    _zone_option(s)
    s.add_argument("--out", type=Path, required=True, help="JSON summary to write")

    v = ps.add_parser("validate", help="held-out validation: fit before a date, test after it")
    v.add_argument("--store", type=Path, required=True, help="store imported with a timeline")
    v.add_argument("--fit-until", type=parse_date, required=True,
                   help="fit on calls before this local date, test on the rest")  # fmt: skip
    v.add_argument("--teams", type=_ints, default=[1, 2, 3, 4])
    v.add_argument("--hours", default="24/7")
    v.add_argument("--arrivals", choices=("replay", "fitted"), default="replay")
    v.add_argument("--replications", type=int, default=5)
    v.add_argument("--seed", type=int, default=1)
    v.add_argument("--out", type=Path, required=True, help="directory for validation.json …")

    r = ps.add_parser("report", help="validation and planning outputs as one report")
    r.add_argument("--validation", type=Path, help="output folder of `heart plan validate`")
    r.add_argument("--lane", type=Path, help="store for the in-sample comparison (optional)")
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
        "validate": cmd_validate,
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


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _print_counts(counts: dict, title: str = "Counts") -> None:
    """Rows read, rejected (by reason), kept: the denominators every share rests on."""
    from rich.table import Table

    t = Table(title=title)
    t.add_column("")
    t.add_column("calls", justify="right")
    t.add_column("share of all calls", justify="right")
    read = counts.get("rows_read") or 0
    t.add_row("rows read (all calls)", f"{read:,}", _pct(1.0 if read else None))
    t.add_row("rejected", f"{counts.get('rejected', 0):,}", _pct(counts.get("rejected_share")))
    for reason, n in (counts.get("rejected_by_reason") or {}).items():
        t.add_row(f"  {reason}", f"{n:,}", _pct(n / read if read else None))
    t.add_row("kept", f"{counts.get('kept', 0):,}", _pct(counts["kept"] / read if read else None))
    for status, n in (counts.get("kept_by_call_type_status") or {}).items():
        if status != "mapped":
            t.add_row(
                f"  kept, call type {status.replace('_', ' ')} (nature_unknown)",
                f"{n:,}",
                _pct(n / read if read else None),
            )
    out.print(t)


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
            where=dict(args.call_type_filter or []),
        )
        if args.call_types
        else None
    )
    then = CallTypeTable.load(Path(args.then_call_types)) if args.then_call_types else None
    if then is not None and table is None:
        console.print("[red]error:[/red] --then-call-types needs --call-types first")
        return 2
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
            then_call_types=then,
            timeline=timeline,
            header=False if args.no_header else None,
            max_reject_share=args.max_reject_share,
            allow_rejects=args.allow_rejects,
            progress=report,
        )
    for w in s.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if args.quiet:
        return 0
    read = s.rows_read
    t = Table(title=f"Import — {s.mapping}")
    t.add_column("")
    t.add_column("rows", justify="right")
    t.add_column("share of rows read", justify="right")
    t.add_row("read", f"{read:,}", _pct(1.0 if read else None))
    t.add_row("rejected", f"{s.rejected:,}", _pct(s.rejected_share))
    for reason, n in s.reject_reasons.items():
        t.add_row(f"  {reason}", f"{n:,}", _pct(n / read if read else None))
    t.add_row("kept", f"{s.kept:,}", _pct(s.kept / read if read else None))
    for status, n in s.call_type_status.items():
        if status != "mapped":
            label = status.replace("_", " ")
            t.add_row(f"  kept, call type {label} (nature_unknown)", f"{n:,}", _pct(n / read))
    for ct, n in list(s.unmapped_call_types.items())[:10]:
        t.add_row(f"    not in the table: {ct}", f"{n:,}", "")
    for ct, n in list(s.blank_call_types.items())[:10]:
        t.add_row(f"    in the table with a blank nature: {ct}", f"{n:,}", "")
    for name, n in s.interval_problems.items():
        if n:
            t.add_row(f"kept, {name} interval unusable (slip)", f"{n:,}", "")
    console.print(t)
    if s.rows_read == 0:
        console.print("[yellow]warning:[/yellow] the file has a header but no data rows")
    console.print(
        f"store -> {s.store} (data in {s.timezone}; rejects: {args.out / 'rejects.csv'})",
        highlight=False,
    )
    return 0


def cmd_eligibility(args: argparse.Namespace) -> int:
    from rich.table import Table

    from heart.domain.program_file import load_program
    from heart.planning import charts, jsonsafe
    from heart.planning.context import Store, program_in_zone
    from heart.planning.eligibility import analyse, compare, rules_text

    store = Store.open(args.store)
    counts = store.counts
    programs, zones = [], []
    for name in args.program:
        program, zone_note = program_in_zone(load_program(name), store, args.program_timezone)
        programs.append(program)
        zones.append(zone_note)
    results = [
        analyse(
            p,
            store.calls,
            rules_as_of=args.rules_as_of,
            area_by=args.area_by,
            rows_read=counts.rows_read,
        )
        for p in programs
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    table = compare(results)
    table.write_csv(args.out / "eligibility_by_call_type.csv")
    for r in results:
        r.by_area.write_csv(args.out / f"eligibility_by_area_{r.program}.csv")
    charts.call_types(results, args.out / "eligibility_call_types.png")
    for r in results:
        charts.hour_of_week(r, args.out / f"eligibility_hours_{r.program}.png")
    doc = {
        "counts": counts.as_dict(),
        "rules": rules_text(args.rules_as_of),
        "time_zones": zones,
        "programs": [r.as_dict() for r in results],
    }
    jsonsafe.write(args.out / "eligibility.json", doc)
    _print_counts(counts.as_dict())
    console.print(f"rules: {rules_text(args.rules_as_of)}", highlight=False)
    for z in zones:
        console.print(f"time zone: {z}", highlight=False)
    for p, r in zip(programs, results, strict=True):
        if r.totals["program_not_operating"]:
            console.print(
                f"[yellow]note:[/yellow] {r.totals['program_not_operating']:,} calls fall outside "
                f"{p.name}'s periods (it starts {p.first_effective_date}): judged by their own "
                "date they are program_not_operating, as in heart triage. Give --rules-as-of "
                f"{p.first_effective_date} (or a later date) to ask what it would have done.",
                highlight=False,
            )
    t = Table(title=f"Eligibility — {counts.rows_read:,} calls read, {counts.kept:,} kept")
    t.add_column("program", no_wrap=True)
    for col in ("eligible", "of all calls", "team sent", "of all calls", "of eligible"):
        t.add_column(col, justify="right")
    for r in results:
        tot = r.totals
        t.add_row(
            r.program,
            f"{tot['eligible']:,}",
            _pct(tot["eligible_share_of_all_calls"]),
            f"{tot['team']:,}",
            _pct(tot["team_share_of_all_calls"]),
            _pct(tot["team_share_of_eligible"]),
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

    from heart.domain.geo import TravelModel
    from heart.domain.program_file import load_program
    from heart.planning import area, charts, jsonsafe
    from heart.planning.context import Store, program_in_zone
    from heart.planning.eligibility import H3_RESOLUTION, analyse, area_key, rules_text

    store = Store.open(args.store)
    counts = store.counts
    program, zone_note = program_in_zone(load_program(args.program), store, args.program_timezone)
    calls = store.calls
    by = "beat" if args.beats else "h3"
    result = analyse(
        program, calls, rules_as_of=args.rules_as_of, area_by=by, rows_read=counts.rows_read
    )
    zone_counts = {
        a: int(n) for a, n in result.by_area.select("area", "eligible").iter_rows() if a is not None
    }
    warnings: list[str] = []
    if args.beats:
        zones = area.load_beat_zones(args.beats, args.id_property)
        adjacency = area.beat_adjacency(zones)
        unknown = sorted(set(zone_counts) - set(zones))
        if unknown:
            warnings.append(
                f"{sum(zone_counts[u] for u in unknown):,} eligible calls are in beats missing "
                f"from {args.beats}: {unknown[:10]}"
            )
    else:
        zones = area.h3_zones(list(zone_counts))
        adjacency = area.h3_adjacency(zones)
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
    drive = None
    if args.post:
        drive = area.zone_drive_minutes(zones, args.post, TravelModel())
    groups = area.zone_groups(zones, args.equity_layer, args.equity_property) if (
        args.equity_layer
    ) else None  # fmt: skip
    objective = area.Objective(
        args.objective,
        drive_minutes=drive,
        max_drive_minutes=args.max_drive_minutes,
        groups=groups,
    )
    proposal = area.propose(
        zone_counts,
        zones,
        adjacency,
        max_zones=args.max_zones,
        max_km2=args.max_km2,
        objective=objective,
    )
    current = area.coverage(zone_counts, current_ids, zones)
    # circular: data from inside the current area can only "find" that area again
    total = sum(zone_counts.values())
    in_current = sum(n for z, n in zone_counts.items() if z in current_ids)
    if total and current_ids and in_current / total >= 0.95:
        warnings.append(
            f"{in_current / total:.0%} of the located eligible calls are inside the current "
            f"area ({key}): the data cover only that area, so a proposal can only find it "
            "again. Export calls from the whole city to compare areas."
        )
    args.out.mkdir(parents=True, exist_ok=True)
    eligible = result.totals["eligible"]

    def figures(p) -> dict:
        return {
            **p.as_dict(),
            "covered_share_of_eligible": p.covered / eligible if eligible else None,
            "covered_share_of_all_calls": p.covered / counts.rows_read
            if counts.rows_read
            else None,
            "evidence": area.evidence(p, zone_counts, objective),
        }

    doc = {
        "program": program.name,
        "rules": rules_text(args.rules_as_of),
        "time_zone": zone_note,
        "counts": {**counts.as_dict(), "eligible": eligible},
        "zones": "beats" if by == "beat" else f"h3 resolution {H3_RESOLUTION}",
        "limit": {"max_zones": args.max_zones, "max_km2": args.max_km2},
        "objective": {"name": objective.name, "statement": objective.statement()},
        "proposal": figures(proposal),
        "proposal_contiguous": area.is_contiguous(set(proposal.zones), adjacency),
        "current_area": {"key": key, **figures(current)},
        "warnings": warnings,
    }
    jsonsafe.write(args.out / "area.json", doc)
    charts.area_map(
        zones,
        zone_counts,
        proposal.zones,
        sorted(current_ids),
        args.out / "area_map.png",
        title=f"Proposal {proposal.share:.0%} vs current area {current.share:.0%} of eligible calls",
    )
    _print_counts({**counts.as_dict()})
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    console.print(f"objective: {objective.statement()}", highlight=False)
    t = Table(title=f"Service area — {program.name}")
    for col in ("", "zones", "km²", "eligible covered", "of eligible", "of all calls"):
        t.add_column(col, justify="right" if col else "left")
    for label, p in (("proposal", proposal), (f"current ({key})", current)):
        t.add_row(
            label,
            str(len(p.zones)),
            f"{p.area_km2:.1f}",
            f"{p.covered:,}",
            _pct(p.covered / eligible if eligible else None),
            _pct(p.covered / counts.rows_read if counts.rows_read else None),
        )
    out.print(t)
    console.print(f"area.json and area_map.png -> {args.out}", highlight=False)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from heart.domain.geo import TravelModel
    from heart.domain.program_file import load_program
    from heart.domain.sim import FixedService, ShiftPlan
    from heart.planning import charts, jsonsafe
    from heart.planning.context import Store, program_in_zone
    from heart.planning.simulate import (
        default_posts,
        eligible_calls,
        fit_on_scene,
        fit_pre_dispatch,
        fit_travel,
        prepare,
        run,
        sweep,
    )
    from heart.planning.store import load_store

    if args.replications < 1:
        console.print("[red]error:[/red] --replications: at least 1")
        return 2
    if args.on_scene_from and args.on_scene_minutes is not None:
        console.print("[red]error:[/red] give --on-scene-from or --on-scene-minutes, not both")
        return 2
    store = Store.open(args.store)
    counts = store.counts
    program, zone_note = program_in_zone(load_program(args.program), store, args.program_timezone)
    calls = store.calls
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
    posts = args.post
    travel, travel_note = TravelModel(), {"calibration": "none (default urban model)"}
    if args.travel_from:
        posts = posts or default_posts(eligible_calls(program, calls, rules_as_of=args.rules_as_of))
        travel, fitted = fit_travel(load_store(args.travel_from), posts, TravelModel())
        travel_note = {"calibration": {**fitted, "from": str(args.travel_from)}}
    inputs = prepare(
        program,
        calls,
        rules_as_of=args.rules_as_of,
        arrivals=args.arrivals,
        days=args.days,
        calls_per_year=args.calls_per_year,
        service=service,
        posts=posts,
        travel=travel,
        policy=args.no_team_free,
        pre_dispatch=pre_dispatch,
        unlocated_travel_minutes=args.unlocated_travel,
        serve_outside_area=args.serve_outside_area,
        area=args.area,
        rows_read=counts.rows_read,
        notes={
            "time_zone": zone_note,
            "travel": travel_note,
            "counts": {k: v for k, v in counts.as_dict().items() if k != "kept"},
            **(
                {
                    "policy_source": "--no-team-free (what-if; the program says: "
                    f"{program.no_team_free.describe()})"
                }  # fmt: skip
                if args.no_team_free
                else {}
            ),
        },
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run_opts = {"workers": args.workers, "engine": args.engine, "scheduler": args.scheduler}
    if len(args.teams) == 1 and len(plans) == 1:
        with console.status("simulating…"):
            doc = run(
                inputs,
                teams=args.teams[0],
                hours=plans[0],
                replications=args.replications,
                seed=args.seed,
                **run_opts,
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
                on_done=lambda _row: progress.advance(task),
                **run_opts,
            )
        doc = {
            **inputs.header(),
            "seed": args.seed,
            "replications": args.replications,
            "sweep": rows,
        }
        charts.sweep(rows, args.out.with_suffix(".png"))
    jsonsafe.write(args.out, doc)
    header = inputs.header()
    _print_counts(counts.as_dict())
    c = header["counts"]
    console.print(
        f"eligible: {c['eligible']:,} ({_pct(c['eligible_share_of_all_calls'])} of all calls); "
        f"outside the area: {c['eligible_outside_area']:,} ({header['calls_outside_area']}); "
        f"without a location: {c['eligible_without_location']:,} "
        f"({header['calls_without_location']})",
        highlight=False,
    )
    console.print(
        f"policy: {inputs.policy.describe()} ({header['no_team_free']['source']})",
        highlight=False,
        markup=False,
    )
    console.print(f"time zone: {zone_note}", highlight=False)
    _print_runs(rows)
    console.print(f"summary -> {args.out}", highlight=False)
    return 0


def _ci(d: dict | None, fmt: str) -> str:
    if not d or d.get("mean") is None:
        return "-"
    return f"{d['mean']:{fmt}} [{d['low']:{fmt}}–{d['high']:{fmt}}]"


def _print_runs(rows: list[dict]) -> None:
    from rich.table import Table

    t = Table(title="Simulation (mean [95% CI] over replications)")
    for col in (
        "teams",
        "hours",
        "reached, of eligible",
        "of all calls",
        "response mean",
        "p50",
        "p90",
        "utilisation",
        "fell back",
    ):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["teams"]),
            r["hours"],
            _ci(r["share_reached"], ".1%"),
            _ci(r.get("share_reached_of_all_calls"), ".1%"),
            _ci(r["response_minutes"]["mean"], ".1f"),
            _ci(r["response_minutes"]["p50"], ".1f"),
            _ci(r["response_minutes"]["p90"], ".1f"),
            _ci(r["utilisation"], ".0%"),
            _ci(r["missed_busy"], ".0f"),
        )
    out.print(t)


def cmd_validate(args: argparse.Namespace) -> int:
    from heart.planning.context import Store
    from heart.planning.validation import LANE_ZONE, validate_held_out, validation_markdown

    store = Store.open(args.store)
    _print_counts(store.counts.as_dict())
    with console.status("fitting and validating…"):
        report = validate_held_out(
            store.calls,
            fit_until=args.fit_until,
            zone=store.timezone or LANE_ZONE,
            team_counts=tuple(args.teams),
            hours=args.hours,
            seed=args.seed,
            replications=args.replications,
            arrivals=args.arrivals,
            out_dir=args.out,
            counts=store.counts.as_dict(),
        )
    lines = validation_markdown(report)[:-4]
    out.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
    console.print(f"validation.json -> {args.out / 'validation.json'}", highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from heart.planning.report import write_report
    from heart.planning.store import load_store

    if args.validation is None and args.lane is None:
        console.print("[red]error:[/red] give --validation DIR (held out) and/or --lane STORE")
        return 2
    with console.status("writing the report…"):
        path = write_report(
            load_store(args.lane) if args.lane else None,
            out_dir=args.out,
            validation_dir=args.validation,
            plan_dir=args.plan_dir,
            team_counts=tuple(args.teams),
            replications=args.replications,
            seed=args.seed,
        )
    console.print(f"report -> {path}", highlight=False)
    return 0

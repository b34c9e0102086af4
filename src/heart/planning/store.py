"""Importing a city's calls-for-service export into the planning store (Parquet on disk).

``import_calls`` reads CSV or Parquet through a column mapping (the batch-triage
format, :mod:`heart.domain.mapping`), optionally translates the city's call types to
program natures with a call-type table, optionally reads a *timeline* (dispatch,
arrival, engagement, departure columns), and writes::

    OUT/calls.parquet    normalised calls (the batch-triage schema) + call_type,
                         timeline times and interval minutes
    OUT/rejects.csv      row (1-based data row), reason
    OUT/import.json      the summary

Rows that cannot be used are counted and written to the rejects with every reason; a
file that cannot be read at all raises :class:`InputError` and writes nothing.
No Django here.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import polars as pl

from heart.batch.io import InputError, parse_calls, parse_times, read_raw
from heart.domain.mapping import ColumnMapping, MappingError
from heart.domain.program import normalise_nature

PLANNING_DIR = Path(__file__).resolve().parent
TIMELINE_DIR = PLANNING_DIR / "timelines"
CALL_TYPE_DIR = PLANNING_DIR / "call_types"
STEPS = ("dispatched", "arrived", "engaged", "cleared")
# interval name -> (from step, to step); "requested" is the call's received time
INTERVALS = {
    "request_to_dispatch": ("requested", "dispatched"),
    "dispatch_to_arrival": ("dispatched", "arrived"),
    "arrival_to_engagement": ("arrived", "engaged"),
    "on_scene": ("arrived", "cleared"),
}
# an interval outside [0, 24 h] is a data-entry slip (e.g. a.m./p.m. swapped): unusable;
# a timeline file may set a tighter limit ([checks] max_interval_minutes)
MAX_INTERVAL_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class CallTypeTable:
    """City call type -> program nature (both spelled as nature codes are)."""

    path: Path
    to_nature: dict[str, str]

    @classmethod
    def load(
        cls, path: Path, *, from_column: str = "call_type", to_column: str = "nature"
    ) -> CallTypeTable:
        path = Path(path)
        if not path.exists() and (CALL_TYPE_DIR / f"{path}.csv").exists():
            path = CALL_TYPE_DIR / f"{path}.csv"
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                header = reader.fieldnames or []
                for col in (from_column, to_column):
                    if col not in header:
                        raise MappingError(
                            f"{path}: call-type table has no column {col!r} (it has {header})"
                        )
                table: dict[str, str] = {}
                seen_at: dict[str, int] = {}
                for line, row in enumerate(reader, start=2):
                    key = normalise_nature(row[from_column])
                    target = normalise_nature(row[to_column])
                    if key is None or target is None:
                        continue  # a call type without a target stays unmapped
                    if key in table and table[key] != target:
                        raise MappingError(
                            f"{path}: line {line}: call type {key!r} maps to {target!r} but "
                            f"line {seen_at[key]} maps it to {table[key]!r}"
                        )
                    table[key] = target
                    seen_at[key] = line
        except OSError as exc:
            raise MappingError(f"{path}: cannot read call-type table: {exc.strerror}") from None
        if not table:
            raise MappingError(f"{path}: call-type table maps no call type")
        return cls(path, table)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Columns holding each response step, plus extra columns to keep verbatim."""

    path: Path | None
    steps: dict[str, str]  # step -> column
    extra: dict[str, str]  # stored name -> column
    max_interval_minutes: float = MAX_INTERVAL_MINUTES

    @classmethod
    def load(cls, path: Path) -> Timeline:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise MappingError(f"{path}: cannot read timeline: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"{path}: not valid TOML: {exc}") from None
        for key in data:
            if key not in {"timeline", "extra", "checks"}:
                raise MappingError(
                    f"{path}: {key}: unknown section (expected timeline, extra, checks)"
                )
        steps = data.get("timeline", {})
        for key, value in steps.items():
            if key not in STEPS:
                raise MappingError(f"{path}: timeline.{key}: unknown step (one of {STEPS})")
            if not isinstance(value, str) or not value:
                raise MappingError(f"{path}: timeline.{key}: must be a column name")
        extra = data.get("extra", {})
        for key, value in extra.items():
            if not isinstance(value, str) or not value:
                raise MappingError(f"{path}: extra.{key}: must be a column name")
        checks = data.get("checks", {})
        for key in checks:
            if key != "max_interval_minutes":
                raise MappingError(f"{path}: checks.{key}: unknown key (max_interval_minutes)")
        limit = checks.get("max_interval_minutes", MAX_INTERVAL_MINUTES)
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
            raise MappingError(f"{path}: checks.max_interval_minutes: must be a positive number")
        return cls(Path(path), dict(steps), dict(extra), float(limit))

    @classmethod
    def builtin_for(cls, mapping: ColumnMapping) -> Timeline | None:
        path = TIMELINE_DIR / f"{mapping.name}.toml"
        return cls.load(path) if path.exists() else None


@dataclass
class ImportSummary:
    input: str
    mapping: str
    call_types: str | None
    timeline: str | None
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    unmapped_call_types: dict[str, int] = field(default_factory=dict)
    interval_problems: dict[str, int] = field(default_factory=dict)
    first_utc: str | None = None
    last_utc: str | None = None
    with_location: int = 0
    store: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def read_input(path: Path, mapping: ColumnMapping, needed: list[str]) -> pl.DataFrame:
    """Every column as text (CSV via :func:`read_raw`, or Parquet); checks needed columns."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        raw = read_raw(path, mapping)
    else:
        if not path.exists():
            raise InputError(f"{path}: no such file")
        try:
            raw = pl.read_parquet(path)
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise InputError(f"{path}: cannot be read as Parquet: {exc}") from None
        raw = raw.select(pl.all().cast(pl.String))
        needed = [*mapping.columns.values(), *needed]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise InputError(
            f"{path}: mapping {mapping.name!r} (or its timeline) names columns the file lacks: "
            f"{missing} (the file has {raw.columns})"
        )
    return raw


def import_calls(
    *,
    input_path: Path,
    mapping: ColumnMapping,
    out_dir: Path,
    call_types: CallTypeTable | None = None,
    timeline: Timeline | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    report = progress or (lambda stage, done, total: None)
    summary = ImportSummary(
        input=str(input_path),
        mapping=mapping.name,
        call_types=str(call_types.path) if call_types else None,
        timeline=str(timeline.path) if timeline and timeline.path else None,
    )
    report("read", 0, 1)
    extra_cols = [*timeline.steps.values(), *timeline.extra.values()] if timeline else []
    raw = read_input(Path(input_path), mapping, extra_cols)
    report("read", 1, 1)
    report("parse", 0, 1)
    raw_type_column = mapping.column("call_type") or mapping.column("nature")
    raw, mapping, type_rejects = _resolve_natures(raw, mapping, call_types)
    calls, rejects = parse_calls(raw, mapping)
    # parse_calls knows only the triage fields: bring call type and timeline back by row
    keep = raw.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    keep_cols = [pl.col("row"), pl.col("_call_type").alias("call_type")]
    for step, col in timeline.steps.items() if timeline else ():
        step_text = keep.select(_blank_null(col)).to_series()
        keep_cols.append(pl.lit(parse_times(step_text, mapping)).alias(f"{step}_utc"))
    for name, col in timeline.extra.items() if timeline else ():
        keep_cols.append(_blank_null(col).alias(name))
    calls = calls.join(keep.select(keep_cols), on="row", how="left", maintain_order="left")
    if timeline:
        calls, problems = _intervals(calls, timeline)
        summary.interval_problems = problems
    # a call type missing from the table also left `_nature` empty: say it once
    rejects = rejects.with_columns(
        pl.when(pl.col("row").is_in(type_rejects.get_column("row").implode()))
        .then(pl.col("reason").str.replace(r"nature: missing(; )?", ""))
        .otherwise(pl.col("reason"))
    ).filter(pl.col("reason") != "")
    rejects = _merge_rejects(rejects, type_rejects)
    # parse_calls saw the derived `_nature`: name the field and column the user mapped
    field_name = "call_type" if mapping.column("call_type") else "nature"
    source = raw_type_column
    rejects = rejects.with_columns(
        pl.col("reason").str.replace(
            "nature: missing", f"{field_name}: missing (column {source!r})", literal=True
        )
    )
    report("parse", 1, 1)

    report("write", 0, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    calls.write_parquet(out_dir / "calls.parquet")
    rejects.write_csv(out_dir / "rejects.csv")
    summary.rows_read = raw.height
    summary.accepted = calls.height
    summary.rejected = rejects.height
    summary.reject_reasons = _reason_counts(rejects)
    summary.unmapped_call_types = _unmapped(raw, type_rejects)
    if calls.height:
        summary.first_utc = calls["received_utc"].min().isoformat()  # type: ignore[union-attr]
        summary.last_utc = calls["received_utc"].max().isoformat()  # type: ignore[union-attr]
    summary.with_location = calls.filter(
        pl.col("beat").is_not_null() | pl.col("lon").is_not_null()
    ).height
    summary.store = str(out_dir)
    (out_dir / "import.json").write_text(json.dumps(summary.as_dict(), indent=2))
    report("write", 1, 1)
    return summary


def _blank_null(col: str) -> pl.Expr:
    stripped = pl.col(col).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _resolve_natures(
    raw: pl.DataFrame, mapping: ColumnMapping, table: CallTypeTable | None
) -> tuple[pl.DataFrame, ColumnMapping, pl.DataFrame]:
    """Add ``_call_type`` and ``_nature`` columns; rows whose type the table lacks -> rejects."""
    type_col = mapping.column("call_type") or mapping.column("nature")
    assert type_col is not None  # load_mapping requires one of them
    raw = raw.with_columns(
        pl.col(type_col)
        .map_elements(normalise_nature, return_dtype=pl.String, skip_nulls=True)
        .alias("_call_type")
    )
    empty = pl.DataFrame(schema={"row": pl.Int64, "reason": pl.String})
    if table is None:
        raw = raw.with_columns(pl.col(mapping.column("nature") or "_call_type").alias("_nature"))
        return raw, replace(mapping, columns={**mapping.columns, "nature": "_nature"}), empty
    known = table.to_nature
    raw = raw.with_columns(
        pl.col("_call_type")
        .replace_strict(known, default=None, return_dtype=pl.String)
        .alias("_nature")
    )
    unmapped = (
        raw.with_row_index("row", offset=1)
        .filter(pl.col("_call_type").is_not_null() & pl.col("_nature").is_null())
        .select(
            pl.col("row").cast(pl.Int64),
            pl.format(
                "call_type: {} is not in the call-type table {}",
                pl.col("_call_type"),
                pl.lit(table.path.name),
            ).alias("reason"),
        )
    )
    # rows with no call type at all are rejected by parse_calls as "nature: missing"
    return raw, replace(mapping, columns={**mapping.columns, "nature": "_nature"}), unmapped


def _intervals(calls: pl.DataFrame, timeline: Timeline) -> tuple[pl.DataFrame, dict[str, int]]:
    problems: dict[str, int] = {}
    cols = []
    for name, (a, b) in INTERVALS.items():
        start = "received_utc" if a == "requested" else f"{a}_utc"
        end = f"{b}_utc"
        if start not in calls.columns or end not in calls.columns:
            continue
        minutes = (pl.col(end) - pl.col(start)).dt.total_seconds() / 60.0
        valid = minutes.is_between(0, timeline.max_interval_minutes)
        problems[name] = calls.select(
            (pl.col(start).is_not_null() & pl.col(end).is_not_null() & ~valid).sum()
        ).item()
        cols.append(pl.when(valid).then(minutes).otherwise(None).alias(f"{name}_minutes"))
    return calls.with_columns(cols), problems


def _merge_rejects(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    both = pl.concat([a.select("row", "reason"), b.select("row", "reason")])
    return (
        both.group_by("row", maintain_order=True).agg(pl.col("reason").str.join("; ")).sort("row")
    )


def _reason_counts(rejects: pl.DataFrame) -> dict[str, int]:
    """Counts by reason *kind* (the field before the colon), never by value."""
    kinds: Counter[str] = Counter()
    for reason in rejects.get_column("reason").to_list():
        for part in reason.split("; "):
            kind = part.split(":", 1)[0] if ":" in part else part.split(" (")[0]
            if "is not in the call-type table" in part:
                kind = "call_type not in table"
            kinds[kind] += 1
    return dict(kinds.most_common())


def _unmapped(raw: pl.DataFrame, type_rejects: pl.DataFrame) -> dict[str, int]:
    if not type_rejects.height:
        return {}
    rows = type_rejects.get_column("row") - 1
    types = raw.get_column("_call_type").gather(rows)
    return {t: n for t, n in types.value_counts(sort=True).iter_rows()}


def load_store(store: Path) -> pl.DataFrame:
    path = Path(store) / "calls.parquet"
    if not path.exists():
        raise InputError(
            f"{store}: not a planning store (no calls.parquet; run `heart plan import`)"
        )
    return pl.read_parquet(path)

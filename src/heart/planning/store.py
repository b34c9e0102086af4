"""Importing a city's calls-for-service export into the planning store (Parquet on disk).

``import_calls`` reads CSV or Parquet through a column mapping (the batch-triage
format, :mod:`heart.domain.mapping`), optionally translates the city's call types to
program natures with a call-type table, optionally reads a *timeline* (dispatch,
arrival, engagement, departure columns), and writes::

    OUT/calls.parquet    normalised calls (the batch-triage schema) + call_type,
                         timeline times and interval minutes
    OUT/rejects.csv      row (1-based data row), reason
    OUT/import.json      the summary (rows read, rejected by reason, kept; the data's
                         time zone)

Rows that cannot be used are counted and written to the rejects with every reason; a
call type the table does not map is *kept* (triage calls it ``nature_unknown``), so it
stays in every denominator. A file that cannot be read at all, whose day and month are
the wrong way round, or with more rejects than allowed raises :class:`InputError` and
writes nothing. No Django here.
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

from heart.batch.io import (
    InputError,
    check_day_month,
    parse_calls,
    parse_times,
    read_raw,
    time_text,
)
from heart.domain.mapping import ColumnMapping, MappingError, position_name
from heart.domain.program import normalise_nature
from heart.planning import jsonsafe

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
    """City call type -> program nature (both spelled as nature codes are).

    ``blank``: call types listed with an empty nature (line numbers), reported as such
    at import rather than as "not in the table". ``where``: only the rows whose column
    holds the value were read (e.g. ``City=Seattle`` in the Vera taxonomy, which lists
    five cities).
    """

    path: Path
    to_nature: dict[str, str]
    blank: dict[str, int] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)
    from_column: str = "call_type"
    to_column: str = "nature"

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        from_column: str = "call_type",
        to_column: str = "nature",
        where: dict[str, str] | None = None,
    ) -> CallTypeTable:
        path = Path(path)
        if not path.exists() and (CALL_TYPE_DIR / f"{path}.csv").exists():
            path = CALL_TYPE_DIR / f"{path}.csv"
        where = dict(where or {})
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                header = reader.fieldnames or []
                for col in (from_column, to_column, *where):
                    if col not in header:
                        raise MappingError(
                            f"{path}: call-type table has no column {col!r} (it has {header})"
                        )
                wanted = {k: " ".join(v.split()).upper() for k, v in where.items()}
                table: dict[str, str] = {}
                blank: dict[str, int] = {}
                seen_at: dict[str, int] = {}
                for line, row in enumerate(reader, start=2):
                    if any(
                        " ".join((row.get(k) or "").split()).upper() != v for k, v in wanted.items()
                    ):
                        continue
                    key = normalise_nature(row[from_column])
                    target = normalise_nature(row[to_column])
                    if key is None:
                        continue
                    if target is None:
                        blank.setdefault(key, line)  # listed, but with no nature
                        continue
                    if key in table and table[key] != target:
                        hint = (
                            ""
                            if where
                            else " (a table of several cities: pick one with "
                            "--call-type-filter COLUMN=VALUE, e.g. City=Seattle)"
                        )
                        raise MappingError(
                            f"{path}: line {line}: call type {key!r} maps to {target!r} but "
                            f"line {seen_at[key]} maps it to {table[key]!r}{hint}"
                        )
                    table[key] = target
                    seen_at[key] = line
        except OSError as exc:
            raise MappingError(f"{path}: cannot read call-type table: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise MappingError(f"{path}: the call-type table is not UTF-8 text") from None
        except csv.Error as exc:
            raise MappingError(f"{path}: not a readable CSV call-type table: {exc}") from None
        if not table:
            raise MappingError(
                f"{path}: call-type table maps no call type" + (f" for {where}" if where else "")
            )
        blank = {k: v for k, v in blank.items() if k not in table}
        return cls(path, table, blank, where, from_column, to_column)

    def describe(self) -> str:
        text = f"{self.path.name} ({self.from_column} -> {self.to_column}"
        if self.where:
            text += ", rows with " + ", ".join(f"{k}={v}" for k, v in self.where.items())
        return text + ")"


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

        def column(where: str, value: object) -> str:
            # a column name, or a 1-based position for a file read by position
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                return position_name(value)
            if not isinstance(value, str) or not value:
                raise MappingError(f"{path}: {where}: must be a column name or position")
            return value

        steps = {}
        for key, value in data.get("timeline", {}).items():
            if key not in STEPS:
                raise MappingError(f"{path}: timeline.{key}: unknown step (one of {STEPS})")
            steps[key] = column(f"timeline.{key}", value)
        extra = {k: column(f"extra.{k}", v) for k, v in data.get("extra", {}).items()}
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


# how a stored call's type was resolved (column `type_status`)
TYPE_MAPPED = "mapped"
TYPE_NOT_IN_TABLE = "not_in_table"
TYPE_BLANK_IN_TABLE = "blank_in_table"
TYPE_MISSING = "missing"
# the nature stored for a call whose type could not be mapped: no program lists it, so
# triage says `nature_unknown` and the call stays in every denominator
UNMAPPED_PREFIX = "(UNMAPPED) "
NO_CALL_TYPE = "(NO CALL TYPE)"
DEFAULT_MAX_REJECT_SHARE = 0.01


class TooManyRejects(InputError):
    """More rows were rejected than the import allows; nothing was written."""


@dataclass
class ImportSummary:
    input: str
    mapping: str
    call_types: str | None
    timeline: str | None
    timezone: str = ""  # the data's own time zone (the mapping's): programs are checked
    time_format: str = ""
    header: bool = True
    rows_read: int = 0
    rejected: int = 0
    kept: int = 0
    rejected_share: float | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE
    allow_rejects: bool = False
    call_type_status: dict[str, int] = field(default_factory=dict)
    unmapped_call_types: dict[str, int] = field(default_factory=dict)
    blank_call_types: dict[str, int] = field(default_factory=dict)
    interval_problems: dict[str, int] = field(default_factory=dict)
    max_interval_minutes: float | None = None
    first_utc: str | None = None
    last_utc: str | None = None
    with_location: int = 0
    warnings: list[str] = field(default_factory=list)
    store: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def read_input(
    path: Path, mapping: ColumnMapping, needed: list[str], *, header: bool | None = None
) -> pl.DataFrame:
    """Every column as text (CSV via :func:`read_raw`, or Parquet); checks needed columns."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        raw = read_raw(path, mapping, header=header)
    else:
        if not path.exists():
            raise InputError(f"{path}: no such file")
        try:
            raw = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(
                f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0][:200]}"
            ) from None
        raw = raw.select(pl.all().cast(pl.String))
        if mapping.positional:
            raw = raw.rename({c: position_name(i) for i, c in enumerate(raw.columns, start=1)})
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
    then_call_types: CallTypeTable | None = None,
    timeline: Timeline | None = None,
    header: bool | None = None,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    allow_rejects: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    """Read, check, translate and store; nothing is written when the file cannot be used
    (unreadable, day/month the wrong way round, too many rejects without
    ``allow_rejects``)."""
    report = progress or (lambda stage, done, total: None)
    tables = " then ".join(t.describe() for t in (call_types, then_call_types) if t)
    summary = ImportSummary(
        input=str(input_path),
        mapping=mapping.name,
        call_types=tables or None,
        timeline=str(timeline.path) if timeline and timeline.path else None,
        timezone=mapping.timezone,
        time_format=mapping.time_format,
        header=mapping.header if header is None else header,
        max_reject_share=max_reject_share,
        allow_rejects=allow_rejects,
        max_interval_minutes=timeline.max_interval_minutes if timeline else None,
    )
    report("read", 0, 1)
    extra_cols = [*timeline.steps.values(), *timeline.extra.values()] if timeline else []
    raw = read_input(Path(input_path), mapping, extra_cols, header=header)
    report("read", 1, 1)
    report("parse", 0, 1)
    # day/month the wrong way round makes wrong dates, not rejects: refuse before parsing
    checks = [("received time", time_text(raw, mapping))]
    for step, col in timeline.steps.items() if timeline else ():
        checks.append((f"{step} time (column {col!r})", raw.get_column(col)))
    for label, values in checks:
        warning = check_day_month(values, mapping, column=f"{input_path}: {label}")
        if warning:
            summary.warnings.append(warning)
    raw_type_column = mapping.column("call_type") or mapping.column("nature")
    raw, mapping = _resolve_natures(raw, mapping, call_types, then_call_types)
    calls, rejects = parse_calls(raw, mapping)
    # parse_calls knows only the triage fields: bring call type and timeline back by row
    keep = raw.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    keep_cols = [
        pl.col("row"),
        pl.col("_call_type").alias("call_type"),
        pl.col("_type_status").alias("type_status"),
    ]
    for step, col in timeline.steps.items() if timeline else ():
        step_text = keep.select(_blank_null(col)).to_series()
        keep_cols.append(pl.lit(parse_times(step_text, mapping)).alias(f"{step}_utc"))
    for name, col in timeline.extra.items() if timeline else ():
        keep_cols.append(_blank_null(col).alias(name))
    calls = calls.join(keep.select(keep_cols), on="row", how="left", maintain_order="left")
    if timeline:
        calls, problems = _intervals(calls, timeline)
        summary.interval_problems = problems
    # parse_calls saw the derived `_nature`: name the field and column the user mapped
    field_name = "call_type" if mapping.column("call_type") else "nature"
    rejects = _tidy_reasons(
        rejects.with_columns(
            pl.col("reason").str.replace(
                "nature: missing",
                f"{field_name}: missing (column {raw_type_column!r})",
                literal=True,
            )
        )
    )
    report("parse", 1, 1)

    summary.rows_read = raw.height
    summary.kept = calls.height
    summary.rejected = rejects.height
    summary.rejected_share = rejects.height / raw.height if raw.height else None
    summary.reject_reasons = _reason_counts(rejects)
    statuses = calls.get_column("type_status").value_counts(sort=True)
    summary.call_type_status = {s: int(n) for s, n in statuses.iter_rows()}
    summary.unmapped_call_types = _types_with(calls, TYPE_NOT_IN_TABLE)
    summary.blank_call_types = _types_with(calls, TYPE_BLANK_IN_TABLE)
    if (
        not allow_rejects
        and summary.rejected_share is not None
        and summary.rejected_share > max_reject_share
    ):
        raise TooManyRejects(_too_many_rejects(input_path, summary, rejects))

    report("write", 0, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    calls.write_parquet(out_dir / "calls.parquet")
    rejects.write_csv(out_dir / "rejects.csv")
    if calls.height:
        summary.first_utc = calls["received_utc"].min().isoformat()  # type: ignore[union-attr]
        summary.last_utc = calls["received_utc"].max().isoformat()  # type: ignore[union-attr]
    summary.with_location = calls.filter(
        pl.col("beat").is_not_null() | pl.col("lon").is_not_null()
    ).height
    summary.store = str(out_dir)
    jsonsafe.write(out_dir / "import.json", summary.as_dict())
    report("write", 1, 1)
    return summary


def _too_many_rejects(path: Path, s: ImportSummary, rejects: pl.DataFrame) -> str:
    reasons = ", ".join(f"{k} {n:,}" for k, n in list(s.reject_reasons.items())[:5])
    examples = "; ".join(
        f"row {r}: {why}" for r, why in rejects.head(2).select("row", "reason").iter_rows()
    )
    return (
        f"{path}: {s.rejected:,} of {s.rows_read:,} rows ({s.rejected_share:.1%}) cannot be "
        f"read, above the {s.max_reject_share:.0%} limit ({reasons}; e.g. {examples}). "
        "Nothing was written: fix the mapping or the file, or pass --allow-rejects to keep "
        f"the {s.kept:,} readable rows (the rejects are then listed in rejects.csv and "
        "counted in every output)."
    )


def _types_with(calls: pl.DataFrame, status: str) -> dict[str, int]:
    counts = (
        calls.filter(pl.col("type_status") == status)
        .get_column("call_type")
        .value_counts(sort=True)
    )
    return {t: int(n) for t, n in counts.iter_rows() if t is not None}


def _blank_null(col: str) -> pl.Expr:
    stripped = pl.col(col).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _resolve_natures(
    raw: pl.DataFrame,
    mapping: ColumnMapping,
    table: CallTypeTable | None,
    then: CallTypeTable | None = None,
) -> tuple[pl.DataFrame, ColumnMapping]:
    """Add ``_call_type``, ``_nature`` and ``_type_status`` columns.

    Every row keeps a nature: a type missing from the table (or listed with a blank
    nature, or with no type at all) gets a nature no program lists, so triage says
    ``nature_unknown`` and the call stays counted; ``_type_status`` says which case.
    """
    type_col = mapping.column("call_type") or mapping.column("nature")
    assert type_col is not None  # load_mapping requires one of them
    raw = raw.with_columns(
        pl.col(type_col)
        .map_elements(normalise_nature, return_dtype=pl.String, skip_nulls=True)
        .alias("_call_type")
    )
    call_type = pl.col("_call_type")
    if table is None:
        source = mapping.column("nature") or "_call_type"
        nature = pl.col(source).map_elements(
            normalise_nature, return_dtype=pl.String, skip_nulls=True
        )
        status = pl.when(call_type.is_null()).then(pl.lit(TYPE_MISSING))
        status = status.otherwise(pl.lit(TYPE_MAPPED))
    else:
        nature = call_type.replace_strict(table.to_nature, default=None, return_dtype=pl.String)
        if then is not None:
            nature = nature.replace_strict(then.to_nature, default=None, return_dtype=pl.String)
        blank = call_type.is_in(sorted(table.blank))
        status = (
            pl.when(call_type.is_null())
            .then(pl.lit(TYPE_MISSING))
            .when(nature.is_not_null())
            .then(pl.lit(TYPE_MAPPED))
            .when(blank)
            .then(pl.lit(TYPE_BLANK_IN_TABLE))
            .otherwise(pl.lit(TYPE_NOT_IN_TABLE))
        )
    unknown = (
        pl.when(call_type.is_null())
        .then(pl.lit(NO_CALL_TYPE))
        .otherwise(pl.lit(UNMAPPED_PREFIX) + call_type)
    )
    raw = raw.with_columns(
        pl.coalesce(nature, unknown).alias("_nature"), status.alias("_type_status")
    )
    return raw, replace(mapping, columns={**mapping.columns, "nature": "_nature"})


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


def _tidy_reasons(rejects: pl.DataFrame) -> pl.DataFrame:
    """Reasons as ``; ``-joined non-empty items; a row with no reason left is not a reject."""
    tidy = (
        pl.col("reason")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
        .list.join("; ")
    )
    return rejects.with_columns(tidy).filter(pl.col("reason") != "").sort("row")


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


def load_store(store: Path) -> pl.DataFrame:
    path = Path(store) / "calls.parquet"
    if not path.exists():
        raise InputError(
            f"{store}: not a planning store (no calls.parquet; run `heart plan import`)"
        )
    return pl.read_parquet(path)


def load_store_summary(store: Path) -> dict:
    """The store's import.json (rows read, rejects, the data's time zone); {} if absent."""
    path = Path(store) / "import.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}

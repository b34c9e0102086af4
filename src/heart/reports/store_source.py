"""The planning store (a city's imported export, Parquet) as report records. No Django.

Two kinds of store, told apart by ``basis``:

* ``responses``: a crisis team's own dispatch records with a timeline (Lane County's
  mobile crisis team): every record is a team response; response time is request to
  arrival, on-scene time arrival to departure; dispositions through a table
  (``reports/dispositions/<mapping>.csv``).
* ``cad``: a police CAD export before (or beside) go-live: each call is replayed through
  the program's rules (the batch triage engine, as ``heart plan eligibility``), so the
  figures say what the program *would* have done: which calls are eligible, which the
  rules would send a team to (counted as reached: "would be reached if a team is
  free"), in which hours and areas. No team times exist in such an export.

``auto`` picks ``responses`` when the store has arrival times, else ``cad``.
Locations become a beat or an H3 cell here; points, narratives and ids of the source
never reach a record.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from heart.batch.io import InputError
from heart.domain.mapping import MappingError, load_mapping
from heart.domain.metrics import CALL_SCHEMA, DISPOSITIONS, Period, ReportData, calls_frame
from heart.domain.program import Program
from heart.planning.eligibility import H3_RESOLUTION, area_key, classify
from heart.planning.store import MAX_INTERVAL_MINUTES, Timeline

DISPOSITION_DIR = Path(__file__).resolve().parent / "dispositions"


@dataclass(frozen=True, slots=True)
class StoreInfo:
    path: Path
    basis: str
    timezone: str | None  # the export's own time zone (its column mapping's)
    max_interval_minutes: float
    mapping: str


def store_info(store: Path, *, basis: str = "auto") -> StoreInfo:
    store = Path(store)
    calls = store / "calls.parquet"
    if not calls.exists():
        raise InputError(
            f"{store}: not a planning store (no calls.parquet; run `heart plan import`)"
        )
    meta: dict = {}
    if (store / "import.json").exists():
        try:
            meta = json.loads((store / "import.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{store}/import.json: cannot be read ({exc})") from None
    columns = pl.read_parquet_schema(calls)
    if basis == "auto":
        basis = "responses" if "arrived_utc" in columns else "cad"
    if basis not in ("responses", "cad"):
        raise InputError(f"basis: {basis!r} is not one of auto, responses, cad")
    if basis == "responses" and "arrived_utc" not in columns:
        raise InputError(f"{store}: basis 'responses' needs a timeline (no arrival times stored)")
    zone = None
    mapping = str(meta.get("mapping") or "")
    if mapping:
        try:
            zone = load_mapping(mapping).timezone
        except MappingError:
            zone = None  # a mapping file that moved: the program's zone is used
    limit = MAX_INTERVAL_MINUTES
    if meta.get("timeline"):
        with contextlib.suppress(MappingError):  # a moved timeline file: the default
            limit = Timeline.load(Path(meta["timeline"])).max_interval_minutes
    return StoreInfo(store, basis, zone, float(limit), mapping)


def disposition_table(mapping: str) -> dict[str, str]:
    """The store's disposition words -> report outcomes (empty when there is no table)."""
    path = DISPOSITION_DIR / f"{mapping}.csv"
    if not mapping or not path.exists():
        return {}
    table = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            outcome = (row.get("outcome") or "").strip()
            if outcome not in DISPOSITIONS:
                raise InputError(
                    f"{path}: line {line}: outcome {outcome!r} is not one of {DISPOSITIONS}"
                )
            table[(row.get("disposition") or "").strip().casefold()] = outcome
    return table


def read_calls(info: StoreInfo, period: Period) -> pl.DataFrame:
    """The store's calls received in the period (read lazily: only those rows)."""
    start, end = period.start_utc, period.end_utc
    return (
        pl.scan_parquet(info.path / "calls.parquet")
        .filter((pl.col("received_utc") >= start) & (pl.col("received_utc") < end))
        .collect()
    )


def store_data(
    info: StoreInfo,
    period: Period,
    program: Program,
    *,
    team_route: str,
    team_routes: frozenset[str],
    rules_as_of: dt.date | None = None,
    h3_resolution: int = H3_RESOLUTION,
    area_by: str = "h3",
) -> ReportData:
    df = read_calls(info, period)
    notes: list[str] = []
    if df.height == 0:
        return ReportData(basis=info.basis, calls=[], source=str(info.path), as_of=_now())
    area = area_key(df, by=area_by, resolution=h3_resolution)
    ids = df.get_column("row").cast(pl.String)
    if info.basis == "cad":
        decided = classify(program, df, rules_as_of=rules_as_of)
        team = decided.get_column("route").is_in(list(team_routes))
        frame = pl.DataFrame(
            {
                "call_id": ids,
                "received_at": df.get_column("received_utc"),
                "call_type": df.get_column("nature").fill_null("UNKNOWN"),
                "route": decided.get_column("route"),
                "reason_codes": decided.get_column("reasons").fill_null("").str.split(";"),
                "team_sent": team,
                "reached": team,
                "area": area,
            }
        ).with_columns(
            pl.lit(program.rules_version).alias("rules_version"),
            *(pl.lit(None, dtype=CALL_SCHEMA[c]).alias(c) for c in _ABSENT_IN_CAD),
        )
        notes.append(
            "Replayed from a CAD export: routes are what the program's rules would have "
            "decided; 'reached' counts calls the rules would send a team to."
        )
    else:
        table = disposition_table(info.mapping)
        words = (
            df.get_column("disposition")
            if "disposition" in df.columns
            else pl.Series([None] * df.height, dtype=pl.String)
        )
        outcome = (
            words.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(table, default="other", return_dtype=pl.String)
        )
        arrived = df.get_column("arrived_utc")
        frame = pl.DataFrame(
            {
                "call_id": ids,
                "received_at": df.get_column("received_utc"),
                "call_type": df.get_column("nature").fill_null("UNKNOWN"),
                "team_sent": pl.Series([True] * df.height),
                "reached": arrived.is_not_null(),
                "on_scene_at": arrived,
                "disposition": pl.select(
                    pl.when(arrived.is_not_null() & words.is_not_null()).then(outcome)
                ).to_series(),
                "area": area,
            }
        ).with_columns(
            pl.lit(team_route).alias("route"),
            pl.lit([], dtype=pl.List(pl.String)).alias("reason_codes"),
            _optional(df, "dispatched_utc").alias("dispatched_at"),
            _optional(df, "cleared_utc").alias("cleared_at"),
            pl.lit(None, dtype=pl.String).alias("crisis_line_outcome"),
            pl.lit("").alias("rules_version"),
            pl.lit(True).alias("eligible"),
        )
        notes.append(
            "A team's own dispatch records: every record is a team response; times "
            f"outside 0-{info.max_interval_minutes:g} minutes are data-entry slips and left out."
        )
    return ReportData(
        basis=info.basis,
        calls=calls_frame(frame),
        source=str(info.path),
        notes=tuple(notes),
        as_of=_now(),
    )


_ABSENT_IN_CAD = (
    "dispatched_at",
    "on_scene_at",
    "cleared_at",
    "disposition",
    "crisis_line_outcome",
    "eligible",
)


def _optional(df: pl.DataFrame, column: str) -> pl.Series:
    if column in df.columns:
        return df.get_column(column)
    return pl.Series(column, [None] * df.height, dtype=pl.Datetime("us", "UTC"))


def estimate_unit_minutes(info: StoreInfo, program: Program) -> tuple[float, str]:
    """Police unit minutes per call, from a CAD export with dispatch and clear times: the
    mean dispatch-to-clear time of the calls the program's rules find eligible (the
    calls a team would take). The sentence says how it was made."""
    df = pl.read_parquet(info.path / "calls.parquet")
    for column in ("dispatched_utc", "cleared_utc"):
        if column not in df.columns:
            raise InputError(
                f"{info.path}: no {column[:-4]} times: police minutes per call cannot be "
                "estimated from this store (give --police-minutes and its source)"
            )
    decided = classify(program, df)
    minutes = (
        df.with_columns(decided["eligible"])
        .filter(pl.col("eligible"))
        .select(
            ((pl.col("cleared_utc") - pl.col("dispatched_utc")).dt.total_seconds() / 60).alias("m")
        )
        .filter(pl.col("m").is_between(0, info.max_interval_minutes))
        .get_column("m")
    )
    if minutes.len() == 0:
        raise InputError(f"{info.path}: no eligible call has both a dispatch and a clear time")
    first = df["received_utc"].min().date().isoformat()  # type: ignore[union-attr]
    last = df["received_utc"].max().date().isoformat()  # type: ignore[union-attr]
    mean = round(float(minutes.mean()), 1)  # type: ignore[arg-type]
    return mean, (
        f"mean dispatch-to-clear time of {minutes.len():,} calls of eligible types in the "
        f"city's CAD export {info.path.name} ({first} to {last})"
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""Reading a city's call export through a column mapping: accepted calls and rejects.

A row that cannot be read (bad time, missing nature, coordinates outside the world,
an unrecognised flag) goes to the rejects with its 1-based data row number and every
reason; the rest are returned in a normalised frame for :mod:`heart.domain.triage_batch`.
Only an input that cannot be read at all raises :class:`InputError`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from heart.domain.geo import normalise_beat
from heart.domain.mapping import ColumnMapping
from heart.domain.program import normalise_nature

NORMALISED_SCHEMA = {
    "row": pl.Int64,
    "id": pl.String,
    "received_utc": pl.Datetime("us", "UTC"),
    "nature": pl.String,
    "priority": pl.String,
    "beat": pl.String,
    "lon": pl.Float64,
    "lat": pl.Float64,
    "narrative": pl.String,
    "weapon_flag": pl.Boolean,
    "violence_flag": pl.Boolean,
}


class InputError(ValueError):
    """The input file cannot be read at all."""


def read_raw(path: Path, mapping: ColumnMapping) -> pl.DataFrame:
    """Every column as text; checks that the mapped columns exist."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        raw = pl.read_csv(
            path,
            infer_schema=False,
            separator=mapping.delimiter,
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
        )
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: the file is empty (no header row)") from None
    except (pl.exceptions.ComputeError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [
        f"{field} -> {col!r}" for field, col in mapping.columns.items() if col not in raw.columns
    ]
    if missing:
        raise InputError(
            f"{path}: mapping {mapping.name!r} names columns the file lacks: "
            f"{', '.join(missing)} (the file has {raw.columns})"
        )
    return raw


def parse_calls(raw: pl.DataFrame, mapping: ColumnMapping) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted calls in the normalised schema, rejects with columns row, reason)."""
    m = mapping.column

    def text(field: str) -> pl.Expr:
        col = m(field)
        if col is None:
            return pl.lit(None, dtype=pl.String)
        stripped = pl.col(col).str.strip_chars()
        return pl.when(stripped == "").then(None).otherwise(stripped)

    df = raw.with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    if m("datetime"):
        when_text = text("datetime")
    else:
        when_text = pl.concat_str([text("date"), text("time")], separator=" ")
    df = df.with_columns(
        when_text.alias("_when"),
        _parse_time(when_text, mapping).alias("received_utc"),
        text("nature").alias("_nature_raw"),
        text("beat").alias("_beat_raw"),
        text("lon").alias("_lon_raw"),
        text("lat").alias("_lat_raw"),
        text("weapon_flag").str.to_uppercase().alias("_weapon_raw"),
        text("violence_flag").str.to_uppercase().alias("_violence_raw"),
        text("id").alias("id"),
        text("priority").alias("priority"),
        pl.col(m("narrative")).alias("narrative")
        if m("narrative")
        else pl.lit(None, dtype=pl.String).alias("narrative"),
    ).with_columns(
        pl.col("_lon_raw").cast(pl.Float64, strict=False).alias("lon"),
        pl.col("_lat_raw").cast(pl.Float64, strict=False).alias("lat"),
        _flag(pl.col("_weapon_raw"), mapping).alias("weapon_flag"),
        _flag(pl.col("_violence_raw"), mapping).alias("violence_flag"),
    )

    in_world = (
        pl.col("lon").is_between(-180.0, 180.0) & pl.col("lat").is_between(-90.0, 90.0)
    ).fill_null(False)
    problems = [
        pl.when(pl.col("_when").is_null()).then(pl.lit("time: missing")),
        pl.when(pl.col("_when").is_not_null() & pl.col("received_utc").is_null()).then(
            pl.format(
                "time: {} is not a valid time for format {} in {} (or falls in a daylight-saving gap)",
                pl.col("_when"),
                pl.lit(mapping.time_format),
                pl.lit(mapping.timezone),
            )
        ),
        pl.when(pl.col("_nature_raw").is_null()).then(pl.lit("nature: missing")),
        pl.when(pl.col("_lon_raw").is_not_null() & pl.col("lon").is_null()).then(
            pl.format("lon: {} is not a number", pl.col("_lon_raw"))
        ),
        pl.when(pl.col("_lat_raw").is_not_null() & pl.col("lat").is_null()).then(
            pl.format("lat: {} is not a number", pl.col("_lat_raw"))
        ),
        pl.when(pl.col("_lon_raw").is_null() != pl.col("_lat_raw").is_null()).then(
            pl.lit("lon/lat: only one of the two is given")
        ),
        pl.when(pl.col("lon").is_not_null() & pl.col("lat").is_not_null() & ~in_world).then(
            pl.format(
                "coordinates outside the world (lon {}, lat {})", pl.col("lon"), pl.col("lat")
            )
        ),
        pl.when(pl.col("_weapon_raw").is_not_null() & pl.col("weapon_flag").is_null()).then(
            pl.format("weapon flag: {} is not a recognised yes/no value", pl.col("_weapon_raw"))
        ),
        pl.when(pl.col("_violence_raw").is_not_null() & pl.col("violence_flag").is_null()).then(
            pl.format("violence flag: {} is not a recognised yes/no value", pl.col("_violence_raw"))
        ),
    ]
    df = df.with_columns(pl.concat_str(problems, separator="; ", ignore_nulls=True).alias("_why"))
    df = df.with_columns(
        pl.when(pl.col("_why") == "").then(None).otherwise(pl.col("_why")).alias("_why")
    )
    rejects = df.filter(pl.col("_why").is_not_null()).select("row", pl.col("_why").alias("reason"))
    accepted = df.filter(pl.col("_why").is_null())

    # spelling rules shared with the single-call engine, once per distinct value
    accepted = accepted.with_columns(
        _map_distinct(accepted, "_nature_raw", normalise_nature).alias("nature"),
        _map_distinct(accepted, "_beat_raw", normalise_beat).alias("beat"),
    )
    return accepted.select(list(NORMALISED_SCHEMA)).cast(NORMALISED_SCHEMA), rejects


def _map_distinct(df: pl.DataFrame, column: str, fn) -> pl.Expr:
    values = [v for v in df.get_column(column).unique().to_list() if v is not None]
    return pl.col(column).replace_strict(
        {v: fn(v) for v in values}, default=None, return_dtype=pl.String
    )


def _flag(raw: pl.Expr, mapping: ColumnMapping) -> pl.Expr:
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(raw.is_in(sorted(mapping.true_values)))
        .then(True)
        .when(raw.is_in(sorted(mapping.false_values)))
        .then(False)
        .otherwise(None)
        .cast(pl.Boolean)
    )


def _parse_time(value: pl.Expr, mapping: ColumnMapping) -> pl.Expr:
    utc = pl.Datetime("us", "UTC")
    naive = pl.Datetime("us")

    def localise(expr: pl.Expr) -> pl.Expr:
        # ambiguous (the repeated hour when clocks fall back): the first occurrence;
        # non-existent (the skipped hour in spring): rejected as not a valid time
        return expr.dt.replace_time_zone(
            mapping.timezone, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")

    if mapping.time_format == "iso8601":
        iso = value.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
        with_offset = iso.str.strptime(utc, "%Y-%m-%dT%H:%M:%S%.f%z", strict=False)
        without = localise(iso.str.strptime(naive, "%Y-%m-%dT%H:%M:%S%.f", strict=False))
        date_only = localise(iso.str.strptime(naive, "%Y-%m-%dT%H:%M", strict=False))
        return pl.coalesce(with_offset, without, date_only)
    if "%z" in mapping.time_format or "%:z" in mapping.time_format:
        return value.str.strptime(utc, mapping.time_format, strict=False)
    return localise(value.str.strptime(naive, mapping.time_format, strict=False))

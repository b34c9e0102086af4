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
        try:
            raw = pl.read_csv(path, infer_schema=False, separator=mapping.delimiter)
        except pl.exceptions.ComputeError:
            # the strict read is faster; ragged rows or stray bytes need the forgiving one
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
    """(accepted calls in the normalised schema, rejects with columns row, reason).

    Two steps, so that a few bad rows in a big file cost nothing and break nothing:
    one lazy plan computes every normalised column and a ``_bad`` flag for all rows;
    the reject messages are then written for the bad rows only, on a small compact
    frame. (Building the messages inside the big plan, as ``when(bad).then(format(…))``
    over a file read in many chunks, made Polars panic with "assertion failed:
    i < self.len()" on files of more than ~25,000 rows with a single bad row.)
    """
    m = mapping.column

    def text(field: str) -> pl.Expr:
        col = m(field)
        if col is None:
            return pl.lit(None, dtype=pl.String)
        stripped = pl.col(col).str.strip_chars()
        return pl.when(stripped == "").then(None).otherwise(stripped)

    if m("datetime"):
        when_text = text("datetime")
    else:
        when_text = pl.concat_str([text("date"), text("time")], separator=" ")
    # one contiguous Series for the time parser (its fast paths test and scatter whole
    # columns); every other column stays an expression over `raw` in the plan below
    when = raw.select(when_text.alias("_when")).to_series().rechunk()
    received = parse_times(when, mapping).rechunk().alias("received_utc")
    df = (
        raw.lazy()
        .with_row_index("row", offset=1)
        .with_columns(
            pl.col("row").cast(pl.Int64),
            when_text.alias("_when"),
            received,
            # spelling rules shared with the single-call engine, once per distinct value
            _map_distinct(raw, m("nature"), normalise_nature).alias("nature"),
            _map_distinct(raw, m("beat"), normalise_beat).alias("beat"),
            text("lon").alias("_lon_raw"),
            text("lat").alias("_lat_raw"),
            text("weapon_flag").str.to_uppercase().alias("_weapon_raw"),
            text("violence_flag").str.to_uppercase().alias("_violence_raw"),
            text("id").alias("id"),
            text("priority").alias("priority"),
            pl.col(m("narrative")).alias("narrative")
            if m("narrative")
            else pl.lit(None, dtype=pl.String).alias("narrative"),
        )
        .with_columns(
            pl.col("_lon_raw").cast(pl.Float64, strict=False).alias("lon"),
            pl.col("_lat_raw").cast(pl.Float64, strict=False).alias("lat"),
            _flag(pl.col("_weapon_raw"), mapping).alias("weapon_flag"),
            _flag(pl.col("_violence_raw"), mapping).alias("violence_flag"),
        )
    )
    checks = _row_checks(mapping)
    df = df.with_columns(pl.any_horizontal([cond for cond, _ in checks]).alias("_bad"))
    accepted = df.filter(~pl.col("_bad")).select(list(NORMALISED_SCHEMA)).cast(NORMALISED_SCHEMA)
    bad_rows = df.filter(pl.col("_bad")).select("row", *_CHECKED_COLUMNS)
    # the in-memory engine suits this one-shot plan better than streaming (measured)
    accepted_df, bad_df = pl.collect_all([accepted, bad_rows], engine="in-memory")
    rejects_df = bad_df.rechunk().select(
        "row",
        pl.concat_str(
            [pl.when(cond).then(msg) for cond, msg in checks], separator="; ", ignore_nulls=True
        ).alias("reason"),
    )
    return accepted_df, rejects_df


# the columns the row checks read (and the reject messages quote)
_CHECKED_COLUMNS = (
    "_when",
    "received_utc",
    "nature",
    "_lon_raw",
    "_lat_raw",
    "lon",
    "lat",
    "_weapon_raw",
    "weapon_flag",
    "_violence_raw",
    "violence_flag",
)


def _row_checks(mapping: ColumnMapping) -> list[tuple[pl.Expr, pl.Expr]]:
    """(condition that makes a row unreadable, the message naming the field) pairs."""
    in_world = (
        pl.col("lon").is_between(-180.0, 180.0) & pl.col("lat").is_between(-90.0, 90.0)
    ).fill_null(False)
    return [
        (pl.col("_when").is_null(), pl.lit("time: missing")),
        (
            pl.col("_when").is_not_null() & pl.col("received_utc").is_null(),
            pl.format(
                "time: {} is not a valid time for format {} in {} (or falls in a daylight-saving gap)",
                pl.col("_when"),
                pl.lit(mapping.time_format),
                pl.lit(mapping.timezone),
            ),
        ),
        (pl.col("nature").is_null(), pl.lit("nature: missing")),
        (
            pl.col("_lon_raw").is_not_null() & pl.col("lon").is_null(),
            pl.format("lon: {} is not a number", pl.col("_lon_raw")),
        ),
        (
            pl.col("_lat_raw").is_not_null() & pl.col("lat").is_null(),
            pl.format("lat: {} is not a number", pl.col("_lat_raw")),
        ),
        (
            pl.col("_lon_raw").is_null() != pl.col("_lat_raw").is_null(),
            pl.lit("lon/lat: only one of the two is given"),
        ),
        (
            pl.col("lon").is_not_null() & pl.col("lat").is_not_null() & ~in_world,
            pl.format(
                "coordinates outside the world (lon {}, lat {})", pl.col("lon"), pl.col("lat")
            ),
        ),
        (
            pl.col("_weapon_raw").is_not_null() & pl.col("weapon_flag").is_null(),
            pl.format("weapon flag: {} is not a recognised yes/no value", pl.col("_weapon_raw")),
        ),
        (
            pl.col("_violence_raw").is_not_null() & pl.col("violence_flag").is_null(),
            pl.format(
                "violence flag: {} is not a recognised yes/no value", pl.col("_violence_raw")
            ),
        ),
    ]


def _map_distinct(raw: pl.DataFrame, column: str | None, fn) -> pl.Expr:
    """The raw column through ``fn`` (which also strips), once per distinct value."""
    if column is None:
        return pl.lit(None, dtype=pl.String)
    values = raw.get_column(column).unique().to_list()
    table = {v: fn(v) for v in values if v is not None}
    return pl.col(column).replace_strict(table, default=None, return_dtype=pl.String)


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


def parse_times(values: pl.Series, mapping: ColumnMapping) -> pl.Series:
    """Text -> UTC instants; null where a value is not a valid time (checked by the caller)."""
    utc = pl.Datetime("us", "UTC")
    naive = pl.Datetime("us")

    def localise(series: pl.Series) -> pl.Series:
        # ambiguous (the repeated hour when clocks fall back): the first occurrence;
        # non-existent (the skipped hour in spring): null, so the row is rejected
        return series.dt.replace_time_zone(
            mapping.timezone, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")

    if mapping.time_format != "iso8601":
        if "%z" in mapping.time_format or "%:z" in mapping.time_format:
            return values.str.strptime(utc, mapping.time_format, strict=False)
        return localise(values.str.strptime(naive, mapping.time_format, strict=False))

    iso = values
    if iso.str.contains(" ", literal=True).any():
        iso = iso.str.replace(" ", "T", literal=True, n=1)
    fast = _fixed_offset_form(iso)
    if fast is not None:  # the usual export: every value is YYYY-MM-DDTHH:MM:SS±HH:MM
        wall_text, minutes = fast
        wall = _first_parse(wall_text, ("%Y-%m-%dT%H:%M:%S",))
        return (wall - (minutes * 60_000_000).cast(pl.Duration("us"))).dt.replace_time_zone("UTC")
    # split "2024-01-05T10:00:00.5Z" into wall time and offset: Polars parses the plain
    # wall time on a fast path, and there are only a few distinct offsets
    offset_text = iso.str.extract(r"([+-]\d{2}:?\d{2}|Z)$")
    body = pl.select(
        pl.when(offset_text.is_null())
        .then(iso)
        .otherwise(iso.str.head(iso.str.len_chars().cast(pl.Int64) - offset_text.str.len_chars()))
    ).to_series()
    wall = _first_parse(body, ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"))
    offsets = {o: _offset_minutes(o) for o in offset_text.unique().to_list() if o is not None}
    minutes = offset_text.replace_strict(offsets, default=None, return_dtype=pl.Int64)
    with_offset = (wall - (minutes * 60_000_000).cast(pl.Duration("us"))).dt.replace_time_zone(
        "UTC"
    )
    has_offset = offset_text.is_not_null()
    if has_offset.all():
        return with_offset
    return pl.select(pl.when(has_offset).then(with_offset).otherwise(localise(wall))).to_series()


def _fixed_offset_form(iso: pl.Series) -> tuple[pl.Series, pl.Series] | None:
    """(wall-time text, offset minutes) when every value is YYYY-MM-DDTHH:MM:SS±HH:MM."""
    if iso.len() == 0 or iso.null_count() or not (iso.str.len_bytes() == 25).all():
        return None
    parts = pl.select(
        iso.str.slice(19, 1).alias("sign"),
        iso.str.slice(22, 1).alias("colon"),
        iso.str.slice(20, 2).cast(pl.Int64, strict=False).alias("hh"),
        iso.str.slice(23, 2).cast(pl.Int64, strict=False).alias("mm"),
    )
    ok = pl.select(
        (
            parts["sign"].is_in(["+", "-"])
            & (parts["colon"] == ":")
            & parts["hh"].is_between(0, 18)
            & parts["mm"].is_between(0, 59)
        ).all()
    ).item()
    if not ok:
        return None
    sign = pl.select(pl.when(parts["sign"] == "-").then(-1).otherwise(1)).to_series()
    return iso.str.slice(0, 19), sign * (parts["hh"] * 60 + parts["mm"])


def _first_parse(text: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Parse with the first format; only the rows it misses try the next ones."""
    naive = pl.Datetime("us")
    parsed = text.str.to_datetime(formats[0], time_unit="us", strict=False, cache=False)
    for fmt in formats[1:]:
        missing = parsed.is_null() & text.is_not_null()
        if not missing.any():
            break
        retry = text.filter(missing).str.to_datetime(fmt, time_unit="us", strict=False, cache=False)
        parsed = parsed.scatter(missing.arg_true(), retry.cast(naive))
    return parsed


def _offset_minutes(text: str) -> int | None:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 18 or minutes > 59:
        return None
    return sign * (hours * 60 + minutes)

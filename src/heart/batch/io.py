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
from heart.domain.mapping import ColumnMapping, position_name
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


# the first bytes of files people export by mistake instead of CSV
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls (or other Office) file"),
    (b"PAR1", "a Parquet file (name it .parquet to import it as Parquet)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file (unpack it first)"),
    (b"SQLite format 3", "an SQLite database"),
    (b"{\\rtf", "an RTF document"),
)


def _not_text(path: Path) -> str | None:
    """What a file is when it is clearly not CSV text (None: it may well be CSV)."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "binary data (it holds NUL bytes)"
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if head and controls / len(head) > 0.05:
        return "binary data (many control characters)"
    return None


_DATA_LIKE = (
    r"^-?\d+(\.\d+)?$",  # a number
    r"^\d{4}-\d{2}-\d{2}",  # an ISO date
    r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}",  # a d/m/y or m/d/y date
)


def _header_looks_like_data(names: list[str]) -> list[str]:
    """The header cells that look like values (numbers, dates): a headerless file."""
    import re

    return [n for n in names if any(re.match(p, n.strip()) for p in _DATA_LIKE)]


def read_raw(path: Path, mapping: ColumnMapping, *, header: bool | None = None) -> pl.DataFrame:
    """Every column as text; checks that the mapped columns exist.

    ``header`` (default: the mapping's ``header``): whether the first row names the
    columns. A mapping that gives columns by position gets the frame's columns named
    ``#1``, ``#2`` … (with or without a header row). A file that is not CSV text (an
    Excel workbook, a PDF, binary data) gets one sentence saying what it looks like.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV file")
    has_header = mapping.header if header is None else header
    if not has_header and not mapping.positional:
        raise InputError(
            f"{path}: without a header row the mapping must give columns by position "
            f"(e.g. datetime = 4); mapping {mapping.name!r} gives names"
        )
    try:
        what = _not_text(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    if what:
        raise InputError(
            f"{path}: not a CSV text file: it looks like {what}. Export the calls as CSV "
            "(or Parquet) and try again."
        )
    try:
        try:
            raw = pl.read_csv(
                path, infer_schema=False, separator=mapping.delimiter, has_header=has_header
            )
        except pl.exceptions.ComputeError:
            # the strict read is faster; ragged rows or stray bytes need the forgiving one
            raw = pl.read_csv(
                path,
                infer_schema=False,
                separator=mapping.delimiter,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                has_header=has_header,
            )
    except pl.exceptions.NoDataError:
        raise InputError(f"{path}: the file is empty (no header row)") from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot be read as CSV: {str(exc).splitlines()[0][:200]}"
        ) from None
    if mapping.positional:
        raw = raw.rename({c: position_name(i) for i, c in enumerate(raw.columns, start=1)})
    missing = [
        f"{field} -> {col!r}" for field, col in mapping.columns.items() if col not in raw.columns
    ]
    if missing:
        if mapping.positional:
            raise InputError(
                f"{path}: mapping {mapping.name!r} names column positions the file lacks: "
                f"{', '.join(missing)} (the file has {raw.width} columns)"
            )
        data_like = _header_looks_like_data(raw.columns)
        if has_header and len(data_like) >= max(2, raw.width // 3):
            raise InputError(
                f"{path}: the first row looks like data, not a header ({data_like[:3]}): "
                "the file has no header row. Give the mapping's columns by position "
                "(e.g. datetime = 4) and read it with --no-header (docs/mapping-format.md)"
            )
        raise InputError(
            f"{path}: mapping {mapping.name!r} names columns the file lacks: "
            f"{', '.join(missing)} (the file has {raw.columns})"
        )
    return raw


def time_text(raw: pl.DataFrame, mapping: ColumnMapping) -> pl.Series:
    """The text of each row's received time, as :func:`parse_calls` joins it."""

    def text(col: str) -> pl.Expr:
        stripped = pl.col(col).str.strip_chars()
        return pl.when(stripped == "").then(None).otherwise(stripped)

    if mapping.column("datetime"):
        expr = text(mapping.columns["datetime"])
    else:
        expr = pl.concat_str(
            [text(mapping.columns["date"]), text(mapping.columns["time"])], separator=" "
        )
    return raw.select(expr.alias("_when")).to_series()


def _swap_day_month(fmt: str) -> str | None:
    if "%d" not in fmt or "%m" not in fmt:
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _dates(text: pl.Series, fmt: str) -> pl.Series:
    if "%z" in fmt or "%:z" in fmt:
        return text.str.to_datetime(fmt, strict=False).dt.replace_time_zone(None)
    return text.str.to_datetime(fmt, time_unit="us", strict=False)


def check_day_month(values: pl.Series, mapping: ColumnMapping, *, column: str) -> str | None:
    """Refuse a time format whose day and month are the wrong way round for the data.

    Evidence either way: values that do not parse with the mapping's format but do with
    day and month swapped (a number above 12 in the month position), or, when every
    value has both numbers at most 12, a spread of dates that only makes sense one way
    (read as written the dates keep to days 1-12 of each month over a long span; read
    swapped they fill a period day after day). Raises :class:`InputError` naming the
    evidence; returns a warning when the data cannot tell, else None.
    """
    fmt = mapping.time_format
    swapped = _swap_day_month(fmt) if fmt != "iso8601" else None
    if swapped is None:
        return None
    year = fmt.find("%Y") if "%Y" in fmt else fmt.find("%y")
    if 0 <= year < min(fmt.find("%d"), fmt.find("%m")):
        return None  # year first (2024-03-05): nobody writes year-day-month
    text = values.str.strip_chars()
    given = text.is_not_null() & (text != "")
    n = int(given.sum())
    if not n:
        return None
    as_written = _dates(text, fmt)
    as_swapped = _dates(text, swapped)
    fail_written = int((given & as_written.is_null()).sum())
    fail_swapped = int((given & as_swapped.is_null()).sum())
    if fail_written and fail_swapped < fail_written / 10:
        rescued = (given & as_written.is_null() & as_swapped.is_not_null()).arg_true()
        row = int(rescued[0]) if len(rescued) else int((given & as_written.is_null()).arg_true()[0])
        example = text[row]
        day = as_swapped[row].day if as_swapped[row] is not None else None
        why = f": {day} cannot be a month" if day and day > 12 else ""
        raise InputError(
            f"{column}: time.format {fmt!r} reads day and month the wrong way round for "
            f"this file: {fail_written:,} of {n:,} values do not parse with it (e.g. row "
            f"{row + 1}: {example!r}{why}), while {swapped!r} reads all but "
            f"{fail_swapped:,}. Fix time.format in the mapping."
        )
    if fail_written or fail_swapped:
        return None  # the format as written reads more: nothing suggests a swap
    differ = (as_written != as_swapped).fill_null(False)
    if not bool(differ.any()):
        return None  # day == month everywhere: the order does not matter
    written_days = as_written.dt.date().unique().drop_nulls()
    swapped_days = as_swapped.dt.date().unique().drop_nulls()

    def spread(days: pl.Series) -> tuple[int, float]:
        span = (days.max() - days.min()).days + 1  # type: ignore[operator, union-attr]
        return span, days.len() / span

    span_w, fill_w = spread(written_days)
    span_s, fill_s = spread(swapped_days)
    if written_days.len() >= 7 and fill_w < 0.5 and fill_s >= 0.8:
        raise InputError(
            f"{column}: time.format {fmt!r} looks like day and month the wrong way round: "
            f"every value has day and month at most 12, and read as written the "
            f"{written_days.len():,} distinct dates spread over {span_w:,} days keeping to "
            f"days 1-12 of each month (calls on {fill_w:.0%} of the days), while read as "
            f"{swapped!r} they fill {span_s:,} days ({fill_s:.0%} of the days have calls). "
            "Fix time.format in the mapping."
        )
    if written_days.len() < 7:
        return None  # too few dates to tell either way
    return (
        f"{column}: every date has day and month at most 12, so the data cannot confirm "
        f"the order in time.format {fmt!r}; it was taken as written"
    )


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

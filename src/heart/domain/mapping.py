"""Column mappings: which columns of a city's CAD export hold what triage needs.

Format (TOML, documented in docs/mapping-format.md)::

    [mapping]
    name = "durham-dpd"
    delimiter = ","                  # optional
    [columns]
    id = "incident"                  # optional
    date = "call_date"               # date + time, or a single `datetime`
    time = "call_time"
    nature = "nature"
    priority = "priority"            # optional
    lon = "lon"                      # optional: lon/lat and/or beat
    lat = "lat"
    beat = "beat"
    narrative = "notes"              # optional
    weapon_flag = "weapon"           # optional
    violence_flag = "violence"       # optional
    [time]
    format = "%m/%d/%Y %I:%M:%S%p"   # strftime, or "iso8601"
    timezone = "America/New_York"    # zone of times that carry no offset
    [flags]
    true_values = ["Y", "1", "TRUE"]
    false_values = ["N", "0", "FALSE", ""]

A column may also be given by its position (1 = the first column), e.g. ``nature = 3``,
which is how a file without a header row is read (``[mapping] header = false`` or the
planning import's ``--no-header``). Positions are kept as ``"#3"``: the reader names
the file's columns ``#1``, ``#2`` … when the mapping uses positions.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "mappings"
FIELDS = (
    "id",
    "date",
    "time",
    "datetime",
    "nature",
    "priority",
    "lon",
    "lat",
    "beat",
    "narrative",
    "weapon_flag",
    "violence_flag",
    "call_type",
)
DEFAULT_TRUE = ("1", "Y", "YES", "T", "TRUE")
DEFAULT_FALSE = ("0", "N", "NO", "F", "FALSE", "")


class MappingError(ValueError):
    """A mapping file is wrong; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    name: str
    path: Path
    columns: dict[str, str]  # field -> input column
    time_format: str
    timezone: str
    delimiter: str
    true_values: frozenset[str]
    false_values: frozenset[str]
    header: bool = True  # False: the file's first row is data (columns by position)

    def column(self, field: str) -> str | None:
        return self.columns.get(field)

    @property
    def positional(self) -> bool:
        """The columns are given by position ("#3"), not by header name."""
        return any(is_position(c) for c in self.columns.values())


def position_name(position: int) -> str:
    """The name the reader gives the column at a 1-based position."""
    return f"#{position}"


def is_position(column: str) -> bool:
    return column.startswith("#") and column[1:].isdigit()


def builtin_mapping_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_mapping(name_or_path: str | Path) -> ColumnMapping:
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".toml" or path.exists()):
        path = BUILTIN_DIR / f"{text}.toml"
        if not path.exists():
            known = ", ".join(builtin_mapping_names())
            raise MappingError(
                f"{text}: no such mapping file or built-in mapping (built-in: {known})"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None

    def fail(key: str, problem: str) -> MappingError:
        return MappingError(f"{path}: {key}: {problem}")

    for key in data:
        if key not in {"mapping", "columns", "time", "flags"}:
            raise fail(key, "unknown section (expected mapping, columns, time, flags)")
    meta = data.get("mapping", {})
    columns = data.get("columns")
    if not isinstance(columns, dict):
        raise fail("columns", "missing (a table naming input columns)")
    for key in meta:
        if key not in {"name", "delimiter", "header"}:
            raise fail(f"mapping.{key}", "unknown key (expected name, delimiter, header)")
    header = meta.get("header", True)
    if not isinstance(header, bool):
        raise fail("mapping.header", f"must be true or false, found {header!r}")
    kinds = set()
    for key, value in list(columns.items()):
        if key not in FIELDS:
            raise fail(f"columns.{key}", f"unknown field (expected one of {list(FIELDS)})")
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise fail(f"columns.{key}", f"a column position counts from 1, found {value}")
            columns[key] = position_name(value)
            kinds.add("position")
        elif not isinstance(value, str) or not value:
            raise fail(f"columns.{key}", f"must be a column name or position, found {value!r}")
        else:
            kinds.add("name")
    if len(kinds) > 1:
        raise fail("columns", "give every column by name or every column by position, not both")
    if not header and kinds == {"name"}:
        raise fail(
            "mapping.header",
            "a file without a header row needs column positions (e.g. datetime = 4)",
        )
    if "nature" not in columns and "call_type" not in columns:
        raise fail("columns.nature", "missing: which column holds the call type?")
    has_datetime = "datetime" in columns
    has_date_time = "date" in columns and "time" in columns
    if has_datetime == has_date_time:
        raise fail("columns", "give either `datetime`, or both `date` and `time`")
    if ("lon" in columns) != ("lat" in columns):
        raise fail("columns.lon/lat", "give both lon and lat, or neither")

    time = data.get("time", {})
    fmt = time.get("format", "iso8601")
    if not isinstance(fmt, str) or not fmt:
        raise fail("time.format", "must be a strftime format or 'iso8601'")
    zone = time.get("timezone")
    if not isinstance(zone, str):
        raise fail("time.timezone", "missing: the zone of times without an offset")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("time.timezone", f"unknown time zone {zone!r}") from None
    flags = data.get("flags", {})
    true_values = flags.get("true_values", list(DEFAULT_TRUE))
    false_values = flags.get("false_values", list(DEFAULT_FALSE))
    for key, values in (("true_values", true_values), ("false_values", false_values)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise fail(f"flags.{key}", "must be a list of strings")
    delimiter = meta.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise fail("mapping.delimiter", "must be one character")
    return ColumnMapping(
        name=str(meta.get("name", path.stem)),
        path=path,
        columns=dict(columns),
        time_format=fmt,
        timezone=zone,
        delimiter=delimiter,
        true_values=frozenset(v.strip().upper() for v in true_values),
        false_values=frozenset(v.strip().upper() for v in false_values),
        header=header,
    )

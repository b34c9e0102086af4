"""The triage rules over columns: a million calls in seconds, same answers as one call.

The batch path computes the same :class:`~heart.domain.triage.CallFacts` as
:func:`~heart.domain.triage.call_facts`, but column-wise with Polars and shapely 2
array functions; then it calls :func:`~heart.domain.triage.decide_from_facts` once per
*distinct* combination of facts and joins the decisions back. Text-level rules (nature
status, the call type's own name, narrative phrases, priority) run the very same Python
functions as the single-call engine, once per distinct value, and only for calls whose
call type is eligible (the run card reads exclusions for no other call).

Facts are kept as small integer codes (nature id, exclusion id, per unit a status,
area and in-area code) so finding the distinct combinations and joining them back is
cheap; :class:`_Decoder` turns a combination back into a ``CallFacts``.

Input frame columns (as made by :mod:`heart.batch.io`): ``row``, ``id``,
``received_utc`` (tz-aware), ``nature``, ``priority``, ``beat``, ``lon``, ``lat``,
``narrative``, ``weapon_flag``, ``violence_flag``. Nature and beat must already be normalised.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from heart.domain.program import Program, Unit, normalise_priority
from heart.domain.schedule import UnitStatus
from heart.domain.triage import (
    ELIGIBLE_ONLY_FACTS,
    CallFacts,
    ExclusionFacts,
    NatureStatus,
    TextEvidence,
    UnitFact,
    call_type_evidence,
    combine_exclusions,
    decide_from_facts,
    decisive_facts,
    exclusion_fields,
    nature_status,
    text_evidence,
)

STATUSES = list(UnitStatus)
_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
_IN_AREA = {0: None, 1: False, 2: True}


def fact_columns(program: Program) -> dict[str, tuple[str, ...]]:
    """The integer-coded fact columns, in key order, each with the CallFacts fields it carries."""
    return {
        "f_nature": ("nature", "nature_status"),
        "f_operating": ("program_operating",),
        "f_exclusion": tuple(f.name for f in fields(ExclusionFacts)),
        **{
            f"f_{key}_{part}": ("units",)
            for key in sorted(program.units)
            for part in ("status", "area", "in_area")
        },
    }


@dataclass
class _Codebook:
    """What the integer codes of one chunk stand for."""

    natures: list[str | None]
    exclusions: list[ExclusionFacts]
    areas: list[str]


def facts_frame(
    program: Program, calls: pl.DataFrame, *, rules_as_of: dt.date | None = None
) -> tuple[pl.DataFrame, _Codebook, list[str]]:
    """Integer-coded facts per call (input order), their codebook and the fact columns."""
    local_wall = local_wall_time(calls.get_column("received_utc"), program.timezone)
    df = calls.with_columns(
        local_wall.dt.date().alias("_local_date"),
        (local_wall.dt.weekday() - 1).cast(pl.Int8).alias("_weekday"),
        (local_wall.dt.hour().cast(pl.Int16) * 60 + local_wall.dt.minute().cast(pl.Int16)).alias(
            "_minute"
        ),
    )
    rules_date = pl.lit(rules_as_of, dtype=pl.Date) if rules_as_of else pl.col("_local_date")

    natures = df.get_column("nature").unique(maintain_order=True).to_list()
    df = df.with_columns(
        pl.col("nature")
        .replace_strict({n: i for i, n in enumerate(natures)}, return_dtype=pl.UInt32)
        .alias("f_nature")
    )
    areas = sorted(program.areas)
    df = df.with_columns(_area_columns(program, df))
    df = df.with_columns(_holiday_column(program, df))
    unit_cols = []
    for key, unit in sorted(program.units.items()):
        unit_cols.extend(_unit_columns(key, unit, rules_date, areas))
    df = df.with_columns(unit_cols)
    eligible_ids = [
        i for i, n in enumerate(natures) if nature_status(program, n) is NatureStatus.ELIGIBLE
    ]
    eligible = pl.col("f_nature").is_in(eligible_ids)
    df, exclusions = _exclusion_ids(program, df, natures, eligible)
    cols = fact_columns(program)
    # blank what decide never reads for ineligible call types (triage.ELIGIBLE_ONLY_FACTS),
    # so the many codes a program does not take make one combination each, not hundreds
    folded = [c for c, carried in cols.items() if set(carried) <= ELIGIBLE_ONLY_FACTS.keys()]
    df = df.with_columns(
        pl.any_horizontal([pl.col(f"f_{k}_area") > 0 for k in program.units])
        .cast(pl.UInt8)
        .alias("f_operating"),
        *[
            pl.when(eligible).then(pl.col(c)).otherwise(0).cast(df.schema[c]).alias(c)
            for c in folded
        ],
    )
    return df, _Codebook(natures, exclusions, areas), list(cols)


def local_wall_time(utc: pl.Series, zone: str) -> pl.Series:
    """UTC instants -> naive local wall times, from the zone's offset changes in range.

    Same answer as converting each instant with zoneinfo (the property test checks it),
    but a sorted search over a handful of DST transitions instead of a tz lookup per row.
    """
    if utc.len() == 0 or utc.null_count() == utc.len():
        return utc.dt.convert_time_zone(zone).dt.replace_time_zone(None)
    epoch = utc.dt.epoch("us")
    micros = epoch.fill_null(0).to_numpy()
    present = epoch.drop_nulls()
    first, last = int(present.min()), int(present.max())  # type: ignore[arg-type]
    transitions, offsets = _offset_changes(zone, first // 1_000_000, last // 1_000_000)
    index = np.searchsorted(transitions, micros, side="right")
    local = pl.Series(micros + offsets[index]).cast(pl.Datetime("us"))
    if utc.null_count():
        local = pl.select(pl.when(utc.is_not_null()).then(local)).to_series()
    return local


def _offset_changes(zone: str, first_s: int, last_s: int) -> tuple[np.ndarray, np.ndarray]:
    """(µs instants where the UTC offset changes, µs offset before/after each)."""
    tz = ZoneInfo(zone)

    def offset(second: int) -> int:
        return int(dt.datetime.fromtimestamp(second, tz).utcoffset().total_seconds())

    step = 6 * 3600  # no zone changes offset twice within six hours
    start = first_s - 86_400
    changes: list[int] = []
    values = [offset(start)]
    t = start
    while t < last_s + 86_400:
        nxt = t + step
        if offset(nxt) != values[-1]:
            lo, hi = t, nxt  # offset(lo) is the old value, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == values[-1]:
                    lo = mid
                else:
                    hi = mid
            changes.append(hi * 1_000_000)
            values.append(offset(hi))
        t = nxt
    return np.array(changes, dtype=np.int64), np.array(values, dtype=np.int64) * 1_000_000


def _area_columns(program: Program, df: pl.DataFrame) -> list[pl.Series]:
    """Per area: 0 location unknown, 1 outside, 2 inside (beat first, else the point)."""
    beat = df.get_column("beat")
    lon = df.get_column("lon").to_numpy(allow_copy=True).astype(float)
    lat = df.get_column("lat").to_numpy(allow_copy=True).astype(float)
    has_point = ~(np.isnan(lon) | np.isnan(lat))
    has_beat = beat.is_not_null().to_numpy()

    def area_codes(key: str, area) -> pl.Series:
        code = np.zeros(len(df), dtype=np.uint8)
        by_beat = has_beat if area.beats else np.zeros(len(df), dtype=bool)
        if area.beats:
            inside = beat.is_in(list(area.beats)).fill_null(False).to_numpy()
            code[by_beat] = np.where(inside[by_beat], 2, 1)
        if area.geometry is not None:
            by_point = ~by_beat & has_point
            if by_point.any():
                code[by_point] = np.where(area.contains_points(lon[by_point], lat[by_point]), 2, 1)
        return pl.Series(f"_area_{key}", code, dtype=pl.UInt8)

    # shapely releases the GIL in its array functions: the areas run side by side
    with ThreadPoolExecutor(max_workers=min(4, len(program.areas))) as pool:
        return list(pool.map(lambda item: area_codes(*item), program.areas.items()))


def _holiday_column(program: Program, df: pl.DataFrame) -> pl.Expr:
    uses_holidays = any(p.closed_on_holidays for u in program.units.values() for p in u.periods)
    if df.height == 0 or not uses_holidays:
        return pl.lit(False).alias("_holiday")
    years = df.get_column("_local_date").dt.year()
    first, last = int(years.min()), int(years.max())  # type: ignore[arg-type]
    dates = sorted(program.holidays.dates_between(first, last))
    return pl.col("_local_date").is_in(pl.Series(dates, dtype=pl.Date).implode()).alias("_holiday")


def _unit_columns(key: str, unit: Unit, rules_date: pl.Expr, areas: list[str]) -> list[pl.Expr]:
    """Status, area and in-area codes of one unit; mirrors schedule.unit_status exactly."""

    def code(status: UnitStatus) -> pl.Expr:
        return pl.lit(_STATUS_CODE[status], dtype=pl.UInt8)

    first_start = min(p.start for p in unit.periods)
    status = pl.when(rules_date < pl.lit(first_start)).then(code(UnitStatus.NOT_STARTED))
    area = pl.when(pl.lit(False)).then(pl.lit(0, dtype=pl.UInt8))
    in_area = pl.when(pl.lit(False)).then(pl.lit(0, dtype=pl.UInt8))
    for period in unit.periods:
        in_force = rules_date >= pl.lit(period.start)
        if period.end is not None:
            in_force = in_force & (rules_date < pl.lit(period.end))
        covered = pl.lit(False)
        for w in period.windows:
            covered = covered | (
                pl.col("_weekday").is_in(sorted(w.days))
                & (pl.col("_minute") >= w.start_minute)
                & (pl.col("_minute") < w.end_minute)
            )
        period_status = (
            pl.when(covered)
            .then(code(UnitStatus.OPERATING))
            .otherwise(code(UnitStatus.CLOSED_HOURS))
        )
        if period.closed_on_holidays:
            period_status = (
                pl.when(pl.col("_holiday")).then(code(UnitStatus.HOLIDAY)).otherwise(period_status)
            )
        status = status.when(in_force).then(period_status)
        area = area.when(in_force).then(pl.lit(areas.index(period.area) + 1, dtype=pl.UInt8))
        in_area = in_area.when(in_force).then(pl.col(f"_area_{period.area}"))
    return [
        status.otherwise(code(UnitStatus.ENDED)).alias(f"f_{key}_status"),
        area.otherwise(pl.lit(0, dtype=pl.UInt8)).alias(f"f_{key}_area"),
        in_area.otherwise(pl.lit(0, dtype=pl.UInt8)).alias(f"f_{key}_in_area"),
    ]


_BLANK_EXCLUSIONS = ExclusionFacts(
    **{name: ELIGIBLE_ONLY_FACTS[name] for name in ExclusionFacts.__slots__}  # type: ignore[arg-type]
)


def _exclusion_ids(
    program: Program, df: pl.DataFrame, natures: list[str | None], eligible: pl.Expr
) -> tuple[pl.DataFrame, list[ExclusionFacts]]:
    """An id per distinct exclusion outcome of the eligible calls (id 0: none at all).

    The outcome depends on the call type's name, the narrative, the flags and (with a
    priority rule) the priority. Each distinct combination among the *eligible* calls is
    judged by :func:`triage.combine_exclusions` from text evidence computed once per
    distinct narrative and per call type; other calls get id 0 (folded anyway).
    """
    # only the eligible calls are read: a real export's narratives are nearly all
    # distinct, and most of its calls are of types the program does not take
    sub = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_at"),
        "f_nature",
        "narrative",
        "priority",
        "weapon_flag",
        "violence_flag",
    ).filter(eligible)
    narratives = sub.get_column("narrative").unique(maintain_order=True).to_list()
    narrative_id = pl.col("narrative").replace_strict(
        {n: i for i, n in enumerate(narratives) if n is not None},
        default=len(narratives),
        return_dtype=pl.Int64,
    )
    rule = program.exclusions.priority
    excluded_priorities = sorted(rule.excluded) if rule is not None else []
    if excluded_priorities:
        table = {}
        for value in sub.get_column("priority").unique().to_list():
            shown = normalise_priority(value)
            if shown in excluded_priorities:
                table[value] = excluded_priorities.index(shown) + 1
        priority_id = pl.col("priority").replace_strict(table, default=0, return_dtype=pl.Int64)
    else:
        priority_id = pl.lit(0, dtype=pl.Int64)
    n_priorities = len(excluded_priorities) + 1
    n_narratives = len(narratives) + 1

    def flag_code(col: str) -> pl.Expr:  # None 0, False 1, True 2
        return pl.col(col).cast(pl.Int64).fill_null(-1) + 1

    combo = (
        (
            (pl.col("f_nature").cast(pl.Int64) * n_priorities + priority_id) * n_narratives
            + narrative_id
        )
        * 3
        + flag_code("weapon_flag")
    ) * 3 + flag_code("violence_flag")
    combos = sub.select(combo.alias("combo")).get_column("combo")
    flags = (None, False, True)
    ids: dict[ExclusionFacts, int] = {_BLANK_EXCLUSIONS: 0}  # equal outcomes share an id
    table = {}
    said: dict[int, TextEvidence] = {}  # per narrative index
    typed: dict[int, TextEvidence] = {}  # per nature index
    for value in combos.unique().to_list():
        rest, violence = divmod(value, 3)
        rest, weapon = divmod(rest, 3)
        rest, narrative = divmod(rest, n_narratives)
        nature, priority = divmod(rest, n_priorities)
        if narrative not in said:
            said[narrative] = text_evidence(
                program, narratives[narrative] if narrative < len(narratives) else None
            )
        if nature not in typed:
            typed[nature] = call_type_evidence(program, natures[nature], None)
        ex = combine_exclusions(
            program,
            narrative=said[narrative],
            call_type=typed[nature],
            weapon_flag=flags[weapon],
            violence_flag=flags[violence],
            priority=excluded_priorities[priority - 1] if priority else None,
        )
        table[value] = ids.setdefault(ex, len(ids))
    codes = np.zeros(df.height, dtype=np.uint32)  # 0: no exclusion (every other call)
    if sub.height:
        codes[sub.get_column("_at").to_numpy()] = combos.replace_strict(
            table, return_dtype=pl.UInt32
        ).to_numpy()
    return df.with_columns(pl.Series("f_exclusion", codes)), list(ids)


class _Decoder:
    """Integer fact codes -> CallFacts, from parts built once per distinct code."""

    def __init__(self, program: Program, book: _Codebook):
        self.units = sorted(program.units)
        self.natures = [(n, nature_status(program, n)) for n in book.natures]
        self.exclusions = book.exclusions
        self.areas = book.areas
        self.unit_facts: dict[tuple[int, int, int], UnitFact] = {}

    def unit_fact(self, status: int, area: int, in_area: int) -> UnitFact:
        key = (status, area, in_area)
        fact = self.unit_facts.get(key)
        if fact is None:
            fact = UnitFact(
                STATUSES[status], self.areas[area - 1] if area else None, _IN_AREA[in_area]
            )
            self.unit_facts[key] = fact
        return fact

    def facts(self, codes: list[int]) -> CallFacts:
        """``codes``: nature, operating, exclusion, then status, area, in-area of each unit."""
        nature, status = self.natures[codes[0]]
        ex = self.exclusions[codes[2]]
        units = tuple(
            (key, self.unit_fact(codes[3 + 3 * i], codes[4 + 3 * i], codes[5 + 3 * i]))
            for i, key in enumerate(self.units)
        )
        facts = CallFacts(
            nature=nature,
            nature_status=status,
            **exclusion_fields(ex),  # type: ignore[arg-type]
            program_operating=bool(codes[1]),
            units=units,
        )
        # a call type that is not eligible had its eligible-only columns folded to 0
        return facts if status is NatureStatus.ELIGIBLE else decisive_facts(facts)


def _split_keys(keys: np.ndarray, radices: list[int]) -> list[list[int]]:
    """Mixed-radix keys back to their per-column codes (vectorised), one list per key."""
    columns = []
    rest = keys.copy()
    for radix in radices:
        rest, code = np.divmod(rest, radix)
        columns.append(code)
    return np.stack(columns, axis=1).tolist() if len(keys) else []


def _combined_key(facts: pl.DataFrame, cols: list[str]) -> tuple[pl.Series, list[int]]:
    """All fact codes of a call as one integer (mixed radix, first column least significant)."""
    radices = [int(facts.get_column(c).max() or 0) + 1 for c in cols]
    if float(np.prod([float(r) for r in radices])) >= 2.0**63:
        raise OverflowError("too many distinct facts for one chunk: use smaller chunks")
    key = np.zeros(facts.height, dtype=np.int64)
    scale = 1
    for col, radix in zip(cols, radices, strict=True):
        key += facts.get_column(col).to_numpy().astype(np.int64) * scale
        scale *= radix
    return pl.Series("key", key), radices


def decide_frame(
    program: Program,
    calls: pl.DataFrame,
    *,
    rules_as_of: dt.date | None = None,
    with_texts: bool = False,
    cache: dict | None = None,
) -> pl.DataFrame:
    """Columns row, id, route, reasons (codes joined by ';'), rules_version; input order.

    ``with_texts`` adds ``reason_texts``: the plain-language sentences, JSON-encoded.
    ``cache`` (facts -> Decision) lets the chunks of one file share their work.
    """
    facts, book, cols = facts_frame(program, calls, rules_as_of=rules_as_of)
    key, radices = _combined_key(facts, cols)
    # dense rank numbers the distinct combinations 1..K in key order, so the decision of
    # each call is a gather by rank: no join over a million rows
    rank = key.rank("dense").cast(pl.UInt32) - 1
    distinct_keys = key.unique().sort().to_numpy()
    decoder = _Decoder(program, book)
    routes, reasons, texts = [], [], []
    for codes in _split_keys(distinct_keys, radices):
        call_facts = decoder.facts(codes)
        decision = cache.get(call_facts) if cache is not None else None
        if decision is None:
            decision = decide_from_facts(program, call_facts)
            if cache is not None:
                cache[call_facts] = decision
        routes.append(decision.route)
        reasons.append(";".join(decision.codes))
        if with_texts:
            texts.append(json.dumps(decision.as_dict()["reasons"]))
    out = facts.select("row", "id").with_columns(
        pl.Series("route", routes, dtype=pl.String).gather(rank),
        pl.Series("reasons", reasons, dtype=pl.String).gather(rank),
        *([pl.Series("reason_texts", texts, dtype=pl.String).gather(rank)] if with_texts else []),
    )
    return out.select(
        "row",
        "id",
        "route",
        "reasons",
        pl.lit(program.rules_version).alias("rules_version"),
        *(["reason_texts"] if with_texts else []),
    )

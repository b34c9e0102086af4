"""The triage rules over columns: a million calls in seconds, same answers as one call.

The batch path computes the same :class:`~heart.domain.triage.CallFacts` as
:func:`~heart.domain.triage.call_facts`, but column-wise with Polars and shapely 2
array functions; then it calls :func:`~heart.domain.triage.decide_from_facts` once per
*distinct* combination of facts (a few hundred at most) and joins the decisions back.
Text-level rules (nature spelling, beat spelling, narrative phrases) run the very same
Python functions as the single-call engine, once per distinct value.

Input frame columns (as made by :mod:`heart.triage_io`): ``row``, ``id``,
``received_utc`` (tz-aware), ``nature``, ``beat``, ``lon``, ``lat``, ``narrative``,
``weapon_flag``, ``violence_flag``. Nature and beat must already be normalised.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl

from heart.domain.program import Program
from heart.domain.schedule import UnitStatus
from heart.domain.triage import (
    CallFacts,
    Evidence,
    NatureStatus,
    UnitFact,
    decide_from_facts,
    exclusion_facts,
    nature_status,
)

_EXCLUSION_COLS = ("weapon", "violence", "weapon_phrase", "violence_phrase", "negated_phrase")


def facts_frame(
    program: Program, calls: pl.DataFrame, *, rules_as_of: dt.date | None = None
) -> pl.DataFrame:
    """One row of facts per call, in input order."""
    local = pl.col("received_utc").dt.convert_time_zone(program.timezone)
    df = calls.with_columns(
        local.dt.date().alias("_local_date"),
        (local.dt.weekday() - 1).alias("_weekday"),
        (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)).alias("_minute"),
    )
    rules_date = pl.lit(rules_as_of, dtype=pl.Date) if rules_as_of else pl.col("_local_date")

    # nature status: the single-call function over distinct natures
    natures = df.get_column("nature").unique().to_list()
    df = df.with_columns(
        pl.col("nature")
        .replace_strict(
            {n: nature_status(program, n).value for n in natures},
            default=NatureStatus.UNKNOWN.value,
            return_dtype=pl.String,
        )
        .alias("nature_status")
    )

    df = df.with_columns(_area_columns(program, df))
    df = df.with_columns(_holiday_column(program, df))
    unit_cols = []
    for key, unit in sorted(program.units.items()):
        unit_cols.extend(_unit_columns(program, key, unit, rules_date))
    df = df.with_columns(unit_cols)
    df = _join_exclusions(program, df)
    return df


def _area_columns(program: Program, df: pl.DataFrame) -> list[pl.Series]:
    beat = df.get_column("beat")
    lon = df.get_column("lon").to_numpy(allow_copy=True).astype(float)
    lat = df.get_column("lat").to_numpy(allow_copy=True).astype(float)
    has_point = ~(np.isnan(lon) | np.isnan(lat))
    has_beat = beat.is_not_null().to_numpy()
    out = []
    for key, area in program.areas.items():
        inside = np.zeros(len(df), dtype=bool)
        known = np.zeros(len(df), dtype=bool)
        by_beat = has_beat if area.beats else np.zeros(len(df), dtype=bool)
        if area.beats:
            inside[by_beat] = beat.is_in(list(area.beats)).fill_null(False).to_numpy()[by_beat]
            known |= by_beat
        if area.geometry is not None:
            by_point = ~by_beat & has_point
            if by_point.any():
                inside[by_point] = area.contains_points(lon[by_point], lat[by_point])
                known |= by_point
        series = pl.Series(f"_area_{key}", inside, dtype=pl.Boolean)
        out.append(pl.when(pl.Series(known)).then(series).otherwise(None).alias(f"_area_{key}"))
    return out


def _holiday_column(program: Program, df: pl.DataFrame) -> pl.Expr:
    if df.height == 0:
        return pl.lit(False).alias("_holiday")
    years = df.get_column("_local_date").dt.year()
    first, last = int(years.min()), int(years.max())  # type: ignore[arg-type]
    dates = sorted(program.holidays.dates_between(first, last))
    return pl.col("_local_date").is_in(pl.Series(dates, dtype=pl.Date).implode()).alias("_holiday")


def _unit_columns(program: Program, key: str, unit, rules_date: pl.Expr) -> list[pl.Expr]:
    """Status and in-area columns of one unit; mirrors schedule.unit_status exactly."""
    first_start = min(p.start for p in unit.periods)
    status = pl.when(rules_date < pl.lit(first_start)).then(pl.lit(UnitStatus.NOT_STARTED.value))
    area = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    in_area = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.Boolean))
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
            .then(pl.lit(UnitStatus.OPERATING.value))
            .otherwise(pl.lit(UnitStatus.CLOSED_HOURS.value))
        )
        if period.closed_on_holidays:
            period_status = (
                pl.when(pl.col("_holiday"))
                .then(pl.lit(UnitStatus.HOLIDAY.value))
                .otherwise(period_status)
            )
        status = status.when(in_force).then(period_status)
        area = area.when(in_force).then(pl.lit(period.area))
        in_area = in_area.when(in_force).then(pl.col(f"_area_{period.area}"))
    return [
        status.otherwise(pl.lit(UnitStatus.ENDED.value)).alias(f"unit_{key}_status"),
        area.otherwise(None).alias(f"unit_{key}_area"),
        in_area.otherwise(None).alias(f"unit_{key}_in_area"),
    ]


def _join_exclusions(program: Program, df: pl.DataFrame) -> pl.DataFrame:
    keys = ["narrative", "weapon_flag", "violence_flag"]
    distinct = df.select(keys).unique()
    rows = []
    for narrative, weapon_flag, violence_flag in distinct.iter_rows():
        ex = exclusion_facts(
            program, narrative=narrative, weapon_flag=weapon_flag, violence_flag=violence_flag
        )
        rows.append(
            (
                narrative,
                weapon_flag,
                violence_flag,
                ex.weapon.value,
                ex.violence.value,
                ex.weapon_phrase,
                ex.violence_phrase,
                ex.negated_phrase,
            )
        )
    schema = {
        "narrative": pl.String,
        "weapon_flag": pl.Boolean,
        "violence_flag": pl.Boolean,
        **{c: pl.String for c in _EXCLUSION_COLS},
    }
    table = pl.DataFrame(rows, schema=schema, orient="row")
    return df.join(table, on=keys, how="left", nulls_equal=True, maintain_order="left")


def fact_columns(program: Program) -> list[str]:
    cols = ["nature", "nature_status", *_EXCLUSION_COLS]
    for key in sorted(program.units):
        cols += [f"unit_{key}_status", f"unit_{key}_area", f"unit_{key}_in_area"]
    return cols


def _facts_from_row(program: Program, row: dict) -> CallFacts:
    units = tuple(
        (
            key,
            UnitFact(
                UnitStatus(row[f"unit_{key}_status"]),
                row[f"unit_{key}_area"],
                row[f"unit_{key}_in_area"],
            ),
        )
        for key in sorted(program.units)
    )
    return CallFacts(
        nature=row["nature"],
        nature_status=NatureStatus(row["nature_status"]),
        weapon=Evidence(row["weapon"]),
        violence=Evidence(row["violence"]),
        weapon_phrase=row["weapon_phrase"],
        violence_phrase=row["violence_phrase"],
        negated_phrase=row["negated_phrase"],
        program_operating=any(f.area is not None for _, f in units),
        units=units,
    )


def decide_frame(
    program: Program,
    calls: pl.DataFrame,
    *,
    rules_as_of: dt.date | None = None,
    with_texts: bool = False,
) -> pl.DataFrame:
    """Columns row, id, route, reasons (codes joined by ';'), rules_version; input order.

    ``with_texts`` adds ``reason_texts``: the plain-language sentences, JSON-encoded.
    """
    facts = facts_frame(program, calls, rules_as_of=rules_as_of)
    cols = fact_columns(program)
    distinct = facts.select(cols).unique()
    routes, reasons, texts = [], [], []
    for row in distinct.iter_rows(named=True):
        decision = decide_from_facts(program, _facts_from_row(program, row))
        routes.append(decision.route)
        reasons.append(";".join(decision.codes))
        texts.append(json.dumps(decision.as_dict()["reasons"]))
    decided = distinct.with_columns(
        pl.Series("route", routes, dtype=pl.String),
        pl.Series("reasons", reasons, dtype=pl.String),
        pl.Series("reason_texts", texts, dtype=pl.String),
    )
    out = facts.select(["row", "id", *cols]).join(
        decided, on=cols, how="left", nulls_equal=True, maintain_order="left"
    )
    return out.select(
        "row",
        "id",
        "route",
        "reasons",
        pl.lit(program.rules_version).alias("rules_version"),
        *(["reason_texts"] if with_texts else []),
    )

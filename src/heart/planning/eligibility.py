"""Eligibility analysis: replay history through a program's rules (the batch engine).

Every call in the store goes through :func:`heart.domain.triage_batch.decide_frame`, the
very engine of ``heart triage``, and like ``heart triage`` each call is judged by the
rules in force on its own local date; ``rules_as_of`` replays history under the rules of
one date instead (a 2021 export asked what the 2023 program would have done with it).

* ``eligible``: the call type is one the program takes and no weapon or violence
  excludes it (the decision's reason codes say so).
* ``team``: the run card sent a team (route ``crt`` or ``co_response``), i.e. the call
  was inside today's area and hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import h3
import polars as pl

from heart.domain.program import Program
from heart.domain.triage import EXCLUDING_CODES
from heart.domain.triage_batch import decide_frame

TEAM_ROUTES = ("crt", "co_response")
H3_RESOLUTION = 8  # ~0.7 km² cells: about a few city blocks, comparable to small beats


def default_rules_date(program: Program) -> dt.date:
    """The start of the newest period of any unit: the program's current rules."""
    return max(p.start for u in program.units.values() for p in u.periods)


def rules_text(rules_as_of: dt.date | None) -> str:
    if rules_as_of is None:
        return "each call judged by the rules in force on its own local date (as heart triage)"
    return f"every call judged by the rules in force on {rules_as_of.isoformat()} (--rules-as-of)"


def area_key(
    calls: pl.DataFrame, *, by: str = "beat", resolution: int = H3_RESOLUTION
) -> pl.Series:
    """Beat id, or the H3 cell of the point (``by="h3"`` or a call without a beat)."""
    lon = calls.get_column("lon").to_list()
    lat = calls.get_column("lat").to_list()
    cells = [
        h3.latlng_to_cell(y, x, resolution) if x is not None and y is not None else None
        for x, y in zip(lon, lat, strict=True)
    ]
    cell = pl.Series("area", cells, dtype=pl.String)
    if by == "h3":
        return cell
    return calls.get_column("beat").fill_null(cell).alias("area")


def classify(
    program: Program, calls: pl.DataFrame, *, rules_as_of: dt.date | None = None
) -> pl.DataFrame:
    """The calls with route, reasons, eligible, team and local weekday/hour columns
    (rules of each call's own date, or of ``rules_as_of``)."""
    decided = decide_frame(program, calls, rules_as_of=rules_as_of)
    local = pl.col("received_utc").dt.convert_time_zone(program.timezone)
    codes = pl.col("reasons").str.split(";")
    out = calls.with_columns(
        decided.get_column("route"),
        decided.get_column("reasons"),
        (local.dt.weekday() - 1).alias("weekday"),
        local.dt.hour().alias("hour"),
    ).with_columns(
        (
            codes.list.contains("nature_eligible")
            & ~pl.any_horizontal([codes.list.contains(c) for c in EXCLUDING_CODES])
        ).alias("eligible"),
        pl.col("route").is_in(TEAM_ROUTES).alias("team"),
    )
    return out


@dataclass(frozen=True)
class EligibilityResult:
    program: str
    rules_version: str
    rules_as_of: dt.date | None  # None: each call's own date
    totals: dict
    by_call_type: pl.DataFrame
    by_hour_of_week: pl.DataFrame
    by_area: pl.DataFrame
    by_route: pl.DataFrame

    def as_dict(self) -> dict:
        return {
            "program": self.program,
            "rules_version": self.rules_version,
            "rules_as_of": self.rules_as_of.isoformat() if self.rules_as_of else None,
            "rules": rules_text(self.rules_as_of),
            "totals": self.totals,
            "by_call_type": self.by_call_type.to_dicts(),
            "by_route": self.by_route.to_dicts(),
            "by_area": self.by_area.to_dicts(),
            "by_hour_of_week": self.by_hour_of_week.to_dicts(),
        }


def analyse(
    program: Program,
    calls: pl.DataFrame,
    *,
    rules_as_of: dt.date | None = None,
    area_by: str = "beat",
    rows_read: int | None = None,
) -> EligibilityResult:
    """``rows_read``: every row of the export (rejects included), the denominator of
    "all calls"; default: the stored calls."""
    df = classify(program, calls, rules_as_of=rules_as_of).with_columns(area_key(calls, by=area_by))
    n = df.height
    all_calls = rows_read if rows_read is not None else n
    eligible = int(df["eligible"].sum())
    team = int((df["eligible"] & df["team"]).sum())
    unknown = int(df["reasons"].str.contains("nature_unknown", literal=True).sum())
    # judged by their own date, calls before the program began (or after it ended) get
    # `program_not_operating` and cannot be eligible: say so, --rules-as-of replays them
    not_operating = int(df["reasons"].str.contains("program_not_operating", literal=True).sum())
    totals = {
        "rows_read": all_calls,
        "calls": n,
        "eligible": eligible,
        "eligible_share_of_all_calls": eligible / all_calls if all_calls else None,
        "nature_unknown": unknown,
        "team": team,
        "team_share_of_all_calls": team / all_calls if all_calls else None,
        "team_share_of_eligible": team / eligible if eligible else None,
        "program_not_operating": not_operating,
    }
    agg = [
        pl.len().alias("calls"),
        pl.col("eligible").sum().alias("eligible"),
        (pl.col("eligible") & pl.col("team")).sum().alias("team"),
    ]
    by_type = (
        df.group_by(pl.col("nature").alias("call_type"))
        .agg(agg)
        .with_columns((pl.col("team") / pl.col("eligible")).alias("team_share"))
        .sort(["eligible", "call_type"], descending=[True, False])
    )
    hours = pl.DataFrame(
        {"weekday": [d for d in range(7) for _ in range(24)], "hour": list(range(24)) * 7},
        schema={"weekday": df.schema["weekday"], "hour": df.schema["hour"]},
    )
    by_how = hours.join(
        df.filter(pl.col("eligible")).group_by("weekday", "hour").agg(pl.len().alias("eligible")),
        on=["weekday", "hour"],
        how="left",
    ).with_columns(pl.col("eligible").fill_null(0))
    by_area = (
        df.group_by("area")
        .agg(agg)
        .filter(pl.col("eligible") > 0)
        .sort(["eligible", "area"], descending=[True, False], nulls_last=True)
    )
    by_route = df.group_by("route").len().sort("len", descending=True).rename({"len": "calls"})
    return EligibilityResult(
        program.name, program.rules_version, rules_as_of, totals, by_type, by_how, by_area, by_route
    )


def compare(results: list[EligibilityResult]) -> pl.DataFrame:
    """Call types side by side: eligible and team counts per program."""
    out: pl.DataFrame | None = None
    for r in results:
        part = r.by_call_type.select(
            "call_type",
            pl.col("eligible").alias(f"eligible[{r.program}]"),
            pl.col("team").alias(f"team[{r.program}]"),
        )
        out = part if out is None else out.join(part, on="call_type", how="full", coalesce=True)
    assert out is not None
    return out.fill_null(0).sort("call_type")

"""The batch path's fast local-time conversion equals zoneinfo, second by second at DST edges."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from heart.domain.triage_batch import local_wall_time

UTC = dt.UTC


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
)
def test_matches_zoneinfo_around_transitions(zone):
    tz = ZoneInfo(zone)
    instants = []
    for year in (2022, 2023):
        start = dt.datetime(year, 1, 1, tzinfo=UTC)
        for hour in range(0, 366 * 24, 7):
            instants.append(start + dt.timedelta(hours=hour))
    # dense seconds around the US and EU changes of 2023
    for edge in (
        dt.datetime(2023, 3, 12, 7, 0, tzinfo=UTC),
        dt.datetime(2023, 11, 5, 6, 0, tzinfo=UTC),
        dt.datetime(2023, 3, 26, 1, 0, tzinfo=UTC),
        dt.datetime(2023, 10, 29, 1, 0, tzinfo=UTC),
    ):
        instants += [edge + dt.timedelta(seconds=s) for s in range(-3, 4)]
    series = pl.Series(instants, dtype=pl.Datetime("us", "UTC"))
    got = local_wall_time(series, zone).to_list()
    expected = [t.astimezone(tz).replace(tzinfo=None) for t in instants]
    assert got == expected


def test_nulls_and_empty():
    empty = pl.Series([], dtype=pl.Datetime("us", "UTC"))
    assert local_wall_time(empty, "America/New_York").len() == 0
    with_null = pl.Series(
        [dt.datetime(2023, 1, 1, 12, tzinfo=UTC), None], dtype=pl.Datetime("us", "UTC")
    )
    assert local_wall_time(with_null, "America/New_York").to_list() == [
        dt.datetime(2023, 1, 1, 7),
        None,
    ]

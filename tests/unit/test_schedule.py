"""Weekly windows, overnight windows, day names and clock parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from heart.domain.schedule import (
    HolidayCalendar,
    Period,
    UnitStatus,
    parse_clock,
    parse_days,
    split_window,
    unit_status,
)


def test_parse_days():
    assert parse_days("Mon-Fri") == frozenset(range(5))
    assert parse_days("daily") == frozenset(range(7))
    assert parse_days("Sat,Sun") == frozenset({5, 6})
    assert parse_days("Fri-Mon") == frozenset({4, 5, 6, 0})
    with pytest.raises(ValueError, match="unknown day"):
        parse_days("Funday")


def test_parse_clock():
    assert parse_clock("08:00") == 480
    assert parse_clock("24:00") == 1440
    for bad in ("8am", "25:00", "24:30", "12:60"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_overnight_window_is_split_at_midnight():
    evening, morning = split_window(frozenset({4}), 20 * 60, 2 * 60)  # Fri 20:00-02:00
    assert evening.covers(4, 23 * 60)
    assert morning.covers(5, 60) and not morning.covers(5, 2 * 60)
    assert not evening.covers(5, 60)


def _period(**kw):
    base = dict(
        start=dt.date(2022, 1, 1),
        end=None,
        windows=split_window(frozenset(range(5)), 480, 1020),
        area="a",
        closed_on_holidays=False,
        description="",
    )
    base.update(kw)
    return Period(**base)


def test_window_end_is_exclusive():
    p = (_period(),)
    cal = HolidayCalendar()
    day = dt.date(2022, 7, 5)  # a Tuesday
    status = lambda minute: unit_status(  # noqa: E731
        p, cal, rules_date=day, local_date=day, weekday=1, minute=minute
    )[0]
    assert status(479) is UnitStatus.CLOSED_HOURS
    assert status(480) is UnitStatus.OPERATING
    assert status(1019) is UnitStatus.OPERATING
    assert status(1020) is UnitStatus.CLOSED_HOURS


def test_holiday_closure_uses_the_calendar():
    p = (_period(closed_on_holidays=True),)
    cal = HolidayCalendar("US", "NC")
    july4 = dt.date(2022, 7, 4)  # a Monday and a holiday
    status, _ = unit_status(p, cal, rules_date=july4, local_date=july4, weekday=0, minute=600)
    assert status is UnitStatus.HOLIDAY
    extra = HolidayCalendar(extra_dates=frozenset({dt.date(2022, 7, 5)}))
    day = dt.date(2022, 7, 5)
    status, _ = unit_status(p, extra, rules_date=day, local_date=day, weekday=1, minute=600)
    assert status is UnitStatus.HOLIDAY


def test_before_first_and_after_last_period():
    p = (_period(end=dt.date(2023, 1, 1)),)
    cal = HolidayCalendar()
    early = dt.date(2021, 6, 1)
    late = dt.date(2023, 6, 1)
    assert unit_status(p, cal, rules_date=early, local_date=early, weekday=1, minute=600)[0] is (
        UnitStatus.NOT_STARTED
    )
    assert unit_status(p, cal, rules_date=late, local_date=late, weekday=3, minute=600)[0] is (
        UnitStatus.ENDED
    )

"""Operating windows: weekday/time windows, holidays and effective dates.

Pure Python. A unit's hours are a list of *periods*; each period is in force from
``start`` (inclusive) to ``end`` (exclusive, open when None) and holds weekly windows.
A window that crosses midnight (e.g. 20:00-02:00) is split at load time into two
same-day windows, so every check is a plain ``start <= minute < end`` comparison
that the vectorised batch path can repeat exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class UnitStatus(StrEnum):
    """Whether a unit operates at a given instant, as seen by the rules."""

    OPERATING = "operating"
    CLOSED_HOURS = "closed_hours"  # outside its weekly windows
    HOLIDAY = "holiday"  # closed for a holiday
    NOT_STARTED = "not_started"  # rules date before the unit's first period
    ENDED = "ended"  # rules date after the unit's last period


@dataclass(frozen=True, slots=True)
class Window:
    """Days (0=Monday) and [start, end) minutes after local midnight."""

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def covers(self, weekday: int, minute: int) -> bool:
        return weekday in self.days and self.start_minute <= minute < self.end_minute


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date
    end: dt.date | None
    windows: tuple[Window, ...]
    area: str
    closed_on_holidays: bool
    description: str

    def in_force(self, on: dt.date) -> bool:
        return self.start <= on and (self.end is None or on < self.end)


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """A rule-based holiday calendar (python-holidays) plus explicit dates."""

    country: str | None = None
    subdivision: str | None = None
    extra_dates: frozenset[dt.date] = frozenset()

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.extra_dates or day in _holiday_dates(
            self.country, self.subdivision, day.year
        )

    def dates_between(self, first_year: int, last_year: int) -> frozenset[dt.date]:
        out: set[dt.date] = {d for d in self.extra_dates if first_year <= d.year <= last_year}
        for year in range(first_year, last_year + 1):
            out |= _holiday_dates(self.country, self.subdivision, year)
        return frozenset(out)


@lru_cache(maxsize=256)
def _holiday_dates(country: str | None, subdivision: str | None, year: int) -> frozenset[dt.date]:
    if not country:
        return frozenset()
    import holidays  # imported lazily: only programs that close on holidays need it

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def period_in_force(periods: Iterable[Period], rules_date: dt.date) -> Period | None:
    for period in periods:
        if period.in_force(rules_date):
            return period
    return None


def unit_status(
    periods: tuple[Period, ...],
    calendar: HolidayCalendar,
    *,
    rules_date: dt.date,
    local_date: dt.date,
    weekday: int,
    minute: int,
) -> tuple[UnitStatus, Period | None]:
    """Status of a unit whose rules are those in force on ``rules_date`` at a local instant."""
    period = period_in_force(periods, rules_date)
    if period is None:
        if not periods or rules_date < min(p.start for p in periods):
            return UnitStatus.NOT_STARTED, None
        return UnitStatus.ENDED, None
    if period.closed_on_holidays and calendar.is_holiday(local_date):
        return UnitStatus.HOLIDAY, period
    if any(w.covers(weekday, minute) for w in period.windows):
        return UnitStatus.OPERATING, period
    return UnitStatus.CLOSED_HOURS, period


def parse_days(text: str) -> frozenset[int]:
    """'Mon-Fri', 'Sat,Sun', 'daily' or 'Mon-Sun' -> weekday numbers."""
    text = text.strip()
    if text.lower() in {"daily", "every day", "all"}:
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, last = (_day_index(x) for x in part.split("-", 1))
            day = first
            while True:
                days.add(day)
                if day == last:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day_index(part))
    return frozenset(days)


def _day_index(name: str) -> int:
    key = name.strip()[:3].title()
    if key not in DAY_NAMES:
        raise ValueError(f"unknown day {name!r} (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
    return DAY_NAMES.index(key)


def parse_clock(text: str) -> int:
    """'08:00' -> 480 minutes; '24:00' allowed as an end of day."""
    try:
        hours, minutes = text.strip().split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise ValueError(f"time {text!r} is not HH:MM") from None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise ValueError(f"time {text!r} is not a clock time between 00:00 and 24:00")
    return h * 60 + m


def split_window(days: frozenset[int], start: int, end: int) -> tuple[Window, ...]:
    """A window crossing midnight becomes today's evening plus the next day's morning."""
    if start == end:
        raise ValueError("a window's start and end are the same")
    if start < end:
        return (Window(days, start, end),)
    evening = Window(days, start, 24 * 60)
    morning = Window(frozenset((d + 1) % 7 for d in days), 0, end)
    return (evening, morning) if end > 0 else (evening,)


def describe_windows(windows: Iterable[Window]) -> str:
    parts = []
    for w in windows:
        parts.append(f"{_describe_days(w.days)} {_clock(w.start_minute)}-{_clock(w.end_minute)}")
    return ", ".join(parts)


def _describe_days(days: frozenset[int]) -> str:
    if days == frozenset(range(7)):
        return "every day"
    if days == frozenset(range(5)):
        return "weekdays"
    if days == frozenset({5, 6}):
        return "weekends"
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"

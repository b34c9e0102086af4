"""What the public is told about a unit's service on a given date, pure: open or closed
today and why, today's hours, the week ahead, the area in force, and the next change of
rules. Everything comes from the program file's effective-dated periods, weekly windows
and holiday calendar (heart.domain.schedule), so the public page is right on any date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from heart.domain.program import Program
from heart.domain.schedule import Period, period_in_force


@dataclass(frozen=True, slots=True)
class DayService:
    day: dt.date
    status: str  # open | closed (no window that weekday) | holiday | not_started | ended
    windows: tuple[tuple[int, int], ...]  # (start minute, end minute) on that local day
    area: str | None  # the area key in force
    period: Period | None

    @property
    def open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class Change:
    on: dt.date
    area: str
    windows_text: str


def day_service(program: Program, unit: str, day: dt.date) -> DayService:
    periods = program.units[unit].periods
    period = period_in_force(periods, day)
    if period is None:
        if not periods or day < min(p.start for p in periods):
            return DayService(day, "not_started", (), None, None)
        return DayService(day, "ended", (), None, None)
    if period.closed_on_holidays and program.holidays.is_holiday(day):
        return DayService(day, "holiday", (), period.area, period)
    weekday = day.weekday()
    windows = tuple(
        sorted((w.start_minute, w.end_minute) for w in period.windows if weekday in w.days)
    )
    return DayService(day, "open" if windows else "closed", _merge(windows), period.area, period)


def _merge(windows: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, end in windows:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


def week(program: Program, unit: str, first: dt.date, days: int = 7) -> list[DayService]:
    return [day_service(program, unit, first + dt.timedelta(days=i)) for i in range(days)]


def open_at(service: DayService, minute: int) -> bool:
    return any(start <= minute < end for start, end in service.windows)


def next_change(program: Program, unit: str, day: dt.date) -> Change | None:
    """The next period that starts after ``day`` (hours or area change), if announced."""
    from heart.domain.schedule import describe_windows

    later = sorted((p for p in program.units[unit].periods if p.start > day), key=lambda p: p.start)
    if not later:
        return None
    p = later[0]
    return Change(p.start, p.area, describe_windows(p.windows))


def clock(minute: int) -> dt.time:
    """A window edge as a time of day (24:00 is shown as the end of the day, 23:59)."""
    if minute >= 24 * 60:
        return dt.time(23, 59)
    return dt.time(minute // 60, minute % 60)

"""Input checks shared by the API schemas and the intake service (no 500s on odd input)."""

from __future__ import annotations

import datetime as dt

EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=2)


def time_problem(value: dt.datetime | None) -> str | None:
    """Why a call time cannot be used, or None."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return "a time zone is required"
    try:
        utc = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return "is out of range"
    if utc < EARLIEST:
        return f"is before {EARLIEST.date().isoformat()}"
    if utc > dt.datetime.now(dt.UTC) + FUTURE_SLACK:
        return "is in the future"
    return None


def text_problem(value: str | None) -> str | None:
    if value and "\x00" in value:
        return "contains a NUL character"
    return None


def check_time(value: dt.datetime | None) -> dt.datetime | None:
    """Pydantic after-validator form of :func:`time_problem`."""
    problem = time_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_text(value):
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def check_value(value):
    """After-validator for every field of an input schema: times in range, text without
    NUL characters (neither could be stored)."""
    if isinstance(value, dt.datetime):
        return check_time(value)
    return check_text(value)

"""What the public site says about hours and area on a date (heart.domain.service_hours),
from the Durham program files: the 2022 pilot, the 2023 citywide service, a holiday
closure, a window across midnight and the next announced change."""

from __future__ import annotations

import datetime as dt

from heart.domain.program_file import load_program
from heart.domain.service_hours import clock, day_service, next_change, open_at, week


def test_durham_before_during_and_after_the_2023_change(durham_2023):
    before = day_service(durham_2023, "crt", dt.date(2022, 6, 1))
    assert before.status == "not_started" and before.area is None
    pilot_friday = day_service(durham_2023, "crt", dt.date(2023, 10, 20))
    assert pilot_friday.status == "open" and pilot_friday.windows == ((480, 1020),)
    assert pilot_friday.area == "pilot"
    pilot_saturday = day_service(durham_2023, "crt", dt.date(2023, 10, 21))
    assert pilot_saturday.status == "closed" and pilot_saturday.area == "pilot"
    citywide = day_service(durham_2023, "crt", dt.date(2023, 10, 28))  # a Saturday
    assert (
        citywide.status == "open" and citywide.windows == ((480, 1200),) and citywide.area == "city"
    )
    change = next_change(durham_2023, "crt", dt.date(2023, 10, 20))
    assert change.on == dt.date(2023, 10, 23) and change.area == "city"
    assert next_change(durham_2023, "crt", dt.date(2024, 1, 1)) is None
    days = week(durham_2023, "crt", dt.date(2023, 10, 20))
    assert [d.status for d in days] == ["open", "closed", "closed", "open", "open", "open", "open"]
    assert open_at(citywide, 8 * 60) and not open_at(citywide, 20 * 60)
    assert clock(1440) == dt.time(23, 59) and clock(495) == dt.time(8, 15)


def test_holidays_and_night_windows(tmp_path):
    (tmp_path / "night.toml").write_text(
        """
[program]
extends = "durham-heart-2022.toml"
name = "night-test"
title = "Night test"

[units.crt]
periods = [
  { from = 2024-01-01, area = "city", closed_on_holidays = true, hours = [{ days = "Fri", start = "20:00", end = "02:00" }] },
]
"""
    )
    import shutil

    from heart.domain.program_file import BUILTIN_DIR

    shutil.copy(BUILTIN_DIR / "durham-heart-2022.toml", tmp_path / "durham-heart-2022.toml")
    shutil.copytree(BUILTIN_DIR / "durham", tmp_path / "durham")
    program = load_program(tmp_path / "night.toml")
    friday = day_service(program, "crt", dt.date(2024, 3, 1))
    saturday = day_service(program, "crt", dt.date(2024, 3, 2))
    assert friday.windows == ((1200, 1440),) and saturday.windows == ((0, 120),)
    # 4 July 2025 is a Friday and a US holiday: closed
    assert day_service(program, "crt", dt.date(2025, 7, 4)).status == "holiday"

"""What every planning command states beside its figures: the honest denominators, and
the time zone the program's hours are read in.

* **Counts**: rows read from the export, rejected (by reason), kept; each share is
  given against *all calls* (every row read, rejects included: a rejected row is still
  a call someone made) and against the *eligible* calls.
* **Time zones**: a store records the zone of its data (the mapping's). A program's
  hours are wall-clock times in its own zone; applying Durham's rules to Lane County
  data would put the shifts in Eastern time. A program whose zone differs from the
  data's is refused unless ``--program-timezone`` names the zone to read its hours in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from heart.batch.io import InputError
from heart.domain.program import Program
from heart.planning.store import load_store, load_store_summary


@dataclass(frozen=True)
class StoreCounts:
    rows_read: int
    rejected: int
    kept: int
    rejected_by_reason: dict[str, int]
    call_type_status: dict[str, int]

    @classmethod
    def of(cls, summary: dict, kept: int) -> StoreCounts:
        return cls(
            rows_read=int(summary.get("rows_read", kept)),
            rejected=int(summary.get("rejected", 0)),
            kept=kept,
            rejected_by_reason=dict(summary.get("reject_reasons", {})),
            call_type_status=dict(summary.get("call_type_status", {})),
        )

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rejected": self.rejected,
            "rejected_share": self.rejected / self.rows_read if self.rows_read else None,
            "rejected_by_reason": self.rejected_by_reason,
            "kept": self.kept,
            "kept_by_call_type_status": self.call_type_status,
        }


def share(n: float, *, eligible: float, all_calls: float) -> dict:
    """``n`` with its share of all calls (rows read) and of the eligible calls."""
    return {
        "n": n,
        "share_of_all_calls": n / all_calls if all_calls else None,
        "share_of_eligible": n / eligible if eligible else None,
    }


@dataclass(frozen=True)
class Store:
    """A planning store as the commands read it: its calls and its import summary."""

    path: Path
    calls: pl.DataFrame
    summary: dict

    @classmethod
    def open(cls, path: Path) -> Store:
        calls = load_store(path)
        return cls(Path(path), calls, load_store_summary(path))

    @property
    def timezone(self) -> str | None:
        return self.summary.get("timezone") or None

    @property
    def counts(self) -> StoreCounts:
        return StoreCounts.of(self.summary, self.calls.height)


def program_in_zone(
    program: Program, store: Store, program_timezone: str | None
) -> tuple[Program, str]:
    """The program whose hours are read in the right zone, and a sentence saying which.

    Refuses (:class:`InputError`) a program whose zone differs from the data's unless
    ``program_timezone`` is given; with it, the program's hours are read in that zone.
    """
    data_zone = store.timezone
    if program_timezone:
        try:
            ZoneInfo(program_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(
                f"--program-timezone: unknown time zone {program_timezone!r}"
            ) from None
        moved = dataclasses.replace(program, timezone=program_timezone)
        return moved, (
            f"{program.name}'s hours read in {program_timezone} (--program-timezone; "
            f"the program's own zone is {program.timezone}, the data's "
            f"{data_zone or 'not recorded'})"
        )
    if data_zone and data_zone != program.timezone:
        raise InputError(
            f"{program.name} runs in {program.timezone} but the calls in {store.path} are "
            f"in {data_zone}: its hours would land at the wrong local time. Give "
            f"--program-timezone {data_zone} to read the program's hours in the data's "
            f"local time (or --program-timezone {program.timezone} to keep its own zone)."
        )
    return program, f"{program.name}'s hours in {program.timezone} (the data's zone too)"

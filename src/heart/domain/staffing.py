"""Who may staff a shift: the program's required trainings and people's records of them.

Plain Python, shared by the shift service (which refuses a position), the staffing page
(which shows who is current, expiring or expired) and the co-response pairing.

Dates are the program's local calendar days. A completion on day C of a training
renewed every N months is current from C until C + N months (not on that day); a
certificate's own ``expires_on``, when earlier, ends it sooner. A shift may be staffed
only by someone whose every required training is current on every day the shift
touches: a training that runs out half-way through a night shift is refused too.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from heart.domain.program import Program, Training

# the staffing page marks a training "expiring" this many days before it runs out
EXPIRING_WITHIN_DAYS = 30


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; the 31st becomes the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """One completion of a training by one person (the database row, as facts)."""

    training: str
    completed_on: dt.date
    expires_on: dt.date | None = None  # the certificate's own expiry: not current from then


def current_until(training: Training, record: TrainingRecord) -> dt.date:
    """The first day the record no longer counts (the program's renewal or the
    certificate's own expiry, whichever comes first)."""
    renew_by = add_months(record.completed_on, training.renew_every_months)
    if record.expires_on is not None and record.expires_on < renew_by:
        return record.expires_on
    return renew_by


@dataclass(frozen=True, slots=True)
class TrainingGap:
    """Why a person may not take a position: stable ``code`` + plain sentence."""

    training: str
    code: str  # training_missing | training_expired | training_expires_during | training_later
    text: str


def _best(training: Training, records: Iterable[TrainingRecord], on: dt.date):
    """The record of this training completed by ``on`` that lasts longest (or None)."""
    usable = [r for r in records if r.training == training.key and r.completed_on <= on]
    return max(usable, key=lambda r: current_until(training, r), default=None)


def training_gaps(
    program: Program,
    discipline: str,
    records: Iterable[TrainingRecord],
    *,
    first_day: dt.date,
    last_day: dt.date,
) -> list[TrainingGap]:
    """What keeps a person of ``discipline`` from a shift over these local days: every
    required training not current from ``first_day`` through ``last_day``."""
    records = list(records)
    gaps: list[TrainingGap] = []
    for t in program.trainings_for(discipline):
        best = _best(t, records, first_day)
        if best is None:
            later = [r for r in records if r.training == t.key and r.completed_on > first_day]
            if later:
                first = min(r.completed_on for r in later)
                gaps.append(
                    TrainingGap(
                        t.key,
                        "training_later",
                        f"{t.label} is recorded as completed on {first.isoformat()}, "
                        "after the shift starts",
                    )
                )
            else:
                gaps.append(TrainingGap(t.key, "training_missing", f"no record of {t.label}"))
            continue
        until = current_until(t, best)
        if until <= first_day:
            gaps.append(
                TrainingGap(
                    t.key,
                    "training_expired",
                    f"{t.label} expired on {until.isoformat()} "
                    f"(completed {best.completed_on.isoformat()}; renew every "
                    f"{t.renew_every_months} months)",
                )
            )
        elif until <= last_day:
            gaps.append(
                TrainingGap(
                    t.key,
                    "training_expires_during",
                    f"{t.label} expires on {until.isoformat()}, during the shift",
                )
            )
    return gaps


@dataclass(frozen=True, slots=True)
class TrainingStatus:
    """One person's standing in one required training, for the staffing page."""

    training: Training
    state: str  # current | expiring | expired | missing
    completed_on: dt.date | None
    until: dt.date | None  # first day it no longer counts

    @property
    def text(self) -> str:
        if self.state == "missing":
            return "no record"
        assert self.until is not None
        if self.state == "expired":
            return f"expired {self.until.isoformat()}"
        return f"until {self.until.isoformat()}"


def training_statuses(
    program: Program, discipline: str, records: Iterable[TrainingRecord], *, on: dt.date
) -> list[TrainingStatus]:
    """Each training the discipline needs: current, expiring (within
    :data:`EXPIRING_WITHIN_DAYS`), expired or missing on day ``on``."""
    records = list(records)
    out = []
    for t in program.trainings_for(discipline):
        best = _best(t, records, on)
        if best is None:
            out.append(TrainingStatus(t, "missing", None, None))
            continue
        until = current_until(t, best)
        if until <= on:
            state = "expired"
        elif until <= on + dt.timedelta(days=EXPIRING_WITHIN_DAYS):
            state = "expiring"
        else:
            state = "current"
        out.append(TrainingStatus(t, state, best.completed_on, until))
    return out

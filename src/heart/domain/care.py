"""Care navigation rules, pure (no Django): follow-up due times, the N-failed-attempts
rule, referral status changes, probable-duplicate scoring, repeat calls, the
before/after measure and SLA.

Times: every instant is timezone-aware. The follow-up due time is ELAPSED time:
``closed_at + 48 h`` on the time line, so across a DST change the wall clock reads one
hour more or less than "same time two days later" (see docs/care.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


# ------------------------------------------------------------------ program settings


@dataclass(frozen=True, slots=True)
class CareRules:
    """Program settings for care navigation (Django: settings.HEART_CARE overrides)."""

    follow_up_due_hours: float = 48.0
    max_failed_attempts: int = 3
    repeat_window_days: int = 30
    measure_window_days: int = 90
    duplicate_threshold: float = 0.6
    note_max_chars: int = 2000

    @classmethod
    def from_mapping(cls, values: dict | None) -> CareRules:
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        if unknown:
            raise ValueError(f"HEART_CARE: unknown key(s) {sorted(unknown)}")
        rules = cls(**values)
        if rules.follow_up_due_hours <= 0:
            raise ValueError("HEART_CARE.follow_up_due_hours: must be > 0")
        if rules.max_failed_attempts < 1:
            raise ValueError("HEART_CARE.max_failed_attempts: must be >= 1")
        if rules.repeat_window_days < 1 or rules.measure_window_days < 1:
            raise ValueError("HEART_CARE: windows must be >= 1 day")
        return rules


def _aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: a time zone is required")


# ------------------------------------------------------------------ follow-up due time


def follow_up_due(closed_at: dt.datetime, rules: CareRules = CareRules()) -> dt.datetime:
    """Due = the encounter's close + N elapsed hours (UTC arithmetic, DST-proof)."""
    _aware("closed_at", closed_at)
    return closed_at.astimezone(UTC) + dt.timedelta(hours=rules.follow_up_due_hours)


def is_overdue(due_at: dt.datetime, now: dt.datetime) -> bool:
    return now >= due_at


# ------------------------------------------------------------------ attempts


CHANNELS = ("phone", "in_person", "text")
# outcome -> (kind, label). kind: "closes" ends the task; "failed" counts toward N;
# "open" keeps the task open without counting as a failure.
OUTCOMES: dict[str, tuple[str, str]] = {
    "connected_to_care": ("closes", "Connected to care"),
    "declined": ("closes", "Declined services"),
    "already_engaged": ("closes", "Already engaged elsewhere"),
    "unable_to_reach": ("failed", "Unable to reach"),
    "left_message": ("failed", "Left a message"),
    "wrong_number": ("failed", "Wrong or disconnected number"),
    "callback_requested": ("open", "Asked to be called back"),
}


@dataclass(frozen=True, slots=True)
class TaskState:
    closed: bool
    outcome: str  # the task's closing outcome ("" while open)
    failed_attempts: int
    reason: Reason


def task_state_after(outcomes: Sequence[str], rules: CareRules = CareRules()) -> TaskState:
    """The task's state after these attempt outcomes (in order).

    A closing outcome closes it; otherwise the task closes as ``unable_to_reach`` when
    the failed attempts reach ``rules.max_failed_attempts``.
    """
    failed = 0
    for o in outcomes:
        if o not in OUTCOMES:
            raise ValueError(f"outcome: unknown {o!r} (one of {list(OUTCOMES)})")
        kind, label = OUTCOMES[o]
        if kind == "closes":
            return TaskState(True, o, failed, Reason(o, f"Closed: {label.lower()}."))
        if kind == "failed":
            failed += 1
            if failed >= rules.max_failed_attempts:
                return TaskState(
                    True,
                    "unable_to_reach",
                    failed,
                    Reason(
                        "max_failed_attempts",
                        f"Closed after {failed} failed attempts "
                        f"(program rule: {rules.max_failed_attempts}).",
                    ),
                )
    n = rules.max_failed_attempts - failed
    return TaskState(
        False, "", failed, Reason("open", f"Open: {failed} failed attempt(s), {n} before closing.")
    )


# ------------------------------------------------------------------ referrals

# the one table of allowed referral status changes (the FHIR Task's progress); a
# status with no way out is final. The Django model's Referral.Status has these values.
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    "sent": frozenset({"accepted", "declined", "cancelled"}),
    "accepted": frozenset({"completed", "cancelled"}),
    "declined": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


class ReferralTransitionError(ValueError):
    pass


def check_referral_transition(current: str, new: str) -> str:
    """The new status if the table allows current -> new; otherwise a clear error."""
    if new not in REFERRAL_TRANSITIONS:
        raise ReferralTransitionError(
            f"status: unknown {new!r} (one of {list(REFERRAL_TRANSITIONS)})"
        )
    if new not in REFERRAL_TRANSITIONS.get(current, frozenset()):
        raise ReferralTransitionError(f"status: a {current} referral cannot become {new}")
    return new


# ------------------------------------------------------------------ normalising


_ABBR = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "unit": "apt",
    "#": "apt",
}


def normalize_name(name: str) -> str:
    words = re.findall(r"[a-z0-9]+", (name or "").lower())
    return " ".join(words)


def normalize_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def normalize_address(address: str) -> str:
    text = (address or "").lower().replace("#", " # ")
    words = re.findall(r"[a-z0-9#]+", text)
    words = [_ABBR.get(w, w) for w in words]
    # drop city/state/zip tails ("durham nc 27701"): keep up to the street type word
    return " ".join(words)


# ------------------------------------------------------------------ duplicates


@dataclass(frozen=True, slots=True)
class PersonKey:
    name: str = ""
    date_of_birth: dt.date | None = None
    phone: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class DuplicateScore:
    score: float
    reasons: tuple[Reason, ...]

    def probable(self, rules: CareRules = CareRules()) -> bool:
        return self.score >= rules.duplicate_threshold


def duplicate_score(a: PersonKey, b: PersonKey) -> DuplicateScore:
    """How likely two person records are one person, with a reason per component.

    Points: name >= 90 % alike +0.4 (80-90 % +0.25); same date of birth +0.35 (day and
    month swapped +0.2, different -0.4); same phone +0.35; address >= 90 % alike +0.2.
    Probable at >= CareRules.duplicate_threshold (0.6): e.g. name + date of birth,
    name + phone, phone + date of birth, name + address. Reasons never quote the data.
    """
    score = 0.0
    reasons: list[Reason] = []
    na, nb = normalize_name(a.name), normalize_name(b.name)
    if na and nb:
        sim = fuzz.token_sort_ratio(na, nb)
        if sim >= 90:
            score += 0.4
            reasons.append(Reason("name_similar", f"names {sim:.0f}% alike"))
        elif sim >= 80:
            score += 0.25
            reasons.append(Reason("name_close", f"names {sim:.0f}% alike"))
        else:
            reasons.append(Reason("name_differs", f"names only {sim:.0f}% alike"))
    if a.date_of_birth and b.date_of_birth:
        da, db = a.date_of_birth, b.date_of_birth
        if da == db:
            score += 0.35
            reasons.append(Reason("dob_same", "same date of birth"))
        elif da.year == db.year and da.month == db.day and da.day == db.month:
            score += 0.2
            reasons.append(Reason("dob_transposed", "dates of birth differ by day/month swap"))
        else:
            score -= 0.4
            reasons.append(Reason("dob_differs", "different dates of birth"))
    pa, pb = normalize_phone(a.phone), normalize_phone(b.phone)
    if pa and pb:
        if pa == pb:
            score += 0.35
            reasons.append(Reason("phone_same", "same phone number"))
        else:
            reasons.append(Reason("phone_differs", "different phone numbers"))
    aa, ab = normalize_address(a.address), normalize_address(b.address)
    if aa and ab:
        sim = fuzz.token_sort_ratio(aa, ab)
        if sim >= 90:
            score += 0.2
            reasons.append(Reason("address_similar", f"addresses {sim:.0f}% alike"))
    return DuplicateScore(round(score, 3), tuple(reasons))


# ------------------------------------------------------------------ repeat calls


@dataclass(frozen=True, slots=True)
class CallRef:
    at: dt.datetime
    handled_by_team: bool = False


@dataclass(frozen=True, slots=True)
class RepeatSummary:
    calls: int
    window_days: int
    last_at: dt.datetime | None
    last_team_at: dt.datetime | None
    follow_up_open: bool
    text: str

    @property
    def repeat(self) -> bool:
        return self.calls >= 2


def _ago(now: dt.datetime, then: dt.datetime) -> str:
    days = (now - then).days
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def repeat_summary(
    calls: Iterable[CallRef],
    *,
    now: dt.datetime,
    follow_up_open: bool = False,
    rules: CareRules = CareRules(),
) -> RepeatSummary:
    """ "3 calls in 30 days; last handled by a team 4 days ago; follow-up open"."""
    _aware("now", now)
    start = now - dt.timedelta(days=rules.repeat_window_days)
    inside = sorted((c for c in calls if start <= c.at <= now), key=lambda c: c.at)
    team = [c for c in inside if c.handled_by_team]
    parts = [
        f"{len(inside)} call{'s' if len(inside) != 1 else ''} in {rules.repeat_window_days} days"
    ]
    if team:
        parts.append(f"last handled by a team {_ago(now, team[-1].at)}")
    parts.append("follow-up open" if follow_up_open else "no follow-up open")
    return RepeatSummary(
        calls=len(inside),
        window_days=rules.repeat_window_days,
        last_at=inside[-1].at if inside else None,
        last_team_at=team[-1].at if team else None,
        follow_up_open=follow_up_open,
        text="; ".join(parts),
    )


# ------------------------------------------------------------------ before / after measure


@dataclass(frozen=True, slots=True)
class BeforeAfter:
    before: int
    after: int
    complete: bool  # the "after" window has fully elapsed


def calls_before_after(
    first_contact: dt.datetime,
    call_times: Iterable[dt.datetime],
    *,
    now: dt.datetime,
    days: int = 90,
) -> BeforeAfter:
    """911 calls in [first - days, first) and (first, first + days]; the first contact's
    own call is in neither. ``complete`` is False while the after-window is still open."""
    _aware("first_contact", first_contact)
    w = dt.timedelta(days=days)
    before = after = 0
    for t in call_times:
        if first_contact - w <= t < first_contact:
            before += 1
        elif first_contact < t <= first_contact + w:
            after += 1
    return BeforeAfter(before, after, complete=now >= first_contact + w)


@dataclass(frozen=True, slots=True)
class MeasureSummary:
    people: int
    complete_people: int
    calls_before: int
    calls_after: int
    mean_before: float | None
    mean_after: float | None


def summarise_before_after(rows: Iterable[BeforeAfter]) -> MeasureSummary:
    """Means over people whose after-window has elapsed (incomplete ones only counted)."""
    rows = list(rows)
    done = [r for r in rows if r.complete]
    b = sum(r.before for r in done)
    a = sum(r.after for r in done)
    return MeasureSummary(
        people=len(rows),
        complete_people=len(done),
        calls_before=b,
        calls_after=a,
        mean_before=round(b / len(done), 3) if done else None,
        mean_after=round(a / len(done), 3) if done else None,
    )


# ------------------------------------------------------------------ SLA


@dataclass(frozen=True, slots=True)
class SlaTask:
    closed_at: dt.datetime  # the encounter closed (the clock starts)
    first_attempt_at: dt.datetime | None
    navigator: str  # who made the first attempt ("" if none)


@dataclass(frozen=True, slots=True)
class SlaRow:
    key: str
    due: int  # tasks whose deadline has passed or that had an attempt
    within: int
    share: float | None


@dataclass(frozen=True, slots=True)
class SlaReport:
    hours: float
    by_week: tuple[SlaRow, ...]
    by_navigator: tuple[SlaRow, ...]
    overall: SlaRow = field(default_factory=lambda: SlaRow("all", 0, 0, None))


def sla_report(
    tasks: Iterable[SlaTask],
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    rules: CareRules = CareRules(),
) -> SlaReport:
    """Share of follow-ups whose first attempt came within the due hours.

    Counted: tasks with an attempt, and tasks without one whose deadline has passed
    (missed). Tasks still inside their window with no attempt are not counted yet.
    Weeks are ISO weeks of the encounter close in the program's time zone
    ("2024-W10"); per navigator = who made the first attempt ("(none)" = missed).
    """
    hours = dt.timedelta(hours=rules.follow_up_due_hours)
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    navs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for t in tasks:
        deadline = t.closed_at + hours
        if t.first_attempt_at is None and now < deadline:
            continue
        ok = t.first_attempt_at is not None and t.first_attempt_at <= deadline
        y, w, _ = t.closed_at.astimezone(tz).isocalendar()
        for bucket in (weeks[f"{y}-W{w:02d}"], navs[t.navigator or "(none)"], total):
            bucket[0] += 1
            bucket[1] += int(ok)

    def rows(d):
        return tuple(
            SlaRow(k, v[0], v[1], round(v[1] / v[0], 4) if v[0] else None)
            for k, v in sorted(d.items())
        )

    return SlaReport(
        hours=rules.follow_up_due_hours,
        by_week=rows(weeks),
        by_navigator=rows(navs),
        overall=SlaRow(
            "all", total[0], total[1], round(total[1] / total[0], 4) if total[0] else None
        ),
    )

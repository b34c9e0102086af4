"""A response program as data: categories, call types, exclusions, areas, units, run card.

A :class:`Program` is immutable and carries ``rules_version``: a content hash of the
program file, every file it references and the engine's rule semantics, so a stored
decision can always be traced to the exact rules that produced it. Reading and
validating program TOML files is :mod:`heart.domain.program_file`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from heart.domain.geo import Area
from heart.domain.narrative import NegationRules, PhraseSet, Shorthand
from heart.domain.schedule import HolidayCalendar, Period, describe_windows

ROUTES = ("crt", "co_response", "ccd", "standard")
UNIT_KINDS = ("team", "phone", "co_response")
CONDITIONS = ("no_exclusion", "weapon_without_violence")


class ProgramError(ValueError):
    """A program file is missing, unreadable or wrong; the message names file and key."""


def normalise_nature(code: object) -> str | None:
    if code is None:
        return None
    text = " ".join(str(code).upper().split())
    return text or None


def normalise_priority(value: object) -> str | None:
    """A call priority as text for matching: CAD priorities arrive as '1', 1, 1.0 or
    ' p1 ': one spelling ('1', 'P1'), trimmed, upper case, inner spaces single."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise_nature(value)


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class NatureRule:
    code: str
    category: str
    why: str


@dataclass(frozen=True, slots=True)
class Unit:
    key: str
    label: str
    kind: str
    disciplines: tuple[str, ...]
    periods: tuple[Period, ...]

    def hours_text(self) -> str:
        parts = []
        for p in self.periods:
            until = f" until {p.end.isoformat()}" if p.end else ""
            parts.append(f"{describe_windows(p.windows)} from {p.start.isoformat()}{until}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class RunCardStep:
    route: str
    unit: str
    when: str
    categories: frozenset[str] | None  # None: every eligible category


@dataclass(frozen=True, slots=True)
class Training:
    """A training the program requires of responders of some disciplines ([training.<key>]).

    A completion is current for ``renew_every_months`` (the record's own expiry, when
    earlier, wins): see :mod:`heart.domain.staffing`."""

    key: str
    label: str
    renew_every_months: int
    disciplines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriorityRule:
    """Call priorities the program never takes (e.g. priority 1: a life-threatening emergency)."""

    excluded: frozenset[str]  # normalised with normalise_priority
    why: str


@dataclass(frozen=True, slots=True)
class Exclusions:
    """What keeps an eligible call from every unit that is not police or EMS."""

    weapon_flag_label: str
    violence_flag_label: str
    weapon: PhraseSet
    violence: PhraseSet  # violence toward others: self-directed mentions do not count
    medical: PhraseSet  # a medical emergency: EMS, not the team or a phone clinician
    negation: NegationRules
    shorthand: Shorthand
    check_call_type: bool = True  # the call type's own name is read with the same phrases
    priority: PriorityRule | None = None

    @property
    def classes(self) -> tuple[PhraseSet, ...]:
        return (self.weapon, self.violence, self.medical)


NO_TEAM_FREE_ACTIONS = ("fall_back", "hold")
QUEUE_ORDERS = ("arrival", "priority")


@dataclass(frozen=True, slots=True)
class NoTeamFreePolicy:
    """What happens to a call for field teams when no team is free: the one setting read
    by live intake (heart.intake.services) and by the planning simulator (domain/sim.py).

    ``fall_back``: at once along the run card (crisis line, then the fallback route).
    ``hold``: the call stays on its route, unassigned, for up to the hold minutes (by
    priority, else by route, else ``hold_minutes``); a team that comes free takes the
    waiting call first in queue order; when the time runs out it falls back. A hold
    applies only while some team is on shift (busy): with no team on shift the call
    falls back at once.
    """

    action: str = "fall_back"
    hold_minutes: float = 0.0
    hold_minutes_by_route: Mapping[str, float] = field(default_factory=dict)
    hold_minutes_by_priority: Mapping[str, float] = field(default_factory=dict)
    queue: str = "arrival"  # the order in which waiting calls get a team
    priority_order: tuple[str, ...] = ()  # most urgent first (with queue = "priority")

    def hold_for(self, *, route: str | None, priority: object) -> float:
        """Minutes a call may wait for a team (0: fall back at once)."""
        if self.action != "hold":
            return 0.0
        p = normalise_priority(priority)
        if p is not None and p in self.hold_minutes_by_priority:
            return float(self.hold_minutes_by_priority[p])
        if route is not None and route in self.hold_minutes_by_route:
            return float(self.hold_minutes_by_route[route])
        return float(self.hold_minutes)

    def queue_rank(self, priority: object) -> int:
        """Sort key of a waiting call's priority: lower goes first (0 for all when the
        queue is in arrival order; unknown priorities after the listed ones)."""
        if self.queue != "priority":
            return 0
        p = normalise_priority(priority)
        try:
            return self.priority_order.index(p)  # type: ignore[arg-type]
        except ValueError:
            return len(self.priority_order)

    def describe(self) -> str:
        if self.action != "hold":
            return "no team free: fall back at once along the run card"
        parts = [f"no team free: hold up to {self.hold_minutes:g} min for a team"]
        if self.hold_minutes_by_route:
            parts.append(
                "by route "
                + ", ".join(f"{k} {v:g} min" for k, v in sorted(self.hold_minutes_by_route.items()))
            )
        if self.hold_minutes_by_priority:
            parts.append(
                "by priority "
                + ", ".join(
                    f"{k} {v:g} min" for k, v in sorted(self.hold_minutes_by_priority.items())
                )
            )
        parts.append(
            "waiting calls served by priority (" + " > ".join(self.priority_order) + ")"
            if self.queue == "priority"
            else "waiting calls served first come, first served"
        )
        return "; ".join(parts) + "; then fall back along the run card"

    def as_dict(self) -> dict:
        return {
            "action": self.action,
            "hold_minutes": self.hold_minutes,
            "hold_minutes_by_route": dict(self.hold_minutes_by_route),
            "hold_minutes_by_priority": dict(self.hold_minutes_by_priority),
            "queue": self.queue,
            "priority_order": list(self.priority_order),
            "text": self.describe(),
        }


FALL_BACK_AT_ONCE = NoTeamFreePolicy()
DEFAULT_PRIORITIES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True, eq=False)
class Program:
    name: str
    title: str
    path: Path
    timezone: str
    rules_version: str
    categories: dict[str, Category]
    natures: dict[str, NatureRule]
    not_eligible: dict[str, str]
    exclusions: Exclusions
    areas: dict[str, Area]
    units: dict[str, Unit]
    run_card: tuple[RunCardStep, ...]
    fallback_route: str
    holidays: HolidayCalendar
    sources: tuple[str, ...]
    # [training.<key>]: what a responder of each discipline must have current to staff a shift
    trainings: dict[str, Training] = field(default_factory=dict)
    # [no_team_free]: what live intake and the simulator do when no team is free
    no_team_free: NoTeamFreePolicy = FALL_BACK_AT_ONCE

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_effective_date(self) -> dt.date | None:
        starts = [p.start for u in self.units.values() for p in u.periods]
        return min(starts) if starts else None

    # -- what a call taker chooses from ---------------------------------------------

    def call_types(self) -> list[tuple[str, str]]:
        """Every call type the program knows, (code, plain words), eligible ones first:
        the call-taker form's searchable list."""
        out = [(code, rule.why) for code, rule in self.natures.items()]
        out += [(code, f"Not for the program: {why}") for code, why in self.not_eligible.items()]
        return out

    @property
    def priorities(self) -> tuple[str, ...]:
        """The call priorities a call taker chooses from: those the program names (its
        excluded priorities, its waiting-queue order and hold times), else the CAD's
        usual 1 (most urgent) to 5."""
        named: set[str] = set()
        if self.exclusions.priority is not None:
            named |= set(self.exclusions.priority.excluded)
        named |= set(self.no_team_free.priority_order)
        named |= set(self.no_team_free.hold_minutes_by_priority)
        if not named:
            return DEFAULT_PRIORITIES
        return tuple(
            sorted(named, key=lambda p: (not p.isdigit(), int(p) if p.isdigit() else 0, p))
        )

    # -- which unit serves which route: the run card is the one home of this knowledge --

    def unit_for_route(self, route: str) -> str | None:
        """The run-card unit that serves a route (e.g. 'ccd' -> 'ccd'); None for the
        fallback route, which no unit of the program serves."""
        for step in self.run_card:
            if step.route == route:
                return step.unit
        return None

    def team_unit_for_route(self, route: str) -> str | None:
        """The unit key when the route is served by field teams (unit kind 'team')."""
        unit = self.unit_for_route(route)
        if unit is None or self.units[unit].kind != "team":
            return None
        return unit

    @property
    def team_unit(self) -> str | None:
        """The program's field-team unit: the first run-card unit of kind 'team'."""
        for step in self.run_card:
            if self.units[step.unit].kind == "team":
                return step.unit
        return None

    @property
    def team_route(self) -> str | None:
        """The route on which the field team goes (where a clinician's "send a team" leads)."""
        unit = self.team_unit
        return next((s.route for s in self.run_card if s.unit == unit), None)

    def routes_served_by(self, *kinds: str) -> frozenset[str]:
        """Routes whose run-card unit is of one of these kinds ('team', 'phone', …)."""
        return frozenset(s.route for s in self.run_card if self.units[s.unit].kind in kinds)

    def field_routes(self) -> frozenset[str]:
        """Routes that send someone into the field (a team or a co-responding pair)."""
        return self.routes_served_by("team", "co_response")

    def units_for_route(self, route: str) -> tuple[str, ...]:
        """Every run-card unit that serves a route, in run-card order (none for the
        fallback route)."""
        out: list[str] = []
        for step in self.run_card:
            if step.route == route and step.unit not in out:
                out.append(step.unit)
        return tuple(out)

    def serves(self, unit_key: str, route: str) -> bool:
        """Whether a unit of this key may be sent to a call on this route (the dispatch
        guard: heart.domain.dispatch.route_refusal says why not)."""
        return unit_key in self.units_for_route(route)

    def field_unit_for_route(self, route: str) -> str | None:
        """The unit key when the route sends someone into the field (a team or a
        co-responding clinician); None for phone routes and the fallback."""
        unit = self.unit_for_route(route)
        if unit is None or self.units[unit].kind not in ("team", "co_response"):
            return None
        return unit

    # -- staffing ---------------------------------------------------------------------

    @property
    def disciplines(self) -> frozenset[str]:
        """Every discipline some unit of the program staffs."""
        return frozenset(d for u in self.units.values() for d in u.disciplines)

    def trainings_for(self, discipline: str) -> tuple[Training, ...]:
        """The trainings a responder in this discipline must have current."""
        return tuple(t for t in self.trainings.values() if discipline in t.disciplines)

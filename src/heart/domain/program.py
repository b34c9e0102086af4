"""A response program as data: categories, call types, exclusions, areas, units, run card.

A :class:`Program` is immutable and carries ``rules_version``: a content hash of the
program file, every file it references and the engine's rule semantics, so a stored
decision can always be traced to the exact rules that produced it. Reading and
validating program TOML files is :mod:`heart.domain.program_file`.
"""

from __future__ import annotations

import datetime as dt
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
    """A call priority as text for matching: trimmed, upper case ("p1 " -> "P1")."""
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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_effective_date(self) -> dt.date | None:
        starts = [p.start for u in self.units.values() for p in u.periods]
        return min(starts) if starts else None

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

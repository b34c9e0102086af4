"""Triage: which response a 911 call may get, with the rules that fired.

Triage is split in two so the batch path can share it exactly:

* :func:`call_facts` reduces one call to a small :class:`CallFacts` (nature status,
  weapon/violence evidence, and per unit: operating status and whether the call is
  in the unit's area). The batch engine computes the same facts column-wise.
* :func:`decide_from_facts` walks the program's run card over those facts and
  returns the :class:`Decision`. Both paths call this one function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from heart.domain.geo import normalise_beat, valid_lon_lat
from heart.domain.narrative import find_mentions
from heart.domain.program import Program, normalise_nature
from heart.domain.schedule import UnitStatus, unit_status


class Evidence(StrEnum):
    NONE = "none"
    FLAG = "flag"  # the CAD flagged it
    NARRATIVE = "narrative"  # a phrase in the narrative, not negated


class NatureStatus(StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CallInput:
    """A call as triage needs it. ``received_at`` must carry its time zone."""

    received_at: dt.datetime
    nature: str | None
    id: str | None = None
    priority: str | None = None
    lon: float | None = None
    lat: float | None = None
    beat: str | None = None
    narrative: str | None = None
    weapon_flag: bool | None = None
    violence_flag: bool | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    route: str
    reasons: tuple[Reason, ...]
    rules_version: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def as_dict(self) -> dict:
        return {
            "route": self.route,
            "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
            "rules_version": self.rules_version,
        }


@dataclass(frozen=True, slots=True)
class UnitFact:
    status: UnitStatus
    area: str | None  # area of the period in force
    in_area: bool | None  # None: the call has no usable location


@dataclass(frozen=True, slots=True)
class CallFacts:
    nature: str | None
    nature_status: NatureStatus
    weapon: Evidence
    violence: Evidence
    weapon_phrase: str | None
    violence_phrase: str | None
    negated_phrase: str | None  # a mention that was negated or self-directed
    program_operating: bool  # False: rules date outside every unit's periods
    units: tuple[tuple[str, UnitFact], ...]


# The facts the run card reads only for an eligible call type, each with the blank it
# takes otherwise. A call type that is not eligible is decided by the call type alone
# (and whether the program operates at all), so these do not matter for it; both the
# single-call and the batch path (triage_batch.facts_frame) fold them from this one
# declaration. A new fact that only eligible calls need goes here and nowhere else.
ELIGIBLE_ONLY_FACTS: Mapping[str, object] = MappingProxyType(
    {
        "weapon": Evidence.NONE,
        "violence": Evidence.NONE,
        "weapon_phrase": None,
        "violence_phrase": None,
        "negated_phrase": None,
        "units": (),
    }
)


class TriageInputError(ValueError):
    """The call cannot be triaged as given (e.g. a time without a zone)."""


# --------------------------------------------------------------------------------------
# facts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExclusionFacts:
    weapon: Evidence
    violence: Evidence
    weapon_phrase: str | None
    violence_phrase: str | None
    negated_phrase: str | None


def narrative_facts(program: Program, narrative: str | None) -> tuple:
    """(weapon phrase, violence phrase, negated phrase) counted in a narrative."""
    ex = program.exclusions
    weapon = violence = negated = None
    for phrase_set in (ex.weapon, ex.violence):
        for m in find_mentions(narrative, phrase_set, ex.negation):
            if m.counted:
                if m.kind == "weapon" and weapon is None:
                    weapon = m.phrase
                elif m.kind == "violence" and violence is None:
                    violence = m.phrase
            elif negated is None:
                negated = m.phrase
    return weapon, violence, negated


def exclusion_facts(
    program: Program,
    *,
    narrative: str | None,
    weapon_flag: bool | None,
    violence_flag: bool | None,
) -> ExclusionFacts:
    weapon_phrase, violence_phrase, negated = narrative_facts(program, narrative)
    weapon = (
        Evidence.FLAG if weapon_flag else Evidence.NARRATIVE if weapon_phrase else Evidence.NONE
    )
    violence = (
        Evidence.FLAG if violence_flag else Evidence.NARRATIVE if violence_phrase else Evidence.NONE
    )
    return ExclusionFacts(
        weapon,
        violence,
        weapon_phrase if weapon is Evidence.NARRATIVE else None,
        violence_phrase if violence is Evidence.NARRATIVE else None,
        negated if weapon is Evidence.NONE and violence is Evidence.NONE else None,
    )


def nature_status(program: Program, nature: str | None) -> NatureStatus:
    if nature in program.natures:
        return NatureStatus.ELIGIBLE
    if nature in program.not_eligible:
        return NatureStatus.NOT_ELIGIBLE
    return NatureStatus.UNKNOWN


def call_facts(
    program: Program, call: CallInput, *, rules_as_of: dt.date | None = None
) -> CallFacts:
    if call.received_at.tzinfo is None or call.received_at.utcoffset() is None:
        raise TriageInputError("received_at: a time zone is required")
    local = call.received_at.astimezone(program.zone)
    local_date = local.date()
    rules_date = rules_as_of or local_date
    nature = normalise_nature(call.nature)
    beat = normalise_beat(call.beat)
    has_point = valid_lon_lat(call.lon, call.lat)

    area_membership: dict[str, bool | None] = {}
    for key, area in program.areas.items():
        if beat is not None and area.beats:
            area_membership[key] = beat in area.beats
        elif has_point and area.geometry is not None:
            area_membership[key] = area.contains_point(call.lon, call.lat)  # type: ignore[arg-type]
        else:
            area_membership[key] = None

    units = []
    any_period = False
    for key, unit in sorted(program.units.items()):
        status, period = unit_status(
            unit.periods,
            program.holidays,
            rules_date=rules_date,
            local_date=local_date,
            weekday=local.weekday(),
            minute=local.hour * 60 + local.minute,
        )
        any_period = any_period or period is not None
        area = period.area if period else None
        units.append((key, UnitFact(status, area, area_membership[area] if area else None)))

    ex = exclusion_facts(
        program,
        narrative=call.narrative,
        weapon_flag=call.weapon_flag,
        violence_flag=call.violence_flag,
    )
    return CallFacts(
        nature=nature,
        nature_status=nature_status(program, nature),
        weapon=ex.weapon,
        violence=ex.violence,
        weapon_phrase=ex.weapon_phrase,
        violence_phrase=ex.violence_phrase,
        negated_phrase=ex.negated_phrase,
        program_operating=any_period,
        units=tuple(units),
    )


# --------------------------------------------------------------------------------------
# decision
# --------------------------------------------------------------------------------------

_ROUTE_TEXT = {
    "crt": "Send the {unit}: an eligible call with no weapon or violence, inside its area during its hours.",
    "co_response": "Send the {unit}: a mental-health call with a weapon but no violence toward others.",
    "ccd": "Transfer to {unit}: an eligible call with no weapon or violence, during its hours.",
}

_STATUS_TEXT = {
    UnitStatus.CLOSED_HOURS: "The {unit} was not on duty at the call's local time (hours: {hours}).",
    UnitStatus.HOLIDAY: "The {unit} does not operate on holidays and the call came on a holiday.",
    UnitStatus.NOT_STARTED: "The {unit} had not started operating under these rules on the rules date.",
    UnitStatus.ENDED: "The {unit} no longer operated under these rules on the rules date.",
}


def decisive_facts(facts: CallFacts) -> CallFacts:
    """The facts with what the run card never reads blanked out (:data:`ELIGIBLE_ONLY_FACTS`).

    Both paths decide on these facts; the batch path blanks the same fields first, so
    calls that can only get one answer make one combination.
    """
    if facts.nature_status is NatureStatus.ELIGIBLE:
        return facts
    return replace(facts, **ELIGIBLE_ONLY_FACTS)


def decide_from_facts(
    program: Program,
    facts: CallFacts,
    *,
    unavailable: Mapping[str, str] | None = None,
) -> Decision:
    """Walk the run card. ``unavailable`` maps unit -> why no unit of it can go (live use)."""
    facts = decisive_facts(facts)
    reasons: list[Reason] = []

    def done(route: str, code: str, text: str) -> Decision:
        reasons.append(Reason(code, text))
        return Decision(route, tuple(reasons), program.rules_version)

    if not facts.program_operating:
        first = program.first_effective_date
        when = f" (it starts on {first.isoformat()})" if first else ""
        reasons.append(
            Reason(
                "program_not_operating",
                f"The {program.title} program was not operating on the rules date{when}.",
            )
        )
        return done(program.fallback_route, f"route_{program.fallback_route}", _standard_text())

    if facts.nature_status is NatureStatus.UNKNOWN:
        shown = facts.nature or "(none)"
        reasons.append(
            Reason("nature_unknown", f"The call type {shown} is not one this program knows.")
        )
        return done(program.fallback_route, f"route_{program.fallback_route}", _standard_text())
    if facts.nature_status is NatureStatus.NOT_ELIGIBLE:
        why = program.not_eligible[facts.nature]  # type: ignore[index]
        reasons.append(
            Reason("nature_not_eligible", f"The call type {facts.nature} is not eligible: {why}")
        )
        return done(program.fallback_route, f"route_{program.fallback_route}", _standard_text())

    rule = program.natures[facts.nature]  # type: ignore[index]
    category = program.categories[rule.category]
    reasons.append(
        Reason(
            "nature_eligible",
            f"The call type {facts.nature} is eligible ({category.label}).",
        )
    )
    reasons.extend(_exclusion_reasons(program, facts))

    excluded = facts.weapon is not Evidence.NONE or facts.violence is not Evidence.NONE
    weapon_only = facts.weapon is not Evidence.NONE and facts.violence is Evidence.NONE
    unit_facts = dict(facts.units)
    for step in program.run_card:
        if step.when == "no_exclusion" and excluded:
            continue
        if step.when == "weapon_without_violence" and not weapon_only:
            continue
        if step.categories is not None and rule.category not in step.categories:
            continue
        unit = program.units[step.unit]
        fact = unit_facts[step.unit]
        label = unit.label
        if fact.status is not UnitStatus.OPERATING:
            reasons.append(
                Reason(
                    f"{step.unit}_{fact.status.value}",
                    _STATUS_TEXT[fact.status].format(unit=label, hours=unit.hours_text()),
                )
            )
            continue
        area = program.areas[fact.area] if fact.area else None
        if fact.in_area is None:
            reasons.append(
                Reason(
                    f"{step.unit}_location_unknown",
                    f"The call has no usable beat or coordinates to place it in the {label}'s area.",
                )
            )
            continue
        if not fact.in_area:
            reasons.append(
                Reason(
                    f"{step.unit}_outside_area",
                    f"The call is outside the {label}'s area ({area.label if area else '?'}).",
                )
            )
            continue
        if unavailable and step.unit in unavailable:
            reasons.append(
                Reason(
                    f"{step.unit}_unavailable",
                    f"No {label} could go: {unavailable[step.unit]}.",
                )
            )
            continue
        return done(step.route, f"route_{step.route}", _ROUTE_TEXT[step.route].format(unit=label))

    return done(program.fallback_route, f"route_{program.fallback_route}", _standard_text())


def _standard_text() -> str:
    return "Handled by the standard police response."


def _exclusion_reasons(program: Program, facts: CallFacts) -> list[Reason]:
    ex = program.exclusions
    out = []
    if facts.weapon is Evidence.FLAG:
        out.append(Reason("weapon_flag", f"The CAD flagged a weapon ({ex.weapon_flag_label})."))
    elif facts.weapon is Evidence.NARRATIVE:
        out.append(
            Reason(
                "weapon_in_narrative",
                f"The narrative mentions a weapon (\u201c{facts.weapon_phrase}\u201d).",
            )
        )
    if facts.violence is Evidence.FLAG:
        out.append(
            Reason(
                "violence_flag",
                f"The CAD flagged violence toward others ({ex.violence_flag_label}).",
            )
        )
    elif facts.violence is Evidence.NARRATIVE:
        out.append(
            Reason(
                "violence_in_narrative",
                f"The narrative describes violence toward others (\u201c{facts.violence_phrase}\u201d).",
            )
        )
    if facts.negated_phrase:
        out.append(
            Reason(
                "mention_negated",
                f"The narrative mentions \u201c{facts.negated_phrase}\u201d only as absent or "
                "self-directed, so it does not exclude the call.",
            )
        )
    return out


def decide(
    program: Program,
    call: CallInput,
    *,
    rules_as_of: dt.date | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> Decision:
    """Triage one call with the rules in force at its own time (or on ``rules_as_of``)."""
    return decide_from_facts(
        program, call_facts(program, call, rules_as_of=rules_as_of), unavailable=unavailable
    )

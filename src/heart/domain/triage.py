"""Triage: which response a 911 call may get, with the rules that fired.

Triage is split in two so the batch path can share it exactly:

* :func:`call_facts` reduces one call to a small :class:`CallFacts` (nature status,
  weapon / violence / medical-emergency evidence from CAD flags, the call type's own
  name and the narrative, an excluded priority, and per unit: operating status and
  whether the call is in the unit's area). The batch engine computes the same facts
  column-wise, running the same text functions once per distinct value.
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
from heart.domain.narrative import find_mentions, tokenize
from heart.domain.program import Program, normalise_nature, normalise_priority
from heart.domain.schedule import UnitStatus, unit_status


class Evidence(StrEnum):
    NONE = "none"
    FLAG = "flag"  # the CAD flagged it
    CALL_TYPE = "call_type"  # the call type's own name says it ("MAJOR DISTURBANCE (VIOLENCE)")
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
    # the call type's own description when the CAD sends one besides the code (EIDO
    # incidentTypeInternalText): read with the same phrases as the code itself
    type_text: str | None = None


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
    medical: Evidence
    weapon_phrase: str | None
    violence_phrase: str | None
    medical_phrase: str | None
    negated_phrase: str | None  # a mention that was negated, self-directed or historical
    priority_excluded: str | None  # the call's priority when the program never takes it
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
        "medical": Evidence.NONE,
        "weapon_phrase": None,
        "violence_phrase": None,
        "medical_phrase": None,
        "negated_phrase": None,
        "priority_excluded": None,
        "units": (),
    }
)


# The reason codes that mean an eligible call type was excluded (planning counts such a
# call as not eligible); one home, next to the rules that give them.
EXCLUDING_CODES: tuple[str, ...] = (
    "weapon_flag",
    "weapon_in_call_type",
    "weapon_in_narrative",
    "violence_flag",
    "violence_in_call_type",
    "violence_in_narrative",
    "medical_in_call_type",
    "medical_in_narrative",
    "priority_excluded",
)


class TriageInputError(ValueError):
    """The call cannot be triaged as given (e.g. a time without a zone)."""


# --------------------------------------------------------------------------------------
# facts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextEvidence:
    """What one text says, per exclusion class: the first phrase that counted, or None."""

    weapon: str | None = None
    violence: str | None = None
    medical: str | None = None
    negated: str | None = None  # the first mention that did not count, for the reasons


NO_EVIDENCE = TextEvidence()


def text_evidence(program: Program, text: str | None) -> TextEvidence:
    """The exclusion phrases in one text (a narrative or a call type's name)."""
    if not text:
        return NO_EVIDENCE
    ex = program.exclusions
    tokens = tokenize(text, ex.shorthand)
    if not tokens:
        return NO_EVIDENCE
    found: dict[str, str] = {}
    negated = None
    for phrase_set in ex.classes:
        for m in find_mentions(None, phrase_set, ex.negation, tokens=tokens):
            if m.counted:
                found.setdefault(m.kind, m.phrase)
            elif negated is None:
                negated = m.phrase
    if not found and negated is None:
        return NO_EVIDENCE
    return TextEvidence(found.get("weapon"), found.get("violence"), found.get("medical"), negated)


def narrative_facts(program: Program, narrative: str | None) -> TextEvidence:
    """The exclusion phrases of a narrative (same as :func:`text_evidence`)."""
    return text_evidence(program, narrative)


def call_type_evidence(program: Program, nature: str | None, type_text: str | None) -> TextEvidence:
    """The exclusion phrases in the call type's code and its description, if the program
    reads them: "MAJOR DISTURBANCE (VIOLENCE)" is never eligible for a team. Negated
    mentions in a type name ("ASSAULT NO WEAPON") simply do not count."""
    if not program.exclusions.check_call_type:
        return NO_EVIDENCE
    code = text_evidence(program, nature)
    text = text_evidence(program, type_text) if type_text else NO_EVIDENCE
    if text is NO_EVIDENCE and code.negated is None:
        return code
    return TextEvidence(
        code.weapon or text.weapon, code.violence or text.violence, code.medical or text.medical
    )


@dataclass(frozen=True, slots=True)
class ExclusionFacts:
    weapon: Evidence
    violence: Evidence
    medical: Evidence
    weapon_phrase: str | None
    violence_phrase: str | None
    medical_phrase: str | None
    negated_phrase: str | None
    priority_excluded: str | None


def combine_exclusions(
    program: Program,
    *,
    narrative: TextEvidence,
    call_type: TextEvidence,
    weapon_flag: bool | None,
    violence_flag: bool | None,
    priority: str | None,
) -> ExclusionFacts:
    """The evidence per class, strongest source first: CAD flag, call type, narrative."""

    def pick(flag: bool | None, kind: str) -> tuple[Evidence, str | None]:
        if flag:
            return Evidence.FLAG, None
        phrase = getattr(call_type, kind)
        if phrase:
            return Evidence.CALL_TYPE, phrase
        phrase = getattr(narrative, kind)
        if phrase:
            return Evidence.NARRATIVE, phrase
        return Evidence.NONE, None

    weapon, weapon_phrase = pick(weapon_flag, "weapon")
    violence, violence_phrase = pick(violence_flag, "violence")
    medical, medical_phrase = pick(None, "medical")  # no CAD carries a medical flag
    rule = program.exclusions.priority
    shown = normalise_priority(priority) if rule is not None else None
    priority_excluded = shown if shown is not None and shown in rule.excluded else None  # type: ignore[union-attr]
    excluded = (
        weapon is not Evidence.NONE
        or violence is not Evidence.NONE
        or medical is not Evidence.NONE
        or priority_excluded is not None
    )
    return ExclusionFacts(
        weapon,
        violence,
        medical,
        weapon_phrase,
        violence_phrase,
        medical_phrase,
        None if excluded else narrative.negated,
        priority_excluded,
    )


def exclusion_facts(
    program: Program,
    *,
    narrative: str | None,
    weapon_flag: bool | None,
    violence_flag: bool | None,
    nature: str | None = None,
    type_text: str | None = None,
    priority: str | None = None,
) -> ExclusionFacts:
    return combine_exclusions(
        program,
        narrative=text_evidence(program, narrative),
        call_type=call_type_evidence(program, nature, type_text),
        weapon_flag=weapon_flag,
        violence_flag=violence_flag,
        priority=priority,
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
        nature=nature,
        type_text=call.type_text,
        priority=call.priority,
    )
    return CallFacts(
        nature=nature,
        nature_status=nature_status(program, nature),
        **exclusion_fields(ex),
        program_operating=any_period,
        units=tuple(units),
    )


def exclusion_fields(ex: ExclusionFacts) -> dict[str, object]:
    """The CallFacts fields an ExclusionFacts fills (same names)."""
    return {name: getattr(ex, name) for name in ExclusionFacts.__slots__}


# --------------------------------------------------------------------------------------
# decision
# --------------------------------------------------------------------------------------

_ROUTE_TEXT = {
    "crt": "Send the {unit}: an eligible call with no weapon, violence or medical emergency, inside its area during its hours.",
    "co_response": "Send the {unit}: a mental-health call with a weapon but no violence toward others and no medical emergency.",
    "ccd": "Transfer to {unit}: an eligible call with no weapon, violence or medical emergency, during its hours.",
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

    # a medical emergency or an excluded priority keeps the call from every unit, the
    # co-response pair included: EMS (and police as usual) take it on the fallback route
    excluded = (
        facts.weapon is not Evidence.NONE
        or facts.violence is not Evidence.NONE
        or facts.medical is not Evidence.NONE
        or facts.priority_excluded is not None
    )
    weapon_only = (
        facts.weapon is not Evidence.NONE
        and facts.violence is Evidence.NONE
        and facts.medical is Evidence.NONE
        and facts.priority_excluded is None
    )
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

    return done(
        program.fallback_route,
        f"route_{program.fallback_route}",
        _standard_text(medical=facts.medical is not Evidence.NONE),
    )


def _standard_text(*, medical: bool = False) -> str:
    if medical:
        return (
            "Handled by the standard response: EMS, with police as usual, for a medical emergency."
        )
    return "Handled by the standard police response."


_CLASS_TEXT = {
    "weapon": "a weapon",
    "violence": "violence toward others",
    "medical": "a medical emergency",
}


def _exclusion_reasons(program: Program, facts: CallFacts) -> list[Reason]:
    ex = program.exclusions
    out = []
    flag_labels = {"weapon": ex.weapon_flag_label, "violence": ex.violence_flag_label}
    for kind in ("weapon", "violence", "medical"):
        evidence: Evidence = getattr(facts, kind)
        phrase = getattr(facts, f"{kind}_phrase")
        what = _CLASS_TEXT[kind]
        if evidence is Evidence.FLAG:
            out.append(Reason(f"{kind}_flag", f"The CAD flagged {what} ({flag_labels[kind]})."))
        elif evidence is Evidence.CALL_TYPE:
            out.append(
                Reason(
                    f"{kind}_in_call_type",
                    f"The call type names {what} in its code or description "
                    f"(\u201c{phrase}\u201d), so no team or phone clinician takes it.",
                )
            )
        elif evidence is Evidence.NARRATIVE:
            verb = "mentions" if kind == "weapon" else "describes"
            out.append(
                Reason(
                    f"{kind}_in_narrative", f"The narrative {verb} {what} (\u201c{phrase}\u201d)."
                )
            )
    if facts.priority_excluded is not None:
        why = ex.priority.why if ex.priority else ""
        out.append(
            Reason(
                "priority_excluded",
                f"Priority {facts.priority_excluded} calls are not taken by this program: {why}",
            )
        )
    if facts.negated_phrase:
        out.append(
            Reason(
                "mention_negated",
                f"The narrative mentions \u201c{facts.negated_phrase}\u201d only as absent, past or "
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

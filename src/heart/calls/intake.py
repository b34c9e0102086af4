"""Intake: a call arrives (CAD EIDO, plain JSON, call-taker form) and is triaged,
stored, recommended a team or fallen back, and announced on the board.

This module joins calls and teams; it is the one entry point for new calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.services import audit
from heart.calls.errors import Conflict
from heart.calls.models import Call, CcdOutcome, TimelineEvent
from heart.calls.services import (
    append_timeline,
    call_input_from,
    close_call,
    record_call,
    set_route,
    timeline_fields,
)
from heart.care import services as care_hooks
from heart.domain.dispatch import Recommendation
from heart.domain.program import Program
from heart.domain.program_file import load_program
from heart.domain.triage import CallInput, decide
from heart.live.events import publish_on_commit

K = TimelineEvent.Kind


@lru_cache(maxsize=8)
def _load(name: str) -> Program:
    return load_program(name)


def current_program() -> Program:
    """The program in force (settings.HEART_PROGRAM), loaded once per process."""
    return _load(settings.HEART_PROGRAM)


@dataclass(frozen=True)
class IntakeResult:
    call: Call
    created: bool
    recommendation: Recommendation | None


def _pick_payload(rec: Recommendation | None) -> dict | None:
    if rec is None or rec.best is None:
        return None
    best = rec.best
    return {
        "team_id": int(best.unit_id),
        "eta_minutes": None if best.eta_minutes == float("inf") else round(best.eta_minutes, 1),
        "reason": best.reason,
        "stale_position": best.stale_position,
    }


def recommend_or_fall_back(
    *,
    call: Call,
    program: Program,
    actor: Actor,
    now: dt.datetime | None = None,
    timeline: list[TimelineEvent] | None = None,
) -> Recommendation | None:
    """For a call routed to field teams: record the recommendation, or fall back.

    When no team can go, the run card is walked again with that unit unavailable
    (``decide(..., unavailable={unit: why})``), e.g. crt -> ccd -> standard; the new
    route and the shortfall reason go on the timeline. Caller holds the transaction.
    With ``timeline`` the events are appended to that list (the caller bulk-inserts).
    """

    def note(**kw) -> None:
        if timeline is None:
            append_timeline(**kw)
        else:
            timeline.append(TimelineEvent(**timeline_fields(**kw)))

    from heart.teams.selectors import recommendation_for, team_unit_for_route

    now = now or timezone.now()
    unavailable: dict[str, str] = {}
    rec: Recommendation | None = None
    for _ in range(len(program.run_card) + 1):
        unit = team_unit_for_route(program, call.route)
        if unit is None:
            return rec
        rec = recommendation_for(
            call=call,
            program=program,
            now=now,
            unit_key=unit,
            max_age=getattr(settings, "HEART_INTAKE_SNAPSHOT_MAX_AGE", 0.25),
        )
        if rec is not None and rec.best is not None:
            note(
                call=call,
                kind=K.RECOMMENDED,
                actor=actor,
                text=rec.best.reason,
                data={
                    "picks": [
                        {"team_id": int(p.unit_id), "eta_minutes": _finite(p.eta_minutes)}
                        for p in rec.picks
                    ],
                    "stale_position": rec.best.stale_position,
                },
                at=now,
            )
            return rec
        why = _why_none(rec)
        unavailable[unit] = why
        before = call.route
        decision = decide(program, call_input_from(call), unavailable=unavailable)
        set_route(call=call, decision=decision)
        note(
            call=call,
            kind=K.FELL_BACK,
            actor=actor,
            text=f"No {program.units[unit].label} could go: {why}. Route {before} -> {call.route}.",
            data={
                "from": before,
                "to": call.route,
                "unit": unit,
                "shortfalls": [
                    {"team_id": s.unit_id and int(s.unit_id), "code": s.code, "reason": s.reason}
                    for s in (rec.shortfalls if rec else ())
                ],
            },
            at=now,
        )
    return rec


def _finite(x: float) -> float | None:
    return None if x == float("inf") else round(x, 1)


def _why_none(rec: Recommendation | None) -> str:
    if rec is None:
        return "no team"
    codes = {s.code for s in rec.shortfalls}
    words = {
        "busy": "every team is busy",
        "off_shift": "no team is on shift",
        "not_staffed": "no team is fully staffed",
        "no_units": "no teams are set up",
    }
    return "; ".join(words.get(c, c) for c in sorted(codes)) or "no team"


def receive_call(
    *,
    call: CallInput,
    actor: Actor,
    program: Program | None = None,
    cad_incident_id: str | None = None,
    source: str = "cad",
    address: str = "",
    incident_type_text: str = "",
    source_updated_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> IntakeResult:
    """Triage, store (idempotent on the CAD id), recommend or fall back, announce."""
    program = program or current_program()
    now = now or timezone.now()
    _check_input(call, cad_incident_id, address, incident_type_text)
    with transaction.atomic():
        previous_route = (
            Call.objects.filter(cad_incident_id=cad_incident_id)
            .values_list("route", flat=True)
            .first()
            if cad_incident_id is not None
            else None
        )
        stored, created = record_call(
            call=call,
            program=program,
            cad_incident_id=cad_incident_id,
            source=source,
            address=address,
            incident_type_text=incident_type_text,
            source_updated_at=source_updated_at,
        )
        if getattr(stored, "unchanged", False):
            return IntakeResult(stored, False, None)
        reasons = "; ".join(r["text"] for r in stored.reasons)
        events = [
            TimelineEvent(
                **timeline_fields(
                    call=stored,
                    kind=K.RECEIVED if created else K.UPDATED,
                    actor=actor,
                    text=f"{'Received from' if created else 'Updated by'} {source}",
                    data={"source": source},
                    at=now,
                )
            ),
            TimelineEvent(
                **timeline_fields(
                    call=stored,
                    kind=K.TRIAGED,
                    actor=actor,
                    text=f"Triaged {stored.route}: {reasons}",
                    data={"route": stored.route, "rules_version": stored.rules_version},
                    at=now,
                )
            ),
        ]
        rec = None
        assignment = (
            None
            if created
            else stored.assignments.filter(active=True).select_related("team").first()
        )
        assigned = assignment is not None
        if assignment is not None and previous_route and stored.route != previous_route:
            _warn_rerouted(
                call=stored,
                team=assignment.team,
                previous_route=previous_route,
                actor=actor,
                now=now,
                timeline=events,
            )
        if stored.state == Call.State.OPEN and not assigned:
            rec = recommend_or_fall_back(
                call=stored, program=program, actor=actor, now=now, timeline=events
            )
        TimelineEvent.objects.bulk_create(events)
        publish_on_commit(
            "call.received" if created else "call.updated",
            {
                "call_id": stored.pk,
                "route": stored.route,
                "priority": stored.priority,
                "nature": stored.nature,
                "lon": stored.lon,
                "lat": stored.lat,
                "received_at": stored.received_at.isoformat(),
                "recommended": _pick_payload(rec),
            },
        )
    return IntakeResult(stored, created, rec)


def _warn_rerouted(*, call: Call, team, previous_route: str, actor: Actor, now, timeline) -> None:
    """A CAD update changed the route of a call a team is already on (e.g. a weapon is
    now reported): the team may be driving into a call it should not take. Say so on the
    timeline and raise an alarm on the board and on the team's phone; the dispatcher
    decides what the team does."""
    reasons = "; ".join(r["text"] for r in call.reasons)
    timeline.append(
        TimelineEvent(
            **timeline_fields(
                call=call,
                kind=K.REROUTED,
                actor=actor,
                team=team,
                text=(
                    f"Re-triaged from {previous_route} to {call.route} while {team.name} is "
                    f"assigned: {reasons}"
                ),
                data={"from": previous_route, "to": call.route, "team_id": team.pk},
                at=now,
            )
        )
    )
    publish_on_commit(
        "call.rerouted",
        {
            "alarm": True,
            "call_id": call.pk,
            "team_id": team.pk,
            "from": previous_route,
            "to": call.route,
            "reasons": [r["code"] for r in call.reasons],
            "at": now.isoformat(),
        },
    )


def _check_input(call: CallInput, cad_id, address, incident_type_text) -> None:
    from heart.calls.errors import Invalid
    from heart.calls.validation import text_problem, time_problem

    problem = time_problem(call.received_at)
    if problem:
        raise Invalid(f"received_at: {problem}", path="received_at")
    for name, value in (
        ("cad_incident_id", cad_id),
        ("nature", call.nature),
        ("narrative", call.narrative),
        ("beat", call.beat),
        ("priority", call.priority),
        ("address", address),
        ("incident_type_text", incident_type_text),
    ):
        problem = text_problem(value)
        if problem:
            raise Invalid(f"{name}: {problem}", path=name)


def record_ccd_outcome(
    *,
    call: Call,
    outcome: str,
    actor: Actor,
    notes: str = "",
    program: Program | None = None,
    now: dt.datetime | None = None,
) -> CcdOutcome:
    """The crisis-line clinician's result: resolved by phone (closes the call), send a
    team (re-routes to crt and recommends or falls back), or hand back to standard."""
    from heart.calls.errors import Invalid

    program = program or current_program()
    now = now or timezone.now()
    if outcome not in CcdOutcome.Outcome.values:
        raise Invalid(
            f"outcome: unknown {outcome!r} (one of {CcdOutcome.Outcome.values})", path="outcome"
        )
    with transaction.atomic():
        c = Call.objects.select_for_update().get(pk=call.pk)
        if c.route != Call.Route.CCD:
            raise Conflict(f"call: call {c.pk} is routed {c.route}, not ccd", path="call_id")
        if c.state != Call.State.OPEN:
            raise Conflict(f"call: call {c.pk} is closed", path="call_id")
        if CcdOutcome.objects.filter(call=c).exists():
            raise Conflict(f"call: call {c.pk} already has an outcome", path="call_id")
        o = CcdOutcome.objects.create(
            call=c, outcome=outcome, notes=notes, clinician=actor.user, recorded_at=now
        )
        label = CcdOutcome.Outcome(outcome).label
        append_timeline(
            call=c, kind=K.CCD_OUTCOME, actor=actor, text=label, data={"outcome": outcome}, at=now
        )
        if outcome == CcdOutcome.Outcome.RESOLVED_BY_PHONE:
            close_call(call=c, actor=actor, text="Closed: resolved by phone", at=now)
        else:
            to = "crt" if outcome == CcdOutcome.Outcome.SEND_TEAM else "standard"
            code = "ccd_send_team" if to == "crt" else "ccd_hand_back"
            text = (
                "The crisis call diversion clinician asked for a team."
                if to == "crt"
                else "The crisis call diversion clinician handed the call back to the standard response."
            )
            before = c.route
            set_route(call=c, route=to, reasons=[{"code": code, "text": text}])
            append_timeline(
                call=c,
                kind=K.REROUTED,
                actor=actor,
                text=f"Route {before} -> {to}: {text}",
                data={"from": before, "to": to},
                at=now,
            )
            if to == "crt":
                _send_team(call=c, program=program, actor=actor, now=now)
        audit(actor=actor, action="ccd.outcome", obj=c, data={"outcome": outcome}, at=now)
        care_hooks.record_encounter_from_ccd_outcome(ccd_outcome=o, actor=actor)
        publish_on_commit(
            "ccd.outcome",
            {"call_id": c.pk, "outcome": outcome, "route": c.route, "state": c.state},
        )
    return o


def _send_team(*, call: Call, program: Program, actor: Actor, now: dt.datetime) -> None:
    """After 'send a team': recommend; with no team, standard (ccd already tried)."""
    from heart.teams.selectors import recommendation_for

    unit = "crt" if "crt" in program.units else None
    rec = recommendation_for(call=call, program=program, now=now, unit_key=unit) if unit else None
    if rec is not None and rec.best is not None:
        append_timeline(call=call, kind=K.RECOMMENDED, actor=actor, text=rec.best.reason, at=now)
        return
    why = _why_none(rec)
    set_route(
        call=call,
        route="standard",
        reasons=[{"code": "crt_unavailable", "text": f"No team could go: {why}."}],
    )
    append_timeline(
        call=call,
        kind=K.FELL_BACK,
        actor=actor,
        text=f"No team could go: {why}. Route crt -> standard.",
        data={"from": "crt", "to": "standard"},
        at=now,
    )

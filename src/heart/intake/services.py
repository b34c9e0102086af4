"""Intake: a call arrives (CAD EIDO, plain JSON, call-taker form) and is triaged,
stored, recommended a team or fallen back, and announced on the board.

The one entry point for new calls; it sits above calls and teams and joins them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.services import audit
from heart.calls.contention import retry_on_contention
from heart.calls.models import Call, CcdOutcome, TimelineEvent
from heart.calls.services import (
    append_timeline,
    call_input_from,
    close_call,
    insert_timeline,
    record_call,
    set_route,
    timeline_fields,
)
from heart.calls.validation import text_problem, time_problem
from heart.domain.dispatch import Recommendation
from heart.domain.program import Program
from heart.domain.triage import CallInput, decide
from heart.errors import Conflict, Invalid
from heart.events.bus import emit
from heart.program_in_force import current_program
from heart.teams.selectors import recommendation_for

K = TimelineEvent.Kind


@dataclass(frozen=True)
class IntakeResult:
    call: Call
    created: bool
    recommendation: Recommendation | None


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

    now = now or timezone.now()
    unavailable: dict[str, str] = {}
    rec: Recommendation | None = None
    for _ in range(len(program.run_card) + 1):
        unit = program.team_unit_for_route(call.route)
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
                        {"team_id": p.team_id, "eta_minutes": p.eta_rounded} for p in rec.picks
                    ],
                    "stale_position": rec.best.stale_position,
                },
                at=now,
            )
            return rec
        why = rec.why_none() if rec else "no team"
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
                "shortfalls": [s.as_dict() for s in (rec.shortfalls if rec else ())],
            },
            at=now,
        )
    return rec


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
    call_id: int | None = None,
) -> IntakeResult:
    """Triage, store, recommend or fall back, announce.

    Idempotent on the CAD incident id *of this actor's source* (``actor.source_key``):
    a repeat updates the same call, another source's id is a new call. ``call_id``
    updates that stored call instead (the caller has checked that the actor owns it or
    holds ``update_any_call``). A delivery that loses to a concurrent write
    (serialization failure, deadlock, lock timeout, a dropped connection) is retried a
    few times in the server before the client hears "busy" (heart.calls.contention).
    """
    program = program or current_program()
    now = now or timezone.now()
    _check_input(call, cad_incident_id, address, incident_type_text)
    return retry_on_contention(
        lambda: _receive_once(
            call=call,
            actor=actor,
            program=program,
            cad_incident_id=cad_incident_id,
            source=source,
            address=address,
            incident_type_text=incident_type_text,
            source_updated_at=source_updated_at,
            now=now,
            call_id=call_id,
        )
    )


def _receive_once(
    *,
    call: CallInput,
    actor: Actor,
    program: Program,
    cad_incident_id: str | None,
    source: str,
    address: str,
    incident_type_text: str,
    source_updated_at: dt.datetime | None,
    now: dt.datetime,
    call_id: int | None,
) -> IntakeResult:
    with transaction.atomic():
        recorded = record_call(
            call=call,
            program=program,
            cad_incident_id=cad_incident_id,
            source_key=actor.source_key,
            source=source,
            address=address,
            incident_type_text=incident_type_text,
            source_updated_at=source_updated_at,
            call_id=call_id,
        )
        stored, created = recorded.call, recorded.created
        previous_route = recorded.previous_route
        if recorded.unchanged:  # an older CAD delivery than the one stored
            return IntakeResult(stored, False, None)
        timeline = _arrival_lines(call=stored, created=created, source=source, actor=actor, at=now)
        assignment = (
            None
            if created
            else stored.assignments.filter(active=True).select_related("team").first()
        )
        rec = None
        if assignment is not None:
            if previous_route and stored.route != previous_route:
                _warn_rerouted(
                    call=stored,
                    team=assignment.team,
                    previous_route=previous_route,
                    actor=actor,
                    now=now,
                    timeline=timeline,
                )
        elif stored.state == Call.State.OPEN:
            rec = recommend_or_fall_back(
                call=stored, program=program, actor=actor, now=now, timeline=timeline
            )
        insert_timeline(timeline)
        emit(
            "call.received" if created else "call.updated",
            {
                "call_id": stored.pk,
                "route": stored.route,
                "priority": stored.priority,
                "nature": stored.nature,
                "lon": stored.lon,
                "lat": stored.lat,
                "received_at": stored.received_at.isoformat(),
                "recommended": rec.best.as_dict() if rec and rec.best else None,
            },
            actor=actor,
            call_id=stored.pk,
            at=now,
        )
    return IntakeResult(stored, created, rec)


def _arrival_lines(
    *, call: Call, created: bool, source: str, actor: Actor, at: dt.datetime
) -> list[TimelineEvent]:
    """ "Received from"/"Updated by" and "Triaged" lines for a delivery (bulk-inserted)."""
    reasons = "; ".join(r["text"] for r in call.reasons)
    return [
        TimelineEvent(
            **timeline_fields(
                call=call,
                kind=K.RECEIVED if created else K.UPDATED,
                actor=actor,
                text=f"{'Received from' if created else 'Updated by'} {source}",
                data={"source": source},
                at=at,
            )
        ),
        TimelineEvent(
            **timeline_fields(
                call=call,
                kind=K.TRIAGED,
                actor=actor,
                text=f"Triaged {call.route}: {reasons}",
                data={"route": call.route, "rules_version": call.rules_version},
                at=at,
            )
        ),
    ]


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
    emit(
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
        actor=actor,
        call_id=call.pk,
        at=now,
    )


def _check_input(call: CallInput, cad_id, address, incident_type_text) -> None:
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
    team (re-routes to the field team's route and recommends or falls back), or hand
    back to the program's fallback route (the standard response)."""
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
        send_team = outcome == CcdOutcome.Outcome.SEND_TEAM and program.team_route is not None
        if outcome == CcdOutcome.Outcome.RESOLVED_BY_PHONE:
            close_call(call=c, actor=actor, text="Closed: resolved by phone", at=now)
        else:
            to = program.team_route if send_team else program.fallback_route
            code = "ccd_send_team" if send_team else "ccd_hand_back"
            text = (
                "The crisis call diversion clinician asked for a team."
                if send_team
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
            if send_team:
                _send_team(call=c, program=program, actor=actor, now=now)
        audit(actor=actor, action="ccd.outcome", obj=c, data={"outcome": outcome}, at=now)
        emit(
            "ccd.outcome",
            {
                "call_id": c.pk,
                "ccd_outcome_id": o.pk,
                "outcome": outcome,
                "route": c.route,
                "state": c.state,
            },
            actor=actor,
            call_id=c.pk,
            at=now,
        )
    return o


def _send_team(*, call: Call, program: Program, actor: Actor, now: dt.datetime) -> None:
    """After 'send a team': recommend; with no team, the fallback route (the crisis line
    has already been tried)."""
    unit, route, fallback = program.team_unit, call.route, program.fallback_route
    rec = recommendation_for(call=call, program=program, now=now, unit_key=unit) if unit else None
    if rec is not None and rec.best is not None:
        append_timeline(call=call, kind=K.RECOMMENDED, actor=actor, text=rec.best.reason, at=now)
        return
    why = rec.why_none() if rec else "no team"
    set_route(
        call=call,
        route=fallback,
        reasons=[{"code": f"{unit}_unavailable", "text": f"No team could go: {why}."}],
    )
    append_timeline(
        call=call,
        kind=K.FELL_BACK,
        actor=actor,
        text=f"No team could go: {why}. Route {route} -> {fallback}.",
        data={"from": route, "to": fallback},
        at=now,
    )

"""Intake: a call arrives (CAD EIDO, plain JSON, call-taker form) and is triaged,
stored, recommended a team or fallen back, and announced on the board.

The one entry point for new calls; it sits above calls and teams and joins them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
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
from heart.domain.dispatch import Recommendation, route_refusal
from heart.domain.program import Program
from heart.domain.triage import CallInput, decide
from heart.errors import Conflict, Invalid, NotFound
from heart.events.bus import emit
from heart.intake.locate import locate
from heart.intake.models import CcdClaim, HeldCall
from heart.program_in_force import current_program
from heart.teams.models import Assignment
from heart.teams.selectors import recommendation_for

K = TimelineEvent.Kind
log = logging.getLogger(__name__)


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
    new_call: bool = False,
) -> Recommendation | None:
    """For a call routed to a field unit (a team, or a co-response clinician): record
    the recommendation (units of that kind only: the dispatch guard's rule), hold it, or
    fall back.

    When no unit can go, the program's ``[no_team_free]`` policy (the one the planning
    simulator reads) decides: ``fall_back`` walks the run card again with that unit
    unavailable (``decide(..., unavailable={unit: why})``), e.g. crt -> ccd -> standard,
    the new route and the shortfall reason going on the timeline; ``hold`` keeps the
    call on its route, unassigned, marked waiting until a deadline (a :class:`HeldCall`)
    when units are on shift but busy: :func:`check_held_calls` recommends the first unit
    that comes free, or falls back when the deadline passes. With no unit on shift a
    call never waits. Caller holds the transaction. With ``timeline`` the events are
    appended to that list (the caller bulk-inserts). ``new_call`` says the call was
    created in this transaction, so it cannot be held yet (saves intake a statement).
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
        unit = program.field_unit_for_route(call.route)
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
            _note_recommended(call=call, rec=rec, actor=actor, now=now, note=note)
            if not new_call:  # a CAD update found a team for a call that was waiting
                HeldCall.objects.filter(call=call).delete()
            return rec
        why = rec.why_none() if rec else "no team"
        if _hold(call=call, program=program, unit=unit, rec=rec, why=why, now=now, note=note):
            return rec
        unavailable[unit] = why
        _fall_back(call=call, program=program, unit=unit, rec=rec, why=why, unavailable=unavailable,
                   actor=actor, now=now, note=note)  # fmt: skip
    return rec


def _note_recommended(*, call: Call, rec: Recommendation, actor: Actor, now, note, pick=None):
    pick = pick or rec.best
    note(
        call=call,
        kind=K.RECOMMENDED,
        actor=actor,
        text=pick.reason,
        data={
            "picks": [{"team_id": p.team_id, "eta_minutes": p.eta_rounded} for p in rec.picks],
            "stale_position": pick.stale_position,
        },
        at=now,
    )


def _hold(*, call: Call, program: Program, unit: str, rec, why: str, now, note) -> bool:
    """Keep the call waiting for a team when the program says so and teams are busy."""
    policy = program.no_team_free
    minutes = policy.hold_for(route=call.route, priority=call.priority)
    busy = rec is not None and any(s.code == "busy" for s in rec.shortfalls)
    if minutes <= 0 or not busy:
        return False
    until = now + dt.timedelta(minutes=minutes)
    held, created = HeldCall.objects.get_or_create(
        call=call,
        defaults={
            "route": call.route,
            "unit": unit,
            "priority_rank": policy.queue_rank(call.priority),
            "held_at": now,
            "until": until,
        },
    )
    if created:  # a repeated CAD delivery keeps the first deadline
        local = held.until.astimezone(program.zone)
        note(
            call=call,
            kind=K.WAITING,
            actor=SYSTEM,
            text=(
                f"No {program.units[unit].label} free: {why}. Waiting for a team until "
                f"{local:%H:%M} (the program holds such calls up to {minutes:g} min), then "
                "falling back along the run card."
            ),
            data={"unit": unit, "until": held.until.isoformat(), "hold_minutes": minutes},
            at=now,
        )
    return True


def _fall_back(*, call, program, unit, rec, why, unavailable, actor, now, note) -> None:
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


@dataclass(frozen=True)
class HoldCheck:
    recommended: int = 0
    fell_back: int = 0
    released: int = 0  # assigned, closed or re-routed meanwhile: nothing left to wait for
    waiting: int = 0


def check_held_calls(
    *, now: dt.datetime | None = None, program: Program | None = None, actor: Actor = SYSTEM
) -> HoldCheck:
    """The scheduled check of waiting calls, in queue order (priority, then arrival).

    A waiting call gets the first free team not already given to a call before it in
    this round (timeline "recommended"; the dispatcher assigns); a call whose deadline
    has passed with no team falls back along the run card; a call assigned, closed or
    re-routed meanwhile stops waiting. Each call in its own transaction with its hold
    row locked, so two checkers never handle the same call. A plain function: the
    in-process checker (:func:`start_hold_checker`, run by ``heart serve``), the
    management command ``heart manage check_held_calls`` or any job runner can call it.
    """
    program = program or current_program()
    now = now or timezone.now()
    counts = {"recommended": 0, "fell_back": 0, "released": 0, "waiting": 0}
    given: set[str] = set()  # teams recommended earlier in this round
    for pk in list(
        HeldCall.objects.order_by("priority_rank", "held_at", "id").values_list("pk", flat=True)
    ):
        with transaction.atomic():
            held = (
                HeldCall.objects.select_for_update(skip_locked=True)
                .filter(pk=pk)
                .select_related("call")
                .first()
            )
            if held is None:
                continue
            call = Call.objects.select_for_update().get(pk=held.call_id)
            assigned = Assignment.objects.filter(call=call, active=True).exists()
            if call.state != Call.State.OPEN or call.route != held.route or assigned:
                held.delete()
                counts["released"] += 1
                continue
            rec = recommendation_for(call=call, program=program, now=now, unit_key=held.unit)
            pick = next((p for p in (rec.picks if rec else ()) if p.unit_id not in given), None)
            if pick is not None:
                given.add(pick.unit_id)
                _note_recommended(
                    call=call, rec=rec, actor=actor, now=now, note=append_timeline, pick=pick
                )
                held.delete()
                counts["recommended"] += 1
                _announce(call=call, actor=actor, now=now, pick=pick)
                continue
            if now < held.until:
                counts["waiting"] += 1
                continue
            waited = (now - held.held_at).total_seconds() / 60
            why = (rec.why_none() if rec else "no team") + f" (waited {waited:.0f} min)"
            held.delete()
            _fall_back(call=call, program=program, unit=held.unit, rec=rec, why=why,
                       unavailable={held.unit: why}, actor=actor, now=now, note=append_timeline)  # fmt: skip
            if program.field_unit_for_route(call.route) is not None:
                recommend_or_fall_back(call=call, program=program, actor=actor, now=now)
            counts["fell_back"] += 1
            _announce(call=call, actor=actor, now=now, pick=None)
    return HoldCheck(**counts)


def _announce(*, call: Call, actor: Actor, now: dt.datetime, pick) -> None:
    emit(
        "call.updated",
        {
            "call_id": call.pk,
            "route": call.route,
            "priority": call.priority,
            "nature": call.nature,
            "lon": call.lon,
            "lat": call.lat,
            "received_at": call.received_at.isoformat(),
            "recommended": pick.as_dict() if pick else None,
        },
        actor=actor,
        call_id=call.pk,
        at=now,
    )


def start_hold_checker(every_seconds: float) -> threading.Thread | None:
    """A daemon thread running :func:`check_held_calls` (one per server process; the
    row locks keep two processes from handling the same call)."""
    if every_seconds <= 0:
        return None

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(every_seconds):
            try:
                if HeldCall.objects.exists():
                    check_held_calls()
            except Exception as exc:  # e.g. the database is restarting: next round
                log.warning("hold checker: %s", type(exc).__name__)
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="heart-hold-checker", daemon=True)
    thread.start()
    return thread


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
    callback: str = "",
    location_reasons: tuple[dict, ...] = (),
    geocode: bool = True,
) -> IntakeResult:
    """Triage, store, recommend or fall back, announce.

    A call with an address and no coordinates is looked up in the configured geocoder
    first (heart.intake.locate: within a time limit, before any lock is taken); the
    point's origin (source, score), or why there is none, is stored as a reason after
    the triage reasons. ``location_reasons`` are the caller's own (the call-taker form
    says which match or map click placed the point); ``geocode=False`` skips the lookup.

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
    problem = text_problem(callback)
    if problem:
        raise Invalid(f"callback: {problem}", path="callback")
    call = replace(call, type_text=incident_type_text or call.type_text)  # read by triage
    location_reasons = tuple(location_reasons)
    if geocode and call.lon is None and address:
        found = locate(address)
        if found is not None:
            location_reasons += (found.reason,)
            if found.lon is not None:
                call = replace(call, lon=found.lon, lat=found.lat)
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
            callback=callback[:40],
            location_reasons=location_reasons,
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
    callback: str = "",
    location_reasons: tuple[dict, ...] = (),
) -> IntakeResult:
    with transaction.atomic():
        recorded = record_call(
            callback=callback,
            location_reasons=location_reasons,
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
                    program=program,
                )
        elif stored.state == Call.State.OPEN:
            rec = recommend_or_fall_back(
                call=stored,
                program=program,
                actor=actor,
                now=now,
                timeline=timeline,
                new_call=created,
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
                "waiting_until": _waiting_until(stored, program),
            },
            actor=actor,
            call_id=stored.pk,
            at=now,
        )
    return IntakeResult(stored, created, rec)


def _waiting_until(call: Call, program: Program) -> str | None:
    """The deadline of a call held for a team (only a program that holds has any)."""
    if program.no_team_free.action != "hold":
        return None  # no query on the hot path of a program that falls back at once
    held = HeldCall.objects.filter(call=call).values_list("until", flat=True).first()
    return held.isoformat() if held else None


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


def _warn_rerouted(
    *, call: Call, team, previous_route: str, actor: Actor, now, timeline, program: Program
) -> None:
    """A CAD update changed the route of a call a team is already on (e.g. a weapon is
    now reported): the team may be driving into a call it should not take. Say so on the
    timeline and raise an alarm on the board and on the team's phone. When the team's
    unit does not serve the new route the dispatch guard's rule applies to keeping it
    there: the dispatcher releases or reassigns it, or records an override reason
    (heart.teams.services.release_team / keep_team_on_call)."""
    reasons = "; ".join(r["text"] for r in call.reasons)
    refusal = route_refusal(program, unit_key=team.unit_key, route=call.route)
    decide_words = (
        f" -- {team.name} does not serve {call.route}: release it, or keep it with an override "
        "reason."
        if refusal
        else ""
    )
    timeline.append(
        TimelineEvent(
            **timeline_fields(
                call=call,
                kind=K.REROUTED,
                actor=actor,
                team=team,
                text=(
                    f"Re-triaged from {previous_route} to {call.route} while {team.name} is "
                    f"assigned: {reasons}{decide_words}"
                ),
                data={
                    "from": previous_route,
                    "to": call.route,
                    "team_id": team.pk,
                    "needs_decision": refusal is not None,
                    "refusal": refusal.code if refusal else None,
                },
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
            "needs_decision": refusal is not None,
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
        done = CcdOutcome.objects.filter(call=c).first()
        if done is not None:
            raise Conflict(f"call: {_closed_words(c, done, program)}", path="call_id")
        if c.state != Call.State.OPEN:
            raise Conflict(f"call: {_closed_words(c, None, program)}", path="call_id")
        if c.route != Call.Route.CCD:
            raise Conflict(f"call: call {c.pk} is routed {c.route}, not ccd", path="call_id")
        claim = CcdClaim.objects.filter(call=c).first()
        if claim is not None and claim.clinician_id != getattr(actor.user, "pk", None):
            raise Conflict(f"call: {_claimed_words(claim, program)}", path="call_id")
        o = CcdOutcome.objects.create(
            call=c, outcome=outcome, notes=notes, clinician=actor.user, recorded_at=now
        )
        label = CcdOutcome.Outcome(outcome).label
        CcdClaim.objects.filter(call=c).delete()  # the outcome ends the claim
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


# ------------------------------------------------------------------ crisis-line claims


def _local(at: dt.datetime, program: Program) -> str:
    return f"{at.astimezone(program.zone):%H:%M}"


def _claimed_words(claim: CcdClaim, program: Program) -> str:
    return (
        f"call {claim.call_id} is taken by {claim.clinician_label} since "
        f"{_local(claim.claimed_at, program)}; they release it or record its outcome"
    )


def _closed_words(call: Call, done: CcdOutcome | None, program: Program) -> str:
    """Who closed the call, when and how (not just "closed")."""
    if done is not None:
        who = done.clinician.get_username() if done.clinician else "a clinician"
        return (
            f"call {call.pk} already has an outcome: {done.get_outcome_display()}, "
            f"recorded by {who} at {_local(done.recorded_at, program)}"
        )
    line = TimelineEvent.objects.filter(call=call, kind=K.CLOSED).order_by("-at", "-id").first()
    if line is not None:
        return (
            f"call {call.pk} was closed by {line.actor_label} at {_local(line.at, program)} "
            f"({line.text})"
        )
    at = _local(call.closed_at, program) if call.closed_at else "an unknown time"
    return f"call {call.pk} was closed at {at}"


def claim_ccd_call(
    *, call_id: int, actor: Actor, program: Program | None = None, now: dt.datetime | None = None
) -> CcdClaim:
    """A clinician takes a waiting crisis-line call (one at a time). Taking it again is a
    no-op (the same claim); a call another clinician holds is refused (Conflict: who,
    since when). The call's row is locked first, so of two clinicians racing, one wins
    and the other hears who; the one-claim-per-call constraint backs it up."""
    program = program or current_program()
    now = now or timezone.now()
    user_id = getattr(actor.user, "pk", None)
    if user_id is None:
        raise Invalid("clinician: a claim is made by a signed-in person", path="clinician")
    with transaction.atomic():
        c = Call.objects.select_for_update().filter(pk=call_id).first()
        if c is None:
            raise NotFound(f"call: no call {call_id}", path="call_id")
        done = CcdOutcome.objects.filter(call=c).first()
        if done is not None or c.state != Call.State.OPEN:
            raise Conflict(f"call: {_closed_words(c, done, program)}", path="call_id")
        if c.route != Call.Route.CCD:
            raise Conflict(
                f"call: call {c.pk} is routed {c.get_route_display().lower()}, not to the "
                "crisis line",
                path="call_id",
            )
        claim = CcdClaim.objects.filter(call=c).first()
        if claim is not None:
            if claim.clinician_id == user_id:
                return claim
            raise Conflict(f"call: {_claimed_words(claim, program)}", path="call_id")
        try:
            with transaction.atomic():
                claim = CcdClaim.objects.create(
                    call=c,
                    clinician=actor.user,
                    clinician_label=actor.user.get_username()[:150],
                    claimed_at=now,
                )
        except IntegrityError:  # a racer got in without the row lock (SQLite): say who
            claim = CcdClaim.objects.get(call=c)
            raise Conflict(f"call: {_claimed_words(claim, program)}", path="call_id") from None
        append_timeline(
            call=c,
            kind=K.CCD_CLAIMED,
            actor=actor,
            text=f"Taken by {claim.clinician_label}",
            at=now,
        )
        emit(
            "ccd.claimed",
            {"call_id": c.pk, "at": now.isoformat()},
            actor=actor,
            call_id=c.pk,
            at=now,
        )
    return claim


def release_ccd_call(
    *, call_id: int, actor: Actor, program: Program | None = None, now: dt.datetime | None = None
) -> None:
    """The clinician gives a call back to the queue (only the one who holds it; releasing
    a call nobody holds is a no-op)."""
    program = program or current_program()
    now = now or timezone.now()
    with transaction.atomic():
        c = Call.objects.select_for_update().filter(pk=call_id).first()
        if c is None:
            raise NotFound(f"call: no call {call_id}", path="call_id")
        claim = CcdClaim.objects.filter(call=c).first()
        if claim is None:
            return
        if claim.clinician_id != getattr(actor.user, "pk", None):
            raise Conflict(f"call: {_claimed_words(claim, program)}", path="call_id")
        claim.delete()
        append_timeline(
            call=c,
            kind=K.CCD_RELEASED,
            actor=actor,
            text=f"Released by {actor.user.get_username()}",
            at=now,
        )
        emit(
            "ccd.released",
            {"call_id": c.pk, "at": now.isoformat()},
            actor=actor,
            call_id=c.pk,
            at=now,
        )

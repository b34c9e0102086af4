"""Writes for calls: every call is triaged on arrival and stored with its decision."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.calls.models import Call, TimelineEvent
from heart.domain.program import Program
from heart.domain.triage import CallInput, Decision, decide


def _fields(call: CallInput, decision: Decision, program: Program, **extra) -> dict:
    return {
        **extra,
        "received_at": call.received_at,
        "nature": call.nature or "",
        "priority": call.priority or "",
        "beat": call.beat or "",
        "lon": call.lon,
        "lat": call.lat,
        "narrative": call.narrative or "",
        "weapon_flag": call.weapon_flag,
        "violence_flag": call.violence_flag,
        "route": decision.route,
        "reasons": [{"code": r.code, "text": r.text} for r in decision.reasons],
        "rules_version": decision.rules_version,
        "program": program.name,
    }


@dataclass(frozen=True, slots=True)
class Recorded:
    """What :func:`record_call` did with a delivery."""

    call: Call
    created: bool
    unchanged: bool = False  # an older delivery than the stored one: nothing was written


def record_call(
    *,
    call: CallInput,
    program: Program,
    cad_incident_id: str | None = None,
    source: str = "cad",
    address: str = "",
    incident_type_text: str = "",
    source_updated_at: dt.datetime | None = None,
) -> Recorded:
    """Triage and store a call; a repeated CAD id updates the same call.

    A delivery whose ``source_updated_at`` is older than the stored one is out of
    order: the stored call is returned, ``unchanged``.
    """
    decision = decide(program, call)
    fields = _fields(
        call,
        decision,
        program,
        address=address or "",
        incident_type_text=incident_type_text or "",
        source_updated_at=source_updated_at,
    )
    if cad_incident_id is None:
        with transaction.atomic():
            return Recorded(Call.objects.create(source=source, **fields), created=True)
    if connection.vendor == "postgresql":
        return _upsert_postgresql(cad_incident_id, source, fields)
    try:
        with transaction.atomic():
            existing = (
                Call.objects.select_for_update().filter(cad_incident_id=cad_incident_id).first()
            )
            if existing is None:
                created = Call.objects.create(
                    cad_incident_id=cad_incident_id, source=source, **fields
                )
                return Recorded(created, created=True)
            if (
                source_updated_at is not None
                and existing.source_updated_at is not None
                and source_updated_at < existing.source_updated_at
            ):
                return Recorded(existing, created=False, unchanged=True)
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            return Recorded(existing, created=False)
    except IntegrityError:
        # a concurrent delivery of the same incident won the insert: update theirs
        with transaction.atomic():
            obj = Call.objects.select_for_update().get(cad_incident_id=cad_incident_id)
            for key, value in fields.items():
                setattr(obj, key, value)
            obj.save()
            return Recorded(obj, created=False)


_UPSERT_COLUMNS = (
    "received_at",
    "nature",
    "priority",
    "beat",
    "lon",
    "lat",
    "narrative",
    "weapon_flag",
    "violence_flag",
    "route",
    "reasons",
    "rules_version",
    "program",
    "address",
    "incident_type_text",
    "source_updated_at",
    "source",
)


def _upsert_postgresql(cad_incident_id: str, source: str, fields: dict) -> Recorded:
    """One round trip: INSERT … ON CONFLICT DO UPDATE unless the delivery is older.

    Same semantics as the ORM path below (which other databases use).
    """
    now = timezone.now()
    values = {**fields, "source": source}
    cols = ", ".join(_UPSERT_COLUMNS)
    marks = ", ".join("%s::jsonb" if c == "reasons" else "%s" for c in _UPSERT_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPSERT_COLUMNS)
    params = [json.dumps(values[c]) if c == "reasons" else values[c] for c in _UPSERT_COLUMNS]
    sql = (
        f"INSERT INTO calls_call (cad_incident_id, state, created_at, updated_at, {cols}) "
        f"VALUES (%s, 'open', %s, %s, {marks}) "
        f"ON CONFLICT (cad_incident_id) DO UPDATE SET updated_at = EXCLUDED.updated_at, {updates} "
        "WHERE calls_call.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL "
        "OR EXCLUDED.source_updated_at >= calls_call.source_updated_at "
        "RETURNING id, (xmax = 0), state, created_at, parent_id, closed_at"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [cad_incident_id, now, now, *params])
        row = cur.fetchone()
    if row is None:  # an out-of-order (older) delivery
        return Recorded(Call.objects.get(cad_incident_id=cad_incident_id), False, unchanged=True)
    pk, inserted, state, created_at, parent_id, closed_at = row
    obj = Call(
        pk=pk,
        cad_incident_id=cad_incident_id,
        state=state,
        created_at=created_at,
        updated_at=now,
        parent_id=parent_id,
        closed_at=closed_at,
        **values,
    )
    obj._state.adding = False
    obj._state.db = connection.alias
    return Recorded(obj, created=bool(inserted))


def append_timeline(**line) -> TimelineEvent:
    """Append one line to a call's timeline (services only; never edited afterwards).
    Takes the keyword arguments of :func:`timeline_fields`."""
    return TimelineEvent.objects.create(**timeline_fields(**line))


def timeline_fields(
    *,
    call: Call,
    kind: str,
    actor: Actor,
    text: str,
    team=None,
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> dict:
    """The fields of one timeline line: who, when, what (text cut to 500 characters)."""
    return dict(
        call=call,
        kind=kind,
        at=at or timezone.now(),
        actor=actor.user,
        actor_label=actor.label,
        team=team,
        text=text[:500],
        data=data or {},
    )


def call_input_from(call: Call) -> CallInput:
    """The triage input of a stored call (re-triage, fallback)."""
    return CallInput(
        received_at=call.received_at,
        nature=call.nature or None,
        id=str(call.pk),
        priority=call.priority or None,
        lon=call.lon,
        lat=call.lat,
        beat=call.beat or None,
        narrative=call.narrative or None,
        weapon_flag=call.weapon_flag,
        violence_flag=call.violence_flag,
        type_text=call.incident_type_text or None,
    )


def set_route(
    *,
    call: Call,
    decision: Decision | None = None,
    route: str = "",
    reasons: list[dict] | None = None,
) -> Call:
    """Store a new route on a call (fallback, crisis-line outcome). Caller holds the transaction."""
    if decision is not None:
        call.route = decision.route
        call.reasons = [{"code": r.code, "text": r.text} for r in decision.reasons]
        call.rules_version = decision.rules_version
    else:
        call.route = route
        call.reasons = list(call.reasons) + list(reasons or [])
    call.save(update_fields=["route", "reasons", "rules_version", "updated_at"])
    return call


def close_call(*, call: Call, actor: Actor, text: str, at: dt.datetime | None = None) -> Call:
    at = at or timezone.now()
    call.state = Call.State.CLOSED
    call.closed_at = at
    call.save(update_fields=["state", "closed_at", "updated_at"])
    append_timeline(call=call, kind=TimelineEvent.Kind.CLOSED, actor=actor, text=text, at=at)
    return call

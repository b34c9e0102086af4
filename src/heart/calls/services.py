"""Writes for calls: every call is triaged on arrival and stored with its decision."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.calls.models import Call, TimelineEvent
from heart.calls.validation import text_problem
from heart.db import execute
from heart.domain.program import Program
from heart.domain.triage import CallInput, Decision, decide
from heart.errors import Conflict, Invalid, NotFound
from heart.events.bus import emit

# reasons that say where a call's point came from (heart.intake.locate), not why it
# took its route: a new triage decision keeps them
LOCATION_REASONS = frozenset(
    {"location_geocoded", "location_from_map", "location_not_found", "geocoder_unavailable"}
)


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
    previous_route: str | None = None  # the route before this update (None: a new call)


def record_call(
    *,
    call: CallInput,
    program: Program,
    cad_incident_id: str | None = None,
    source_key: str = "system",
    source: str = "cad",
    address: str = "",
    incident_type_text: str = "",
    source_updated_at: dt.datetime | None = None,
    call_id: int | None = None,
    callback: str = "",
    location_reasons: list[dict] | tuple = (),
) -> Recorded:
    """Triage and store a call; a repeated CAD id *of the same source* updates it.

    The idempotency key is ``(source_key, cad_incident_id)``: another source's id is
    a new call, never an update. ``call_id`` updates that stored call instead (its
    owner's correction, or a holder of ``update_any_call``: the caller checks who may).

    Versions: a delivery whose ``source_updated_at`` is older than the stored one is
    out of order (the stored call is returned, ``unchanged``); once a call has a
    version, an update without one is refused (:class:`~heart.errors.Conflict` at
    ``updated_at``), so a versionless delivery never overwrites a newer version.

    ``location_reasons`` (code + sentence) say where the point came from when intake
    looked the address up (the geocoder's source and score, or why it could not): they
    follow the triage reasons.
    """
    decision = decide(program, call)
    fields = _fields(
        call,
        decision,
        program,
        address=address or "",
        incident_type_text=incident_type_text or "",
        source_updated_at=source_updated_at,
        callback=callback or "",
    )
    if location_reasons:
        fields["reasons"] = fields["reasons"] + [dict(r) for r in location_reasons]
    if call_id is not None:
        return _update_stored(Call.objects.filter(pk=call_id), fields, source_updated_at)
    if cad_incident_id is None:
        with transaction.atomic():
            created = Call.objects.create(source=source, source_key=source_key, **fields)
            return Recorded(created, created=True)
    if connection.vendor == "postgresql":
        return _upsert_postgresql(cad_incident_id, source_key, source, fields)
    key = {"source_key": source_key, "cad_incident_id": cad_incident_id}
    for _ in range(2):
        try:
            with transaction.atomic():
                if not Call.objects.filter(**key).exists():
                    with transaction.atomic():
                        return Recorded(
                            Call.objects.create(**key, source=source, **fields), created=True
                        )
                return _update_stored(
                    Call.objects.filter(**key), {**fields, "source": source}, source_updated_at
                )
        except IntegrityError:
            continue  # a concurrent delivery of the same incident won the insert: update it
    raise Conflict(  # pragma: no cover - two lost races in a row
        f"cad_incident_id: {cad_incident_id} is being delivered concurrently; retry",
        path="cad_incident_id",
    )


def _version_refused(stored: Call) -> Conflict:
    return Conflict(
        f"updated_at: call {stored.pk} has version {stored.source_updated_at.isoformat()}; "
        "an update must carry its own version (updated_at, or lastUpdateTimeStamp in EIDO)",
        path="updated_at",
    )


def _update_stored(rows, fields: dict, source_updated_at: dt.datetime | None) -> Recorded:
    """Update the stored call (locked) unless the delivery is older or versionless."""
    with transaction.atomic():
        existing = rows.select_for_update().first()
        if existing is None:
            raise NotFound("call: no such call", path="call_id")
        if existing.source_updated_at is not None:
            if source_updated_at is None:
                raise _version_refused(existing)
            if source_updated_at < existing.source_updated_at:
                return Recorded(existing, created=False, unchanged=True)
        previous_route = existing.route
        for key, value in fields.items():
            setattr(existing, key, value)
        existing.save()
        return Recorded(existing, created=False, previous_route=previous_route)


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
    "callback",
)
_COLS = ", ".join(_UPSERT_COLUMNS)
_MARKS = ", ".join("%s::jsonb" if c == "reasons" else "%s" for c in _UPSERT_COLUMNS)
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPSERT_COLUMNS)
# One statement, one round trip. The update applies unless the stored call has a version
# and the delivery is older or has none. RETURNING's sub-select reads the row as it was
# before this statement (the statement's snapshot): the route before the update.
_UPSERT_SQL = (
    f"INSERT INTO calls_call (source_key, cad_incident_id, state, created_at, updated_at, "
    f"{_COLS}) VALUES (%s, %s, 'open', %s, %s, {_MARKS}) "
    "ON CONFLICT (source_key, cad_incident_id) DO UPDATE SET "
    f"updated_at = EXCLUDED.updated_at, {_UPDATES} "
    "WHERE calls_call.source_updated_at IS NULL OR (EXCLUDED.source_updated_at IS NOT NULL "
    "AND EXCLUDED.source_updated_at >= calls_call.source_updated_at) "
    "RETURNING id, (xmax = 0), state, created_at, parent_id, closed_at, "
    "(SELECT old.route FROM calls_call old WHERE old.id = calls_call.id)"
)


def _upsert_postgresql(
    cad_incident_id: str, source_key: str, source: str, fields: dict
) -> Recorded:
    """INSERT … ON CONFLICT (source_key, cad_incident_id) DO UPDATE … WHERE, one round
    trip; same semantics as the ORM path (which other databases use)."""
    now = timezone.now()
    values = {**fields, "source": source}
    params = [json.dumps(values[c]) if c == "reasons" else values[c] for c in _UPSERT_COLUMNS]
    row = execute(_UPSERT_SQL, [source_key, cad_incident_id, now, now, *params])
    if row is None:  # refused by the WHERE: an older delivery, or a versionless one
        stored = Call.objects.get(source_key=source_key, cad_incident_id=cad_incident_id)
        if stored.source_updated_at is not None and fields["source_updated_at"] is None:
            raise _version_refused(stored)
        return Recorded(stored, created=False, unchanged=True)
    pk, inserted, state, created_at, parent_id, closed_at, previous_route = row
    obj = Call(
        pk=pk,
        source_key=source_key,
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
    return Recorded(
        obj, created=bool(inserted), previous_route=None if inserted else previous_route
    )


def insert_timeline(lines: list[TimelineEvent]) -> None:
    """Append several timeline lines in one statement (the intake's arrival lines).

    On PostgreSQL a plain multi-row INSERT: Django's bulk_create there sends every
    column as an array through UNNEST, which cost intake more CPU than the rest of its
    writes together (bench/LIVE.md). Other databases use bulk_create.
    """
    if not lines:
        return
    if connection.vendor != "postgresql":
        TimelineEvent.objects.bulk_create(lines)
        return
    row = "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
    params: list = []
    for t in lines:
        params += [
            t.call_id,
            t.kind,
            t.at,
            t.actor_id,
            t.actor_label,
            t.team_id,
            t.text,
            json.dumps(t.data, separators=(",", ":")),
        ]
    execute(
        "INSERT INTO calls_timelineevent "
        "(call_id, kind, at, actor_id, actor_label, team_id, text, data) VALUES "
        + ", ".join([row] * len(lines)),
        params,
        fetch=False,
    )


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
    """Store a new route on a call (fallback, crisis-line outcome). Caller holds the
    transaction. A new decision replaces the triage reasons but keeps where the point
    came from (the location reasons intake stored: geocoder, map)."""
    if decision is not None:
        call.route = decision.route
        kept = [r for r in call.reasons if r.get("code") in LOCATION_REASONS]
        call.reasons = [{"code": r.code, "text": r.text} for r in decision.reasons] + kept
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


def add_note(
    *, call: Call, actor: Actor, text: str, at: dt.datetime | None = None
) -> TimelineEvent:
    """A dispatcher's note on an open call's timeline (never edited afterwards)."""
    text = (text or "").strip()
    if not text:
        raise Invalid("text: write the note", path="text")
    if len(text) > 500 or text_problem(text):
        raise Invalid("text: at most 500 characters of text", path="text")
    at = at or timezone.now()
    with transaction.atomic():
        c = Call.objects.select_for_update().filter(pk=call.pk).first()
        if c is None:
            raise NotFound(f"call: no call {call.pk}", path="call_id")
        if c.state != Call.State.OPEN:
            raise Conflict(f"call: call {c.pk} is closed", path="call_id")
        line = append_timeline(call=c, kind=TimelineEvent.Kind.NOTE, actor=actor, text=text, at=at)
        emit("call.note", {"call_id": c.pk, "at": at.isoformat()}, actor=actor, call_id=c.pk, at=at)
    return line

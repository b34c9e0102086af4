"""Writes for teams. Statuses have one door: :func:`change_status` (a team's own moves)
and :func:`assign_team` (the only way into "dispatched") both go through
:func:`_write_status`, the one function that writes a status.

Every status change: checks the transition table (heart.domain.dispatch), appends to
the call's timeline with who and when, writes an audit row and emits ``team.status``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import Discipline
from heart.accounts.services import audit
from heart.calls.models import Call, Disposition, TimelineEvent
from heart.calls.services import append_timeline, close_call
from heart.domain.dispatch import BUSY, TransitionError, UnitState, check_transition
from heart.domain.geo import valid_lon_lat
from heart.domain.program import Program
from heart.errors import Conflict, Invalid, NotFound
from heart.events.bus import emit
from heart.live.broadcast import publish_on_commit
from heart.teams.models import (
    Assignment,
    CoResponse,
    ExternalUnit,
    Position,
    Shift,
    ShiftMember,
    Team,
    status_writer,
)
from heart.teams.selectors import invalidate_roster, invalidate_snapshots, staffing_on_shift

S = UnitState
K = TimelineEvent.Kind

_KIND_FOR_STATUS = {
    S.DISPATCHED: K.DISPATCHED,
    S.EN_ROUTE: K.EN_ROUTE,
    S.ON_SCENE: K.ON_SCENE,
    S.TRANSPORTING: K.TRANSPORTING,
    S.CLEARING: K.CLEARING,
    S.OUT_OF_SERVICE: K.OUT_OF_SERVICE,
}


def _timeline_kind(old: UnitState, new: UnitState) -> str:
    if new is S.AVAILABLE:
        return K.CLEARED if old is S.CLEARING else K.UNASSIGNED
    return _KIND_FOR_STATUS[new]


def create_team(*, name: str, actor: Actor = SYSTEM, unit_key: str = "crt") -> Team:
    name = name.strip()
    if not name:
        raise Invalid("name: must not be empty", path="name")
    if Team.objects.filter(name=name).exists():
        raise Conflict(f"name: a team called {name!r} exists", path="name")
    with transaction.atomic():
        team = Team.objects.create(name=name, unit_key=unit_key)
        audit(actor=actor, action="team.create", obj=team, data={"unit_key": unit_key})
    return team


def start_shift(
    *,
    team: Team,
    members: Iterable[tuple[object, str]],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: Actor = SYSTEM,
) -> Shift:
    """A shift with its members as (user, discipline) pairs."""
    if ends_at <= starts_at:
        raise Invalid("ends_at: must be after starts_at", path="ends_at")
    members = list(members)
    for i, (_, discipline) in enumerate(members):
        if discipline not in Discipline.values:
            raise Invalid(
                f"members[{i}].discipline: unknown {discipline!r} (one of {Discipline.values})",
                path=f"members[{i}].discipline",
            )
    with transaction.atomic():
        shift = Shift.objects.create(team=team, starts_at=starts_at, ends_at=ends_at)
        ShiftMember.objects.bulk_create(
            [ShiftMember(shift=shift, user=u, discipline=d) for u, d in members]
        )
        transaction.on_commit(invalidate_roster)
        transaction.on_commit(invalidate_snapshots)
        invalidate_roster()
        audit(
            actor=actor,
            action="shift.create",
            obj=shift,
            data={"team": team.pk, "disciplines": sorted(d for _, d in members)},
        )
    return shift


def change_status(
    *, team: Team, status: str, actor: Actor, note: str = "", now: dt.datetime | None = None
) -> Team:
    """A team's status change along the transition table (Conflict when it forbids it).

    "dispatched" is refused here: a team is dispatched only by a dispatcher's
    assignment (:func:`assign_team`), which checks the call and the team first.
    """
    if status == S.DISPATCHED:
        raise Invalid(
            "status: a team is dispatched only by assigning it to a call "
            "(POST /api/calls/{id}/assign)",
            path="status",
        )
    return _write_status(team=team, status=status, actor=actor, note=note, now=now)


def _write_status(
    *,
    team: Team,
    status: str,
    actor: Actor,
    call: Call | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Team:
    """THE status write path (change_status and assign_team only)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        old = UnitState(locked.status)
        try:
            new = check_transition(old.value, status)
        except TransitionError as exc:
            raise Conflict(f"{exc} ({locked.name})", path="status") from None
        if new is S.DISPATCHED and call is None:
            raise Invalid("call: dispatching needs a call", path="call")
        on_call = call or locked.current_call
        with status_writer():
            locked.status = new.value
            locked.status_changed_at = now
            fields = ["status", "status_changed_at"]
            if new is S.DISPATCHED:
                locked.current_call = call
                fields.append("current_call")
            elif new in (S.AVAILABLE, S.OUT_OF_SERVICE):
                locked.current_call = None
                fields.append("current_call")
            locked.save(update_fields=fields)
        if new in (S.AVAILABLE, S.OUT_OF_SERVICE):
            Assignment.objects.filter(team=locked, active=True).update(active=False, ended_at=now)
        data = {"from": old.value, "to": new.value}
        if on_call is not None:
            text = f"{locked.name}: {old.value.replace('_', ' ')} -> {new.value.replace('_', ' ')}"
            append_timeline(
                call=on_call,
                kind=_timeline_kind(old, new),
                actor=actor,
                text=text + (f" ({note})" if note else ""),
                team=locked,
                data=data,
                at=now,
            )
        transaction.on_commit(invalidate_snapshots)
        audit(
            actor=actor,
            action="team.status",
            obj=locked,
            data={**data, "call": on_call.pk if on_call else None},
            at=now,
        )
        emit(
            "team.status",
            {
                "team_id": locked.pk,
                "status": new.value,
                "previous": old.value,
                "call_id": on_call.pk if on_call else None,
                "at": now.isoformat(),
            },
            actor=actor,
            call_id=on_call.pk if on_call else None,
            at=now,
        )
    team.status, team.status_changed_at, team.current_call_id = (
        locked.status,
        locked.status_changed_at,
        locked.current_call_id,
    )
    team._loaded_status = locked.status
    return locked


def _dispatchable_problem(team: Team, program: Program, now: dt.datetime) -> str | None:
    unit = program.units.get(team.unit_key)
    staffing = staffing_on_shift(now=now, team_ids=[team.pk])
    if team.pk not in staffing:
        return f"{team.name} is not on shift"
    required = frozenset(unit.disciplines) if unit else frozenset()
    missing = required - staffing[team.pk]
    if missing:
        return f"{team.name} lacks {', '.join(sorted(missing))} on shift"
    return None


def assign_team(
    *, call: Call, team: Team, actor: Actor, program: Program, now: dt.datetime | None = None
) -> Assignment:
    """Commit an available, staffed, on-shift team to an open, unassigned call.

    Two dispatchers at once: the call row, then the team row, are locked in that
    order; the second one sees the first one's result and gets :class:`Conflict`.
    Partial unique indexes (one active assignment per call / per team) back this up.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            c = Call.objects.select_for_update().filter(pk=call.pk).first()
            if c is None:
                raise NotFound(f"call: no call {call.pk}", path="call_id")
            if c.state != Call.State.OPEN:
                raise Conflict(f"call: call {c.pk} is closed", path="call_id")
            taken = Assignment.objects.filter(call=c, active=True).select_related("team").first()
            if taken is not None:
                raise Conflict(
                    f"call: call {c.pk} was already assigned to {taken.team.name} "
                    f"by {taken.assigned_by_label}",
                    path="call_id",
                )
            t = Team.objects.select_for_update().filter(pk=team.pk).first()
            if t is None:
                raise NotFound(f"team: no team {team.pk}", path="team_id")
            if t.status != S.AVAILABLE:
                busy = f" on call {t.current_call_id}" if t.current_call_id else ""
                raise Conflict(
                    f"team: {t.name} is {t.status.replace('_', ' ')}{busy}, not available",
                    path="team_id",
                )
            problem = _dispatchable_problem(t, program, now)
            if problem:
                raise Conflict(f"team: {problem}", path="team_id")
            assignment = Assignment.objects.create(
                call=c, team=t, assigned_at=now, assigned_by_label=actor.label
            )
            _write_status(team=t, status=S.DISPATCHED, actor=actor, call=c, now=now)
            emit(
                "assignment.created",
                {"call_id": c.pk, "team_id": t.pk, "at": now.isoformat()},
                actor=actor,
                call_id=c.pk,
                at=now,
            )
    except IntegrityError:
        raise Conflict(
            "assignment: another dispatcher assigned this call or team at the same moment",
            path="call_id",
        ) from None
    return assignment


def request_backup(
    *, team: Team, actor: Actor, note: str = "", now: dt.datetime | None = None
) -> Call:
    """A linked standard police request at top priority; alarms the board."""
    now = now or timezone.now()
    with transaction.atomic():
        t = Team.objects.select_for_update().get(pk=team.pk)
        if UnitState(t.status) not in BUSY or t.current_call_id is None:
            raise Conflict(f"team: {t.name} is not on a call", path="team_id")
        parent = Call.objects.select_for_update().get(pk=t.current_call_id)
        fresh = (
            valid_lon_lat(t.lon, t.lat)
            and t.position_at is not None
            and now - t.position_at <= dt.timedelta(seconds=settings.HEART_GPS_STALE_SECONDS)
        )
        lon, lat = (t.lon, t.lat) if fresh else (parent.lon, parent.lat)
        text = f"Police backup requested by {t.name} on call {parent.pk}."
        backup = Call.objects.create(
            source="backup",
            parent=parent,
            received_at=now,
            nature=settings.HEART_BACKUP_NATURE,
            priority=settings.HEART_BACKUP_PRIORITY,
            beat=parent.beat,
            lon=lon,
            lat=lat,
            address=parent.address,
            narrative=(text + (" " + note if note else "")),
            route=Call.Route.STANDARD,
            reasons=[{"code": "backup_request", "text": text + " Standard police response."}],
            rules_version=parent.rules_version,
            program=parent.program,
        )
        append_timeline(
            call=parent,
            kind=K.BACKUP_REQUESTED,
            actor=actor,
            text=text,
            team=t,
            data={"backup_call_id": backup.pk},
            at=now,
        )
        append_timeline(call=backup, kind=K.RECEIVED, actor=actor, text=text, team=t, at=now)
        audit(
            actor=actor,
            action="backup.request",
            obj=backup,
            data={"parent": parent.pk, "team": t.pk},
            at=now,
        )
        emit(
            "backup.requested",
            {
                "alarm": True,
                "call_id": parent.pk,
                "backup_call_id": backup.pk,
                "team_id": t.pk,
                "priority": backup.priority,
                "lon": lon,
                "lat": lat,
                "at": now.isoformat(),
            },
            actor=actor,
            call_id=parent.pk,
            at=now,
        )
    return backup


@dataclass(frozen=True, slots=True)
class DispositionInput:
    outcome: str
    destination: str = ""
    referred_to: str = ""
    notes: str = ""
    consent_follow_up: bool = False
    contact_name: str = ""
    contact_phone: str = ""
    contact_notes: str = ""

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.outcome not in Disposition.Outcome.values:
            out.append(
                ("outcome", f"unknown {self.outcome!r} (one of {Disposition.Outcome.values})")
            )
        if self.outcome == Disposition.Outcome.TRANSPORTED and not self.destination.strip():
            out.append(("destination", "required when the person was transported to care"))
        if self.outcome == Disposition.Outcome.REFERRED and not self.referred_to.strip():
            out.append(("referred_to", "required when the person was referred"))
        if self.consent_follow_up and not (self.contact_phone.strip() or self.contact_name.strip()):
            out.append(("contact_phone", "a contact is required with consent to follow-up"))
        if not self.consent_follow_up and (self.contact_phone or self.contact_name):
            out.append(("consent_follow_up", "contact details are kept only with consent"))
        return out


def clear_call(
    *, team: Team, disposition: DispositionInput, actor: Actor, now: dt.datetime | None = None
) -> Disposition:
    """Record the disposition, move the team to available and close its call."""
    problems = disposition.problems()
    if problems:
        path, problem = problems[0]
        raise Invalid(f"{path}: {problem}", path=path)
    now = now or timezone.now()
    with transaction.atomic():
        t = Team.objects.select_for_update().get(pk=team.pk)
        if t.current_call_id is None:
            raise Conflict(f"team: {t.name} is not on a call", path="team_id")
        call = Call.objects.select_for_update().get(pk=t.current_call_id)
        if Disposition.objects.filter(call=call).exists():
            raise Conflict(f"call: call {call.pk} already has a disposition", path="call_id")
        if UnitState(t.status) in (S.ON_SCENE, S.TRANSPORTING):
            t = _write_status(team=t, status=S.CLEARING, actor=actor, now=now)
        elif t.status != S.CLEARING:
            raise Conflict(
                f"status: {t.name} is {t.status.replace('_', ' ')}; clear from on scene, "
                "transporting or clearing",
                path="status",
            )
        d = Disposition.objects.create(
            call=call,
            team=t,
            recorded_at=now,
            recorded_by_label=actor.label,
            **{
                f: getattr(disposition, f)
                for f in DispositionInput.__dataclass_fields__  # type: ignore[attr-defined]
            },
        )
        label = Disposition.Outcome(d.outcome).label
        extra = f" to {d.destination}" if d.destination else ""
        append_timeline(
            call=call,
            kind=K.DISPOSITION,
            actor=actor,
            text=f"{label}{extra}" + ("; consents to follow-up" if d.consent_follow_up else ""),
            team=t,
            data={"outcome": d.outcome, "consent_follow_up": d.consent_follow_up},
            at=now,
        )
        _write_status(team=t, status=S.AVAILABLE, actor=actor, call=call, now=now)
        close_call(call=call, actor=actor, text=f"Closed: {label}", at=now)
        audit(actor=actor, action="call.disposition", obj=call, data={"outcome": d.outcome}, at=now)
        emit(
            "call.closed",
            {
                "call_id": call.pk,
                "team_id": t.pk,
                "outcome": d.outcome,
                "disposition_id": d.pk,
                "at": now.isoformat(),
            },
            actor=actor,
            call_id=call.pk,
            at=now,
        )
    return d


@dataclass(frozen=True, slots=True)
class Fix:
    lon: float
    lat: float
    recorded_at: dt.datetime
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None


def record_positions(
    *,
    team: Team,
    fixes: Sequence[Fix],
    actor: Actor,
    device_user=None,
    now: dt.datetime | None = None,
) -> list[Position]:
    """Store a batch of GPS fixes, then (after commit) publish the latest one."""
    now = now or timezone.now()
    for i, f in enumerate(fixes):
        if not valid_lon_lat(f.lon, f.lat):
            raise Invalid(f"fixes[{i}]: lon/lat out of range", path=f"fixes[{i}]")
        if f.recorded_at.tzinfo is None:
            raise Invalid(
                f"fixes[{i}].recorded_at: a time zone is required", path=f"fixes[{i}].recorded_at"
            )
        if f.recorded_at - now > dt.timedelta(minutes=5):
            raise Invalid(f"fixes[{i}].recorded_at: in the future", path=f"fixes[{i}].recorded_at")
    if not fixes:
        return []
    latest = max(fixes, key=lambda f: f.recorded_at)
    with transaction.atomic():
        rows = Position.objects.bulk_create(
            [
                Position(
                    team=team,
                    device_user=device_user,
                    lon=f.lon,
                    lat=f.lat,
                    recorded_at=f.recorded_at,
                    received_at=now,
                    accuracy_m=f.accuracy_m,
                    speed_mps=f.speed_mps,
                    heading_deg=f.heading_deg,
                )
                for f in fixes
            ]
        )
        transaction.on_commit(invalidate_snapshots)
        # only move the team forward in time (batches may arrive out of order)
        from django.db.models import Q

        Team.objects.filter(pk=team.pk).filter(
            Q(position_at__isnull=True) | Q(position_at__lt=latest.recorded_at)
        ).update(lon=latest.lon, lat=latest.lat, position_at=latest.recorded_at)
        publish_on_commit(
            "avl.positions",
            {
                "team_id": team.pk,
                "lon": latest.lon,
                "lat": latest.lat,
                "at": latest.recorded_at.isoformat(),
                "count": len(fixes),
            },
        )
    return rows


def pair_co_response(
    *,
    call: Call,
    clinician,
    police_call_sign: str,
    actor: Actor,
    agency: str = "police",
    now: dt.datetime | None = None,
) -> CoResponse:
    """Pair a clinician with an external police unit on a co_response call."""
    now = now or timezone.now()
    sign = police_call_sign.strip()
    if not sign:
        raise Invalid("police_call_sign: must not be empty", path="police_call_sign")
    with transaction.atomic():
        c = Call.objects.select_for_update().get(pk=call.pk)
        if c.route != Call.Route.CO_RESPONSE:
            raise Conflict(
                f"call: call {c.pk} is routed {c.route}, not co_response", path="call_id"
            )
        if c.state != Call.State.OPEN:
            raise Conflict(f"call: call {c.pk} is closed", path="call_id")
        if CoResponse.objects.filter(call=c).exists():
            raise Conflict(f"call: call {c.pk} is already paired", path="call_id")
        unit, _ = ExternalUnit.objects.get_or_create(call_sign=sign, defaults={"agency": agency})
        pairing = CoResponse.objects.create(
            call=c,
            clinician=clinician,
            police_unit=unit,
            paired_at=now,
            paired_by_label=actor.label,
        )
        append_timeline(
            call=c,
            kind=K.CO_RESPONSE,
            actor=actor,
            text=f"Clinician {clinician.get_username()} paired with {unit}",
            data={"police_unit": unit.call_sign, "clinician_id": clinician.pk},
            at=now,
        )
        audit(actor=actor, action="co_response.pair", obj=pairing, at=now)
        emit(
            "co_response.paired",
            {"call_id": c.pk, "police_unit": unit.call_sign, "at": now.isoformat()},
            actor=actor,
            call_id=c.pk,
            at=now,
        )
    return pairing


def purge_positions(*, older_than_days: float | None = None, now: dt.datetime | None = None) -> int:
    """Delete GPS history stored more than ``older_than_days`` ago (default
    ``HEART_GPS_RETENTION_DAYS``, 90): the scheduled job ``teams.purge_positions``. Each
    team's latest position stays on the team. Batches keep each transaction short; the
    purge is audited (how many, the cut-off). Safe to run again."""
    from heart.accounts.models import AuditEntry

    days = float(
        older_than_days
        if older_than_days is not None
        else getattr(settings, "HEART_GPS_RETENTION_DAYS", 90)
    )
    if days <= 0:
        raise Invalid("older_than_days: must be positive", path="older_than_days")
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Position.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                    :10_000
                ]
            )
            if not ids:
                break
            deleted, _ = Position.objects.filter(pk__in=ids).delete()
            total += deleted
    if total:
        AuditEntry.objects.create(
            actor_label=SYSTEM.label,
            action="positions.purged",
            object_type="position",
            object_id="*",
            data={"deleted": total, "cutoff": cutoff.isoformat(), "days": days},
        )
    return total

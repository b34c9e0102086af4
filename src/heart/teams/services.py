"""Writes for teams. Statuses have one door: :func:`change_status` (a team's own moves)
and :func:`assign_team` (the only way into "dispatched") both go through
:func:`_write_status`, the one function that writes a status.

Every status change: checks the transition table (heart.domain.dispatch), appends to
the call's timeline with who and when, writes an audit row and emits ``team.status``.

Every way of sending a unit to a call (:func:`assign_team`, :func:`pair_co_response`)
goes through :func:`_dispatch`, which holds the dispatch guard: a unit goes only to a
call whose current route the program's run card gives to its kind of unit
(:func:`heart.domain.dispatch.route_refusal`), unless a dispatcher or supervisor writes
an override reason (stored as a :class:`RouteOverride`, on the timeline, in the audit
log and as a stored ``dispatch.override`` event). A team kept on a call re-triaged to a
route it does not serve needs the same: :func:`keep_team_on_call` or :func:`release_team`.

Shifts accept only responders of the position's discipline with the program's required
training current (heart.domain.staffing), one shift at a time per person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.auth import can
from heart.accounts.models import Discipline
from heart.accounts.services import audit
from heart.calls.models import Call, Disposition, TimelineEvent
from heart.calls.services import append_timeline, close_call
from heart.calls.validation import text_problem
from heart.domain.dispatch import (
    BUSY,
    RouteRefusal,
    TransitionError,
    UnitState,
    check_transition,
    route_refusal,
)
from heart.domain.geo import valid_lon_lat
from heart.domain.program import Program
from heart.domain.staffing import training_gaps
from heart.errors import Conflict, Forbidden, Invalid, NotFound
from heart.events.bus import emit
from heart.live.broadcast import publish_on_commit
from heart.program_in_force import current_program
from heart.teams.models import (
    Assignment,
    BackupAck,
    CoResponse,
    ExternalUnit,
    Position,
    RouteOverride,
    Shift,
    ShiftMember,
    StatusTap,
    Team,
    TrainingRecord,
    status_writer,
)
from heart.teams.selectors import (
    clinician_position,
    double_booking,
    invalidate_roster,
    invalidate_snapshots,
    local_days,
    on_shift_clinician,
    person_problem,
    staffing_on_shift,
    training_facts,
)

S = UnitState
K = TimelineEvent.Kind
BACKUP_SOURCE = "backup"  # a linked police request (request_backup)

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


def create_team(*, name: str, actor: Actor = SYSTEM, unit_key: str | None = None) -> Team:
    """A field unit of the program: a team, or a co-response unit (default: the
    program's field team)."""
    unit_key = unit_key or current_program().team_unit or ""
    name = name.strip()
    if not name:
        raise Invalid("name: must not be empty", path="name")
    if Team.objects.filter(name=name).exists():
        raise Conflict(f"name: a team called {name!r} exists", path="name")
    with transaction.atomic():
        team = Team.objects.create(name=name, unit_key=unit_key)
        audit(actor=actor, action="team.create", obj=team, data={"unit_key": unit_key})
    return team


def update_team(
    *,
    team: Team,
    actor: Actor,
    name: str | None = None,
    unit_key: str | None = None,
    active: bool | None = None,
) -> Team:
    """Rename a team, move it to another of the program's field units, or retire it
    (``active=False``: off the board and the recommendation; its history stays). A team
    on a call is not retired or moved. Audited with what changed."""
    program = current_program()
    with transaction.atomic():
        t = Team.objects.select_for_update().get(pk=team.pk)
        changes: dict = {}
        if name is not None:
            name = name.strip()
            if not name:
                raise Invalid("name: must not be empty", path="name")
            if name != t.name:
                if Team.objects.filter(name=name).exclude(pk=t.pk).exists():
                    raise Conflict(f"name: a team called {name!r} exists", path="name")
                changes["name"] = [t.name, name]
                t.name = name
        if unit_key is not None and unit_key != t.unit_key:
            field_units = [k for k, u in program.units.items() if u.kind in ("team", "co_response")]
            if unit_key not in field_units:
                raise Invalid(
                    f"unit_key: {unit_key!r} is not a field unit of {program.name} "
                    f"(one of {field_units})",
                    path="unit_key",
                )
            if t.current_call_id is not None:
                raise Conflict(f"unit_key: {t.name} is on a call; move it after", path="unit_key")
            changes["unit_key"] = [t.unit_key, unit_key]
            t.unit_key = unit_key
        if active is not None and active != t.active:
            if not active and t.current_call_id is not None:
                raise Conflict(f"active: {t.name} is on a call; retire it after", path="active")
            changes["active"] = [t.active, active]
            t.active = active
        if changes:
            t.save(update_fields=["name", "unit_key", "active"])
            audit(actor=actor, action="team.update", obj=t, data=changes)
    return t


MAX_SHIFT = dt.timedelta(hours=24)


def start_shift(
    *,
    team: Team,
    members: Iterable[tuple[object, str]],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: Actor = SYSTEM,
    program: Program | None = None,
) -> Shift:
    """A shift with its members as (user, discipline) pairs: each a responder of that
    discipline with the program's required training current through the shift, and on
    no other shift at an overlapping time (checked with the people's rows locked, so
    two supervisors booking one person at once: one wins, the other gets Conflict).

    Errors name the member (``members[i]``), the person, the position and what is
    missing or expired; every problem is listed, the first one's field is the path.
    """
    program = program or current_program()
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("starts_at: a time zone is required", path="starts_at")
    if ends_at <= starts_at:
        raise Invalid("ends_at: must be after starts_at", path="ends_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise Invalid("ends_at: a shift lasts at most 24 hours", path="ends_at")
    members = list(members)
    if not members:
        raise Invalid("members: a shift needs at least one person", path="members")
    unit = program.units.get(team.unit_key)
    positions = tuple(unit.disciplines) if unit else tuple(Discipline.values)
    problems: list[tuple[str, str]] = []
    seen: set[int] = set()
    for i, (user, discipline) in enumerate(members):
        if discipline not in Discipline.values:
            problems.append(
                (
                    f"members[{i}].discipline",
                    f"unknown {discipline!r} (one of {Discipline.values})",
                )
            )
        elif discipline not in positions:
            problems.append(
                (
                    f"members[{i}].discipline",
                    f"{team.name} ({unit.label if unit else team.unit_key}) has no "
                    f"{discipline} position (its positions: {', '.join(positions)})",
                )
            )
        if user.pk in seen:
            problems.append((f"members[{i}].username", f"{user.get_username()} is listed twice"))
        seen.add(user.pk)
    _raise_all(problems, Invalid)
    first_day, last_day = local_days(program, starts_at, ends_at)
    for i, (user, discipline) in enumerate(members):
        problem = person_problem(
            user=user,
            discipline=discipline,
            program=program,
            first_day=first_day,
            last_day=last_day,
        )
        if problem:
            problems.append((f"members[{i}].username", problem))
    _raise_all(problems, Invalid)
    with transaction.atomic():
        # one person, one shift at a time: lock the people (in id order: no deadlock),
        # then look for overlapping shifts; a concurrent booking waits here and sees ours
        ids = sorted(u.pk for u, _ in members)
        list(get_user_model().objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        for i, (user, _) in enumerate(members):
            clash = double_booking(
                user=user, starts_at=starts_at, ends_at=ends_at, zone=program.zone
            )
            if clash:
                problems.append((f"members[{i}].username", clash))
        _raise_all(problems, Conflict)
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
            data={
                "team": team.pk,
                "disciplines": sorted(d for _, d in members),
                "members": [u.pk for u, _ in members],
            },
        )
    return shift


def _lock_open_call(call: Call, *, closed: str = "is closed") -> Call:
    """The call's row, locked until the transaction ends; NotFound when it is gone,
    Conflict (``call {id} <closed>``) when it is no longer open. Call inside atomic()."""
    c = Call.objects.select_for_update().filter(pk=call.pk).first()
    if c is None:
        raise NotFound(f"call: no call {call.pk}", path="call_id")
    if c.state != Call.State.OPEN:
        raise Conflict(f"call: call {c.pk} {closed}", path="call_id")
    return c


def _raise_all(problems: list[tuple[str, str]], error: type) -> None:
    """Every problem in one message; the first one's field is the path."""
    if problems:
        text = "; ".join(f"{path}: {problem}" for path, problem in problems)
        exc = error(text, path=problems[0][0])
        exc.problems = list(problems)  # each (path, problem): pages show them by their fields
        raise exc


def end_shift(*, shift: Shift, actor: Actor, now: dt.datetime | None = None) -> Shift | None:
    """End a shift now (a shift not yet started is cancelled: None). Refused while the
    team is on a call: clear or release the call first."""
    now = now or timezone.now()
    with transaction.atomic():
        s = Shift.objects.select_for_update().select_related("team").filter(pk=shift.pk).first()
        if s is None:
            raise NotFound(f"shift: no shift {shift.pk}", path="shift_id")
        if s.ends_at <= now:
            raise Conflict(
                f"shift: shift {s.pk} of {s.team.name} has already ended", path="shift_id"
            )
        team = s.team
        if s.starts_at <= now and UnitState(team.status) in BUSY:
            raise Conflict(
                f"shift: {team.name} is {team.status.replace('_', ' ')} on call "
                f"{team.current_call_id}: clear or release the call before ending the shift",
                path="shift_id",
            )
        transaction.on_commit(invalidate_roster)
        transaction.on_commit(invalidate_snapshots)
        invalidate_roster()
        if s.starts_at > now:
            audit(actor=actor, action="shift.cancel", obj=s, data={"team": team.pk}, at=now)
            s.delete()
            return None
        s.ends_at = now
        s.save(update_fields=["ends_at"])
        audit(actor=actor, action="shift.end", obj=s, data={"team": team.pk}, at=now)
    return s


def change_shift_end(
    *,
    shift: Shift,
    ends_at: dt.datetime,
    actor: Actor,
    now: dt.datetime | None = None,
    program: Program | None = None,
) -> Shift:
    """Move a shift's end (a supervisor's edit: someone stays longer, or leaves early).
    Longer: every member's training must stay current through the new end and nobody may
    be on another shift in the added time (checked with the people's rows locked, as when
    booking). The end stays in the future (End now is :func:`end_shift`) and a shift lasts
    at most 24 hours. Audited with the old and new end."""
    now = now or timezone.now()
    program = program or current_program()
    if ends_at.tzinfo is None:
        raise Invalid("ends_at: a time zone is required", path="ends_at")
    with transaction.atomic():
        s = Shift.objects.select_for_update().select_related("team").filter(pk=shift.pk).first()
        if s is None:
            raise NotFound(f"shift: no shift {shift.pk}", path="shift_id")
        if s.ends_at <= now:
            raise Conflict(
                f"shift: shift {s.pk} of {s.team.name} has already ended", path="shift_id"
            )
        if ends_at <= max(now, s.starts_at):
            raise Invalid(
                "ends_at: must be later than now and than the shift's start "
                "(to stop a shift now, end it)",
                path="ends_at",
            )
        if ends_at - s.starts_at > MAX_SHIFT:
            raise Invalid("ends_at: a shift lasts at most 24 hours", path="ends_at")
        old = s.ends_at
        if ends_at > old:
            members = list(s.members.select_related("user"))
            ids = sorted(m.user_id for m in members)
            list(get_user_model().objects.select_for_update().filter(pk__in=ids).order_by("pk"))
            first_day, last_day = local_days(program, s.starts_at, ends_at)
            problems: list[tuple[str, str]] = []
            for m in members:
                problem = person_problem(
                    user=m.user,
                    discipline=m.discipline,
                    program=program,
                    first_day=first_day,
                    last_day=last_day,
                )
                if problem:
                    problems.append(("ends_at", problem))
            _raise_all(problems, Invalid)
            for m in members:  # only the added time: this shift itself ends at `old`
                clash = double_booking(
                    user=m.user, starts_at=old, ends_at=ends_at, zone=program.zone
                )
                if clash:
                    problems.append(("ends_at", clash))
            _raise_all(problems, Conflict)
        s.ends_at = ends_at
        s.save(update_fields=["ends_at"])
        transaction.on_commit(invalidate_roster)
        transaction.on_commit(invalidate_snapshots)
        invalidate_roster()
        audit(
            actor=actor,
            action="shift.change",
            obj=s,
            data={"team": s.team_id, "ends_at": [old.isoformat(), ends_at.isoformat()]},
            at=now,
        )
    return s


def record_training(
    *,
    user,
    training: str,
    completed_on: dt.date,
    actor: Actor,
    expires_on: dt.date | None = None,
    note: str = "",
    program: Program | None = None,
    now: dt.datetime | None = None,
) -> TrainingRecord:
    """A person's completion of one of the program's required trainings."""
    program = program or current_program()
    now = now or timezone.now()
    if training not in program.trainings:
        known = ", ".join(sorted(program.trainings)) or "none"
        raise Invalid(
            f"training: {program.name} requires no training {training!r} (it requires: {known})",
            path="training",
        )
    today = now.astimezone(program.zone).date()
    if completed_on > today:
        raise Invalid("completed_on: is in the future", path="completed_on")
    if completed_on.year < 1950:
        raise Invalid("completed_on: is before 1950", path="completed_on")
    if expires_on is not None and expires_on <= completed_on:
        raise Invalid("expires_on: must be after completed_on", path="expires_on")
    note = (note or "").strip()
    if len(note) > 200 or text_problem(note):
        raise Invalid("note: at most 200 characters of text", path="note")
    with transaction.atomic():
        record = TrainingRecord.objects.create(
            user=user,
            training=training,
            completed_on=completed_on,
            expires_on=expires_on,
            note=note,
            recorded_at=now,
            recorded_by_label=actor.label,
        )
        audit(
            actor=actor,
            action="training.record",
            obj=record,
            data={
                "user": user.pk,
                "training": training,
                "completed_on": completed_on.isoformat(),
                "expires_on": expires_on.isoformat() if expires_on else None,
            },
            at=now,
        )
    return record


def remove_training_record(*, record: TrainingRecord, actor: Actor) -> None:
    """Delete a record entered by mistake (audited with what it said)."""
    with transaction.atomic():
        audit(
            actor=actor,
            action="training.remove",
            obj=record,
            data={
                "user": record.user_id,
                "training": record.training,
                "completed_on": record.completed_on.isoformat(),
            },
        )
        record.delete()


def change_status(
    *,
    team: Team,
    status: str,
    actor: Actor,
    note: str = "",
    now: dt.datetime | None = None,
    idempotency_key: str | None = None,
) -> Team:
    """A team's status change along the transition table (Conflict when it forbids it).

    "dispatched" is refused here: a team is dispatched only by a dispatcher's
    assignment (:func:`assign_team`), which checks the call and the team first.

    ``idempotency_key`` (a phone's own key for one tap): the first delivery changes the
    status and records the key; a replay of the same key changes nothing and answers
    with the team as it is (``team.replayed`` is True). The same key asking for another
    status is refused (409).
    """
    if status == S.DISPATCHED:
        raise Invalid(
            "status: a team is dispatched only by assigning it to a call "
            "(POST /api/calls/{id}/assign)",
            path="status",
        )
    if idempotency_key is None:
        return _write_status(team=team, status=status, actor=actor, note=note, now=now)
    key = idempotency_key.strip()
    if not key or len(key) > 64 or not key.isprintable():
        raise Invalid("idempotency_key: 1 to 64 printable characters", path="idempotency_key")
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # the team's row lock orders two replays of one key: the second sees the first
            locked = Team.objects.select_for_update().get(pk=team.pk)
            tap = StatusTap.objects.filter(team=locked, key=key).first()
            if tap is None:
                locked = _write_status(team=locked, status=status, actor=actor, note=note, now=now)
                StatusTap.objects.create(
                    team=locked,
                    key=key,
                    status=locked.status,
                    previous=getattr(locked, "_previous_status", ""),
                    at=now,
                )
                locked.replayed = False
                _copy_status(team, locked)
                return locked
    except IntegrityError:
        tap = StatusTap.objects.filter(team=team, key=key).first()
        if tap is None:
            raise
    if tap.status != status:
        raise Conflict(
            f"idempotency_key: this tap was already used for {tap.status.replace('_', ' ')}, "
            f"not {status.replace('_', ' ')}",
            path="idempotency_key",
        )
    fresh = Team.objects.get(pk=team.pk)
    fresh.replayed = True
    _copy_status(team, fresh)
    return fresh


def _copy_status(team: Team, fresh: Team) -> None:
    team.status, team.status_changed_at, team.current_call_id = (
        fresh.status,
        fresh.status_changed_at,
        fresh.current_call_id,
    )
    team._loaded_status = fresh.status


def _write_status(
    *,
    team: Team,
    status: str,
    actor: Actor,
    call: Call | None = None,
    note: str = "",
    now: dt.datetime | None = None,
    timeline_kind: str | None = None,
) -> Team:
    """THE status write path (change_status, _dispatch and release_team only)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        old = UnitState(locked.status)
        locked._previous_status = old.value
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
            # a co-responding pair is clear once its unit leaves the call
            CoResponse.objects.filter(team=locked, ended_at__isnull=True).update(ended_at=now)
        data = {"from": old.value, "to": new.value}
        if on_call is not None:
            text = f"{locked.name}: {old.value.replace('_', ' ')} -> {new.value.replace('_', ' ')}"
            append_timeline(
                call=on_call,
                kind=timeline_kind or _timeline_kind(old, new),
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


OVERRIDE_REASON_MIN = 10
OVERRIDE_REASON_MAX = 500


def override_reason_problem(reason: str) -> str | None:
    """Why a written override reason cannot be used (None when it can)."""
    text = " ".join(reason.split())
    if not text:
        return "a written reason is required"
    if len(text) < OVERRIDE_REASON_MIN or sum(ch.isalpha() for ch in text) < 5:
        return f"say why in words (at least {OVERRIDE_REASON_MIN} characters)"
    if len(text) > OVERRIDE_REASON_MAX:
        return f"at most {OVERRIDE_REASON_MAX} characters"
    if text_problem(text) or any(ord(ch) < 32 for ch in text):
        return "contains control characters"
    return None


def _check_override(*, actor: Actor, reason: str) -> str:
    """The cleaned reason, if this actor may override with it."""
    if actor.user is None or not can(actor, "dispatch"):
        raise Forbidden(
            f"override_reason: {actor.label} may not override the dispatch guard "
            "(a dispatcher or supervisor, signed in as themselves)",
            path="override_reason",
        )
    problem = override_reason_problem(reason)
    if problem:
        raise Invalid(f"override_reason: {problem}", path="override_reason")
    return " ".join(reason.split())


def _triage_words(call: Call) -> str:
    texts = [r.get("text", "") for r in call.reasons if r.get("text")]
    out = " ".join(t if t.rstrip().endswith((".", "!", "?")) else t + "." for t in texts)
    return out if len(out) <= 300 else out[:297] + "..."


def _refusal_error(call: Call, team: Team, refusal: RouteRefusal) -> Conflict:
    why = _triage_words(call)
    return Conflict(
        f"route: {team.name} may not go to call {call.pk}, routed {call.route}: "
        f"{refusal.text}."
        + (f" Triage: {why}" if why else "")
        + " A dispatcher or supervisor may send it anyway with a written override reason.",
        path="override_reason",
        code=refusal.code,
    )


def _record_override(
    *,
    call: Call,
    team: Team,
    assignment: Assignment,
    action: str,
    refusal: RouteRefusal,
    reason: str,
    actor: Actor,
    now: dt.datetime,
) -> RouteOverride:
    """Store the override on the call, its timeline, the audit log and the event stream
    (``dispatch.override``: ids and the route only, never the reason's words)."""
    o = RouteOverride.objects.create(
        call=call,
        team=team,
        assignment=assignment,
        action=action,
        route=call.route,
        unit_key=team.unit_key,
        refusal_code=refusal.code,
        refusal_text=refusal.text[:300],
        reason=reason,
        by=actor.user,
        by_label=actor.label,
        at=now,
    )
    verb = "sent to" if action == RouteOverride.Action.ASSIGN else "kept on"
    append_timeline(
        call=call,
        kind=K.OVERRIDE,
        actor=actor,
        team=team,
        text=f"Override by {actor.label}: {team.name} {verb} a {call.route} call. Reason: {reason}",
        data={
            "code": "route_override",
            "override_id": o.pk,
            "action": action,
            "route": call.route,
            "refusal": refusal.code,
        },
        at=now,
    )
    audit(
        actor=actor,
        action="dispatch.override",
        obj=o,
        data={
            "call": call.pk,
            "team": team.pk,
            "route": call.route,
            "action": action,
            "refusal": refusal.code,
            "reason": reason,
        },
        at=now,
    )
    emit(
        "dispatch.override",
        {"call_id": call.pk, "team_id": team.pk, "route": call.route},
        actor=actor,
        call_id=call.pk,
        at=now,
    )
    return o


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What one dispatch did: the assignment, and the pairing and override if any."""

    assignment: Assignment
    pairing: CoResponse | None = None
    override: RouteOverride | None = None


@dataclass(frozen=True, slots=True)
class _Police:
    call_sign: str
    agency: str
    clinician: object


def _dispatch(
    *,
    call: Call,
    team: Team,
    actor: Actor,
    program: Program,
    now: dt.datetime,
    override_reason: str | None,
    police: _Police | None = None,
) -> Dispatched:
    """THE way a unit is committed to a call (assign_team, pair_co_response).

    Two dispatchers at once: the call row, then the team row, are locked in that
    order; the second one sees the first one's result and gets :class:`Conflict`.
    Partial unique indexes (one active assignment per call / per team) back this up.
    """
    try:
        with transaction.atomic():
            c = _lock_open_call(call)
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
            # the guard: the call's route as it is now, under the lock
            refusal = route_refusal(program, unit_key=t.unit_key, route=c.route)
            reason = None
            if refusal is not None:
                if not (override_reason or "").strip():
                    raise _refusal_error(c, t, refusal)
                reason = _check_override(actor=actor, reason=override_reason or "")
            if t.status != S.AVAILABLE:
                busy = f" on call {t.current_call_id}" if t.current_call_id else ""
                raise Conflict(
                    f"team: {t.name} is {t.status.replace('_', ' ')}{busy}, not available",
                    path="team_id",
                )
            problem = _dispatchable_problem(t, program, now)
            if problem:
                raise Conflict(f"team: {problem}", path="team_id")
            unit = program.units.get(t.unit_key)
            pairs = unit is not None and unit.kind == "co_response"
            if pairs and police is None:
                raise Conflict(
                    f"team: {t.name} is a {unit.label}: pair its clinician with a police unit "
                    f"(POST /api/calls/{c.pk}/co-response)",
                    path="team_id",
                    code="pair_with_police",
                )
            if police is not None and not pairs:
                raise Conflict(
                    f"team: {t.name} is not a co-response unit "
                    f"({unit.label if unit else t.unit_key}); assign it instead",
                    path="team_id",
                )
            assignment = Assignment.objects.create(
                call=c, team=t, assigned_at=now, assigned_by_label=actor.label
            )
            pairing = None
            note = ""
            if police is not None:
                ext, _ = ExternalUnit.objects.get_or_create(
                    call_sign=police.call_sign, defaults={"agency": police.agency}
                )
                pairing = CoResponse.objects.create(
                    call=c,
                    team=t,
                    assignment=assignment,
                    clinician=police.clinician,
                    police_unit=ext,
                    paired_at=now,
                    paired_by_label=actor.label,
                )
                note = f"paired with {ext}"
                append_timeline(
                    call=c,
                    kind=K.CO_RESPONSE,
                    actor=actor,
                    team=t,
                    text=f"Clinician {police.clinician.get_username()} ({t.name}) paired with {ext}",
                    data={
                        "police_unit": ext.call_sign,
                        "agency": ext.agency,
                        "clinician_id": police.clinician.pk,
                    },
                    at=now,
                )
                audit(
                    actor=actor,
                    action="co_response.pair",
                    obj=pairing,
                    data={"call": c.pk, "team": t.pk, "police_unit": ext.call_sign},
                    at=now,
                )
            _write_status(team=t, status=S.DISPATCHED, actor=actor, call=c, note=note, now=now)
            override = None
            if refusal is not None and reason is not None:
                override = _record_override(
                    call=c,
                    team=t,
                    assignment=assignment,
                    action=RouteOverride.Action.ASSIGN,
                    refusal=refusal,
                    reason=reason,
                    actor=actor,
                    now=now,
                )
            emit(
                "assignment.created",
                {"call_id": c.pk, "team_id": t.pk, "at": now.isoformat()},
                actor=actor,
                call_id=c.pk,
                at=now,
            )
            if pairing is not None:
                emit(
                    "co_response.paired",
                    {
                        "call_id": c.pk,
                        "team_id": t.pk,
                        "police_unit": pairing.police_unit.call_sign,
                        "at": now.isoformat(),
                    },
                    actor=actor,
                    call_id=c.pk,
                    at=now,
                )
    except IntegrityError:
        raise Conflict(
            "assignment: another dispatcher assigned this call or team at the same moment",
            path="call_id",
        ) from None
    return Dispatched(assignment, pairing, override)


def assign_team(
    *,
    call: Call,
    team: Team,
    actor: Actor,
    program: Program,
    now: dt.datetime | None = None,
    override_reason: str | None = None,
) -> Assignment:
    """Commit an available, staffed, on-shift team to an open, unassigned call whose
    current route the team's unit serves; otherwise Conflict naming the route and why,
    unless a dispatcher or supervisor gives ``override_reason`` (then recorded).
    The override, when one was needed, is ``assignment.route_override``."""
    done = _dispatch(
        call=call,
        team=team,
        actor=actor,
        program=program,
        now=now or timezone.now(),
        override_reason=override_reason,
    )
    done.assignment.route_override = done.override
    return done.assignment


def keep_team_on_call(
    *,
    call: Call,
    actor: Actor,
    reason: str,
    program: Program,
    now: dt.datetime | None = None,
) -> RouteOverride:
    """A call was re-triaged to a route its assigned team does not serve: the dispatcher
    keeps the team there with a written reason (the override rule; the alternative is
    :func:`release_team`)."""
    now = now or timezone.now()
    with transaction.atomic():
        c = _lock_open_call(call)
        a = Assignment.objects.filter(call=c, active=True).select_related("team").first()
        if a is None:
            raise Conflict(f"call: no team is assigned to call {c.pk}", path="call_id")
        t = Team.objects.select_for_update().get(pk=a.team_id)
        refusal = route_refusal(program, unit_key=t.unit_key, route=c.route)
        if refusal is None:
            raise Conflict(
                f"call: {t.name} serves route {c.route}; there is nothing to override",
                path="call_id",
                code="route_served",
            )
        if RouteOverride.objects.filter(assignment=a, route=c.route).exists():
            raise Conflict(
                f"call: keeping {t.name} on call {c.pk} ({c.route}) is already recorded",
                path="call_id",
            )
        if not (reason or "").strip():
            raise Invalid(
                "override_reason: a written reason is required to keep the team on the call",
                path="override_reason",
            )
        clean = _check_override(actor=actor, reason=reason)
        return _record_override(
            call=c,
            team=t,
            assignment=a,
            action=RouteOverride.Action.KEEP,
            refusal=refusal,
            reason=clean,
            actor=actor,
            now=now,
        )


# from each busy status back to available along the transition table
_RELEASE_PATH = {
    S.DISPATCHED: (S.AVAILABLE,),
    S.EN_ROUTE: (S.AVAILABLE,),
    S.ON_SCENE: (S.CLEARING, S.AVAILABLE),
    S.TRANSPORTING: (S.CLEARING, S.AVAILABLE),
    S.CLEARING: (S.AVAILABLE,),
}


def release_team(
    *, call: Call, actor: Actor, note: str = "", now: dt.datetime | None = None
) -> Team:
    """Take the assigned unit off a call that stays open (e.g. re-triaged to police):
    the unit goes back to available along the transition table; the call can be
    assigned again."""
    now = now or timezone.now()
    note = (note or "").strip()
    if len(note) > 300 or text_problem(note):
        raise Invalid("note: at most 300 characters of text", path="note")
    with transaction.atomic():
        c = Call.objects.select_for_update().filter(pk=call.pk).first()
        if c is None:
            raise NotFound(f"call: no call {call.pk}", path="call_id")
        a = Assignment.objects.filter(call=c, active=True).select_related("team").first()
        if a is None:
            raise Conflict(f"call: no team is assigned to call {c.pk}", path="call_id")
        t = a.team
        words = "released by dispatch" + (f": {note}" if note else "")
        for status in _RELEASE_PATH.get(UnitState(t.status), ()):
            t = _write_status(
                team=t,
                status=status,
                actor=actor,
                call=c,
                note=words,
                now=now,
                timeline_kind=K.UNASSIGNED if status is S.AVAILABLE else None,
            )
        audit(
            actor=actor,
            action="assignment.release",
            obj=c,
            data={"team": t.pk, "route": c.route},
            at=now,
        )
    return t


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
            source=BACKUP_SOURCE,
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
                "nature": parent.nature,
                "lon": lon,
                "lat": lat,
                "at": now.isoformat(),
            },
            actor=actor,
            call_id=parent.pk,
            at=now,
        )
    return backup


# how a dispatcher may close a call no team is on (the page shows the words)
DISPATCH_CLOSE_REASONS = {
    "handled_by_police": "Handled by police",
    "duplicate": "Duplicate of another call",
    "cancelled_by_caller": "Cancelled by the caller",
    "no_response_needed": "No response needed",
    "unable_to_locate": "Unable to locate",
}


def close_call_by_dispatch(
    *, call: Call, actor: Actor, disposition: str, note: str = "", now: dt.datetime | None = None
) -> Call:
    """A dispatcher closes an open call no team is on (a team clears its own call with
    a disposition from the phone, or is released first). Timeline, audit, ``call.closed``."""
    now = now or timezone.now()
    if disposition not in DISPATCH_CLOSE_REASONS:
        raise Invalid(
            "disposition: one of " + ", ".join(DISPATCH_CLOSE_REASONS), path="disposition"
        )
    note = (note or "").strip()
    if len(note) > 300 or text_problem(note):
        raise Invalid("note: at most 300 characters of text", path="note")
    with transaction.atomic():
        c = _lock_open_call(call, closed="is already closed")
        a = Assignment.objects.filter(call=c, active=True).select_related("team").first()
        if a is not None:
            raise Conflict(
                f"call: {a.team.name} is on call {c.pk}; the team clears it with a "
                "disposition, or release the team first",
                path="call_id",
            )
        label = DISPATCH_CLOSE_REASONS[disposition]
        close_call(
            call=c,
            actor=actor,
            text=f"Closed by dispatch: {label}" + (f" ({note})" if note else ""),
            at=now,
        )
        audit(
            actor=actor,
            action="call.close",
            obj=c,
            data={"disposition": disposition},
            at=now,
        )
        emit(
            "call.closed",
            {"call_id": c.pk, "team_id": None, "outcome": disposition, "at": now.isoformat()},
            actor=actor,
            call_id=c.pk,
            at=now,
        )
    return c


def acknowledge_backup(
    *, backup_call_id: int, actor: Actor, now: dt.datetime | None = None
) -> tuple[BackupAck, bool]:
    """A dispatcher saw a team's backup request: recorded once (who, when), audited and
    announced (``backup.acknowledged``) so every board clears its alarm and the team's
    phone shows who saw it. A repeated acknowledgement returns the first one and changes
    nothing (second value False)."""
    now = now or timezone.now()
    if not can(actor, "dispatch"):
        raise Forbidden(f"{actor.label} may not acknowledge backup requests")
    with transaction.atomic():
        c = Call.objects.select_for_update().filter(pk=backup_call_id, source=BACKUP_SOURCE).first()
        if c is None:
            raise NotFound(
                f"backup_call_id: no backup request {backup_call_id}", path="backup_call_id"
            )
        existing = BackupAck.objects.filter(backup_call=c).select_related("by").first()
        if existing is not None:
            return existing, False
        team_id = (
            TimelineEvent.objects.filter(call=c, kind=K.RECEIVED, team__isnull=False)
            .values_list("team_id", flat=True)
            .first()
        )
        ack = BackupAck.objects.create(
            backup_call=c,
            team_id=team_id,
            by=actor.user,
            by_label=actor.label,
            at=now,
        )
        who = actor.user.get_username() if actor.user is not None else actor.label
        append_timeline(
            call=c,
            kind=K.BACKUP_ACKNOWLEDGED,
            actor=actor,
            text=f"Backup request seen by {who}",
            at=now,
        )
        audit(
            actor=actor,
            action="backup.acknowledge",
            obj=c,
            data={"parent": c.parent_id, "team": team_id},
            at=now,
        )
        emit(
            "backup.acknowledged",
            {
                "call_id": c.parent_id,
                "backup_call_id": c.pk,
                "team_id": team_id,
                "at": now.isoformat(),
            },
            actor=actor,
            call_id=c.parent_id,
            at=now,
        )
    return ack, True


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
        # a phone replays fixes it queued offline: a fix already stored (same team, same
        # device time, same point) is not stored twice
        seen = set(
            Position.objects.filter(
                team=team, recorded_at__in=[f.recorded_at for f in fixes]
            ).values_list("recorded_at", "lon", "lat")
        )
        fresh: dict[tuple, Fix] = {}
        for f in fixes:
            key = (f.recorded_at, f.lon, f.lat)
            if key not in seen:
                fresh.setdefault(key, f)
        fixes = list(fresh.values())
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
    police_call_sign: str,
    actor: Actor,
    clinician=None,
    team: Team | None = None,
    agency: str = "police",
    program: Program | None = None,
    override_reason: str | None = None,
    now: dt.datetime | None = None,
) -> CoResponse:
    """Pair an on-duty clinician with a police unit on a co_response call.

    The clinician is a person in a clinician position on a shift in force now (their
    co-response unit, ``team``, is what is dispatched), with the program's training
    current today; give the clinician, the unit, or both (they must agree). The pair
    then moves through the unit statuses (dispatched = paired, en route, on scene,
    clearing) and clears with a disposition like a team. The dispatch guard applies.
    """
    program = program or current_program()
    now = now or timezone.now()
    sign = (police_call_sign or "").strip()
    if not sign:
        raise Invalid("police_call_sign: must not be empty", path="police_call_sign")
    if len(sign) > 40 or text_problem(sign):
        raise Invalid("police_call_sign: at most 40 characters of text", path="police_call_sign")
    agency = (agency or "").strip() or "police"
    if len(agency) > 100 or text_problem(agency):
        raise Invalid("agency: at most 100 characters of text", path="agency")
    if clinician is None and team is None:
        raise Invalid(
            "clinician_username: name the clinician (or the co-response unit's team_id)",
            path="clinician_username",
        )
    if clinician is not None:
        position = clinician_position(user=clinician, now=now)
        if position is None:
            raise Conflict(
                f"clinician_username: {clinician.get_username()} is not on shift in a "
                "clinician position now",
                path="clinician_username",
            )
        unit_team = position.shift.team
        if team is not None and team.pk != unit_team.pk:
            raise Invalid(
                f"team_id: {clinician.get_username()} is on shift with {unit_team.name}, "
                f"not team {team.pk}",
                path="team_id",
            )
        team = unit_team
    else:
        clinician = on_shift_clinician(team=team, now=now)
        if clinician is None:
            raise Conflict(f"team_id: {team.name} has no clinician on shift now", path="team_id")
    today = now.astimezone(program.zone).date()
    records = training_facts(user_ids=[clinician.pk]).get(clinician.pk, [])
    gaps = training_gaps(program, Discipline.CLINICIAN, records, first_day=today, last_day=today)
    if gaps:
        raise Conflict(
            f"clinician_username: {clinician.get_username()} cannot co-respond: "
            + "; ".join(g.text for g in gaps),
            path="clinician_username",
        )
    done = _dispatch(
        call=call,
        team=team,
        actor=actor,
        program=program,
        now=now,
        override_reason=override_reason,
        police=_Police(sign, agency, clinician),
    )
    assert done.pairing is not None
    done.pairing.route_override = done.override
    return done.pairing


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

"""Dispatch (with its route guard and overrides), teams in the field, co-response,
shifts and training records, AVL (mounted under /api)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field

from heart.accounts.auth import can, require
from heart.apikit import ERRORS, MAX_PAGE, ErrorOut, PageOut, list_page, object_or_404
from heart.calls.models import Call
from heart.calls.services import add_note
from heart.domain.dispatch import field_unit_refusal
from heart.errors import Forbidden, Invalid, NotFound
from heart.program_in_force import current_program
from heart.teams import selectors
from heart.teams.models import RouteOverride, Shift, Team
from heart.teams.services import (
    DispositionInput,
    Fix,
    acknowledge_backup,
    assign_team,
    change_status,
    clear_call,
    close_call_by_dispatch,
    create_team,
    end_shift,
    keep_team_on_call,
    pair_co_response,
    record_positions,
    record_training,
    release_team,
    request_backup,
    start_shift,
)

router = Router()


def _call_or_404(call_id: int) -> Call:
    return object_or_404(Call, call_id, what="call", path="call_id")


def _team_or_404(team_id: int) -> Team:
    return object_or_404(Team, team_id, what="team", path="team_id")


def _team_actor(request, team: Team):
    """Dispatchers act for any team; a responder only for the team they are on shift with."""
    actor = request.auth
    if can(actor, "dispatch"):
        return actor
    require(request, "dispatch", "respond")
    mine = selectors.team_for_user(user=actor.user)
    if mine is None or mine.pk != team.pk:
        raise Forbidden(f"{actor.label} is not on shift with {team.name}")
    return actor


# ------------------------------------------------------------------ schemas


class PickOut(Schema):
    team_id: int
    team: str
    eta_minutes: float | None
    reason: str
    stale_position: bool


class ShortfallOut(Schema):
    team_id: int | None
    code: str
    reason: str


class RecommendationOut(Schema):
    call_id: int
    route: str
    unit: str | None = Field(
        description="the run-card unit serving the route (None: no field unit)"
    )
    unit_kind: str | None = Field(None, description="team | co_response (pair with police)")
    picks: list[PickOut]
    shortfalls: list[ShortfallOut]
    why_none: str
    code: str = Field("", description="why no field unit serves the route, as a stable code")


class AssignIn(Schema):
    team_id: int
    override_reason: str | None = Field(
        None,
        max_length=1000,
        description="Only to send a unit to a call whose route its kind of unit does not "
        "serve (dispatchers and supervisors): why, in words (10-500 characters)",
    )


class OverrideOut(Schema):
    id: int
    call_id: int
    team_id: int
    team: str
    action: str = Field(description="assign (sent anyway) | keep (kept on a re-triaged call)")
    route: str = Field(description="the call's route when the override was given")
    refusal_code: str
    refusal_text: str
    reason: str
    by: str
    at: dt.datetime


class AssignmentOut(Schema):
    call_id: int
    team_id: int
    status: str
    assigned_at: dt.datetime
    override: OverrideOut | None = None


class KeepIn(Schema):
    override_reason: str = Field(
        max_length=1000, description="why the team stays (10-500 characters)"
    )


class ReleaseIn(Schema):
    note: str = Field("", max_length=300)


class OverrideMonthOut(Schema):
    month: str
    overrides: int
    by_route: dict[str, int]


class TeamOut(Schema):
    id: int
    name: str
    unit_key: str
    kind: str = Field("", description="the unit's kind in the program: team | co_response")
    paired_with: str | None = Field(None, description="co-response: the police unit on the call")
    status: str
    on_shift: bool
    disciplines: list[str]
    lon: float | None
    lat: float | None
    position_at: dt.datetime | None
    position_stale: bool
    current_call_id: int | None


class StatusIn(Schema):
    status: str = Field(
        max_length=20,
        description="available, dispatched, en_route, on_scene, transporting, clearing, out_of_service",
    )
    note: str = Field("", max_length=300)


class TeamStatusOut(Schema):
    team_id: int
    status: str
    current_call_id: int | None
    status_changed_at: dt.datetime | None


class BackupIn(Schema):
    note: str = Field("", max_length=500)


class BackupAckOut(Schema):
    backup_call_id: int
    call_id: int | None
    team_id: int | None
    by: str
    at: dt.datetime
    created: bool = False  # False: it had been acknowledged already (nothing changed)


class CloseIn(Schema):
    disposition: str = Field(..., max_length=40)
    note: str = Field("", max_length=300)


class CloseOut(Schema):
    call_id: int
    state: str
    disposition: str
    closed_at: dt.datetime


class NoteIn(Schema):
    text: str = Field(..., max_length=500)


class NoteOut(Schema):
    call_id: int
    kind: str
    text: str
    by: str
    at: dt.datetime


class BackupOut(Schema):
    backup_call_id: int
    call_id: int
    priority: str
    route: str


class DispositionIn(Schema):
    outcome: str = Field(
        max_length=40,
        description="resolved_on_scene | transported | referred | refused | unable_to_locate | police_took_over",
    )
    destination: str = Field("", max_length=200)
    referred_to: str = Field("", max_length=200)
    notes: str = Field("", max_length=5000)
    consent_follow_up: bool = False
    contact_name: str = Field("", max_length=200)
    contact_phone: str = Field("", max_length=40)
    contact_notes: str = Field("", max_length=2000)


class DispositionOut(Schema):
    call_id: int
    outcome: str
    team_id: int


class FixIn(Schema):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    recorded_at: AwareDatetime
    accuracy_m: float | None = Field(None, ge=0)
    speed_mps: float | None = Field(None, ge=0)
    heading_deg: float | None = Field(None, ge=0, le=360)


class AvlIn(Schema):
    team_id: int | None = Field(None, description="required for API clients; responders: own team")
    fixes: list[FixIn] = Field(min_length=1, max_length=500)


class AvlOut(Schema):
    team_id: int
    stored: int


class MeOut(Schema):
    team: TeamOut | None
    call_id: int | None


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=60)
    unit_key: str | None = Field(
        None, max_length=40, description="a unit of the program (default: its field team)"
    )


class MemberIn(Schema):
    username: str = Field(max_length=150)
    discipline: str = Field(max_length=20)


class ShiftIn(Schema):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    members: list[MemberIn] = Field(min_length=1, max_length=10)


class ShiftOut(Schema):
    id: int
    team_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


class CoResponseIn(Schema):
    clinician_username: str | None = Field(
        None, max_length=150, description="a clinician on shift now (or give team_id)"
    )
    team_id: int | None = Field(None, description="the co-response unit (or give the clinician)")
    police_call_sign: str = Field(min_length=1, max_length=40)
    agency: str = Field("police", max_length=100)
    override_reason: str | None = Field(None, max_length=1000)


class CoResponseOut(Schema):
    id: int
    call_id: int
    team_id: int
    clinician_id: int
    clinician: str
    police_unit: str
    agency: str
    status: str = Field(description="paired | en_route | on_scene | clearing | clear (the unit's)")
    override: OverrideOut | None = None


class MemberOut(Schema):
    username: str
    discipline: str


class ShiftDetailOut(Schema):
    id: int
    team_id: int
    team: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    members: list[MemberOut]


class TrainingRequirementOut(Schema):
    key: str
    label: str
    renew_every_months: int
    disciplines: list[str]


class TrainingStandingOut(Schema):
    training: str
    state: str = Field(description="current | expiring | expired | missing")
    completed_on: dt.date | None
    until: dt.date | None = Field(description="the first day it no longer counts")


class ResponderTrainingOut(Schema):
    username: str
    discipline: str
    ready: bool
    trainings: list[TrainingStandingOut]


class TrainingOverviewOut(Schema):
    program: str
    on: dt.date
    requirements: list[TrainingRequirementOut]
    responders: list[ResponderTrainingOut]


class TrainingRecordIn(Schema):
    username: str = Field(max_length=150)
    training: str = Field(max_length=40)
    completed_on: dt.date
    expires_on: dt.date | None = None
    note: str = Field("", max_length=200)


class TrainingRecordOut(Schema):
    id: int
    username: str
    training: str
    completed_on: dt.date
    expires_on: dt.date | None
    note: str


# ------------------------------------------------------------------ dispatch


def _override_out(o: RouteOverride | None) -> dict | None:
    if o is None:
        return None
    return {
        "id": o.pk,
        "call_id": o.call_id,
        "team_id": o.team_id,
        "team": o.team.name,
        "action": o.action,
        "route": o.route,
        "refusal_code": o.refusal_code,
        "refusal_text": o.refusal_text,
        "reason": o.reason,
        "by": o.by_label,
        "at": o.at,
    }


@router.get(
    "/calls/{call_id}/recommendation",
    response={200: RecommendationOut, **ERRORS},
    tags=["dispatch"],
)
def recommendation(request, call_id: int):
    """Available, staffed, on-shift units ranked by ETA, and why others cannot go. Only
    units of the kind the call's current route is for are listed; on a route no field
    unit serves, none (``why_none`` and ``code`` say why)."""
    require(request, "dispatch")
    call = _call_or_404(call_id)
    program = current_program()
    unit = program.field_unit_for_route(call.route)
    rec = selectors.recommendation_for(call=call, program=program, unit_key=unit) if unit else None
    if rec is None:
        refusal = field_unit_refusal(program, call.route)
        return {
            "call_id": call.pk,
            "route": call.route,
            "unit": None,
            "unit_kind": None,
            "picks": [],
            "shortfalls": [],
            "why_none": refusal.text if refusal else "no field unit serves this route",
            "code": refusal.code if refusal else "route_not_served",
        }
    names = dict(Team.objects.values_list("id", "name"))
    body = rec.as_dict()
    for pick in body["picks"]:
        pick["team"] = names.get(pick["team_id"], "")
    return {
        "call_id": call.pk,
        "route": call.route,
        "unit": unit,
        "unit_kind": program.units[unit].kind,
        **body,
    }


@router.post("/calls/{call_id}/assign", response={200: AssignmentOut, **ERRORS}, tags=["dispatch"])
def assign(request, call_id: int, payload: AssignIn):
    """Assign a team. A team whose unit does not serve the call's current route is
    refused (409, ``code`` names why) unless ``override_reason`` is given by a dispatcher
    or supervisor; a second dispatcher assigning the same call or team gets 409."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    team = _team_or_404(payload.team_id)
    a = assign_team(
        call=call,
        team=team,
        actor=actor,
        program=current_program(),
        override_reason=payload.override_reason,
    )
    return {
        "call_id": call.pk,
        "team_id": team.pk,
        "status": "dispatched",
        "assigned_at": a.assigned_at,
        "override": _override_out(a.route_override),
    }


@router.post("/calls/{call_id}/keep-team", response={200: OverrideOut, **ERRORS}, tags=["dispatch"])
def keep_team(request, call_id: int, payload: KeepIn):
    """The call was re-triaged to a route its team does not serve: keep the team there,
    with a written reason (recorded as an override). Otherwise release it."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    o = keep_team_on_call(
        call=call, actor=actor, reason=payload.override_reason, program=current_program()
    )
    return _override_out(o)


@router.post("/calls/{call_id}/release", response={200: TeamStatusOut, **ERRORS}, tags=["dispatch"])
def release(request, call_id: int, payload: ReleaseIn):
    """Take the assigned unit off the call (it becomes available; the call stays open)."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    t = release_team(call=call, actor=actor, note=payload.note)
    return _status_out(t)


@router.get(
    "/calls/{call_id}/overrides",
    response={200: list[OverrideOut], 403: ErrorOut, 404: ErrorOut},
    tags=["dispatch"],
)
def call_overrides(request, call_id: int):
    """Every override given on the call: who, when, the route then, and why."""
    require(request, "view_calls", "dispatch")
    call = _call_or_404(call_id)
    return [_override_out(o) for o in selectors.overrides_for_call(call_id=call.pk)]


@router.get(
    "/reports/overrides", response={200: list[OverrideMonthOut], 403: ErrorOut}, tags=["reports"]
)
def override_report(request):
    """Dispatch overrides per month (local time) and route: counted from the stored
    ``dispatch.override`` events; no names, no reasons."""
    require(request, "view_reports")
    return selectors.override_counts(timezone_name=current_program().timezone)


def _pair_status(p) -> str:
    if p.ended_at is not None:
        return "clear"
    status = p.team.status if p.team else ""
    return "paired" if status == "dispatched" else status


@router.post(
    "/calls/{call_id}/co-response", response={200: CoResponseOut, **ERRORS}, tags=["dispatch"]
)
def co_response(request, call_id: int, payload: CoResponseIn):
    """Pair an on-duty clinician (on shift in a clinician position with a co-response
    unit, training current) with a police unit on a co_response call. The pair then
    moves through its unit's statuses (POST /api/teams/{team_id}/status) and clears with
    a disposition (POST /api/teams/{team_id}/clear)."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    clinician = None
    if payload.clinician_username:
        clinician = get_user_model().objects.filter(username=payload.clinician_username).first()
        if clinician is None:
            raise Invalid("clinician_username: no such person", path="clinician_username")
    team = _team_or_404(payload.team_id) if payload.team_id is not None else None
    p = pair_co_response(
        call=call,
        clinician=clinician,
        team=team,
        police_call_sign=payload.police_call_sign,
        agency=payload.agency,
        actor=actor,
        program=current_program(),
        override_reason=payload.override_reason,
    )
    p.team.refresh_from_db()
    return {
        "id": p.pk,
        "call_id": call.pk,
        "team_id": p.team_id,
        "clinician_id": p.clinician_id,
        "clinician": p.clinician.get_username(),
        "police_unit": p.police_unit.call_sign,
        "agency": p.police_unit.agency,
        "status": _pair_status(p),
        "override": _override_out(p.route_override),
    }


# ------------------------------------------------------------------ teams


def _team_rows() -> list[dict]:
    current = dict(Team.objects.values_list("id", "current_call_id"))
    return [
        {**row, "current_call_id": current.get(row["id"])}
        for row in selectors.board_teams(program=current_program())
    ]


class TeamPageOut(PageOut):
    items: list[TeamOut]


@router.get("/teams", response={200: TeamPageOut, 403: ErrorOut, 422: ErrorOut}, tags=["teams"])
def teams(
    request,
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})"),
):
    """Every active team: status, staffing on shift, last position (stale flagged);
    a page (default and at most 500) with the total."""
    require(request, "view_calls", "dispatch")
    return list_page(_team_rows(), cursor=cursor, limit=limit).out()


@router.post("/teams", response={201: TeamOut, **ERRORS}, tags=["teams"])
def new_team(request, payload: TeamIn):
    actor = require(request, "manage_teams")
    program = current_program()
    unit_key = payload.unit_key or program.team_unit
    units = [k for k, u in program.units.items() if u.kind in ("team", "co_response")]
    if unit_key not in units:
        raise Invalid(
            f"unit_key: the program has no field unit {unit_key!r} (its field units: {units})",
            path="unit_key",
        )
    t = create_team(name=payload.name, unit_key=unit_key, actor=actor)
    return Status(201, next(r for r in _team_rows() if r["id"] == t.pk))


@router.post("/teams/{team_id}/shifts", response={201: ShiftOut, **ERRORS}, tags=["staffing"])
def new_shift(request, team_id: int, payload: ShiftIn):
    """A shift: each member a responder of the position's discipline with the program's
    required training current through the shift, on no other shift at the same time."""
    actor = require(request, "manage_teams")
    team = _team_or_404(team_id)
    users = get_user_model().objects.in_bulk(
        [m.username for m in payload.members], field_name="username"
    )
    members = []
    for i, m in enumerate(payload.members):
        if m.username not in users:
            raise Invalid(f"members[{i}].username: no such person", path=f"members[{i}].username")
        members.append((users[m.username], m.discipline))
    s = start_shift(
        team=team,
        members=members,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        actor=actor,
        program=current_program(),
    )
    return Status(
        201, {"id": s.pk, "team_id": team.pk, "starts_at": s.starts_at, "ends_at": s.ends_at}
    )


def _shift_out(s: Shift) -> dict:
    return {
        "id": s.pk,
        "team_id": s.team_id,
        "team": s.team.name,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "members": [
            {"username": m.user.get_username(), "discipline": m.discipline} for m in s.members.all()
        ],
    }


@router.get("/shifts", response={200: list[ShiftDetailOut], 403: ErrorOut}, tags=["staffing"])
def shifts(request, days: int = 7):
    """Shifts in force now or starting within ``days`` (1-31), with their members."""
    require(request, "manage_teams")
    days = max(1, min(days, 31))
    return [_shift_out(s) for s in selectors.shifts_around(now=timezone.now(), days=days)]


@router.post(
    "/shifts/{shift_id}/end", response={200: ShiftDetailOut, 204: None, **ERRORS}, tags=["staffing"]
)
def finish_shift(request, shift_id: int):
    """End a shift now (204: a shift not yet started is cancelled)."""
    actor = require(request, "manage_teams")
    shift = object_or_404(Shift, shift_id, what="shift", path="shift_id")
    s = end_shift(shift=shift, actor=actor)
    if s is None:
        return Status(204, None)
    return _shift_out(s)


@router.get("/training", response={200: TrainingOverviewOut, 403: ErrorOut}, tags=["staffing"])
def training(request):
    """The program's required trainings and every responder's standing in them today."""
    require(request, "manage_teams")
    program = current_program()
    today = timezone.now().astimezone(program.zone).date()
    return {
        "program": program.name,
        "on": today,
        "requirements": [
            {
                "key": t.key,
                "label": t.label,
                "renew_every_months": t.renew_every_months,
                "disciplines": list(t.disciplines),
            }
            for t in program.trainings.values()
        ],
        "responders": [
            {
                "username": row["user"].get_username(),
                "discipline": row["discipline"],
                "ready": row["ready"],
                "trainings": [
                    {
                        "training": st.training.key,
                        "state": st.state,
                        "completed_on": st.completed_on,
                        "until": st.until,
                    }
                    for st in row["statuses"]
                ],
            }
            for row in selectors.responders_with_training(program=program, on=today)
        ],
    }


@router.post("/training/records", response={201: TrainingRecordOut, **ERRORS}, tags=["staffing"])
def new_training_record(request, payload: TrainingRecordIn):
    """Record a person's completion of a required training (with the certificate's own
    expiry, if it has one)."""
    actor = require(request, "manage_teams")
    user = get_user_model().objects.filter(username=payload.username).first()
    if user is None:
        raise Invalid("username: no such person", path="username")
    r = record_training(
        user=user,
        training=payload.training,
        completed_on=payload.completed_on,
        expires_on=payload.expires_on,
        note=payload.note,
        actor=actor,
        program=current_program(),
    )
    return Status(
        201,
        {
            "id": r.pk,
            "username": user.get_username(),
            "training": r.training,
            "completed_on": r.completed_on,
            "expires_on": r.expires_on,
            "note": r.note,
        },
    )


def _status_out(t: Team) -> dict:
    return {
        "team_id": t.pk,
        "status": t.status,
        "current_call_id": t.current_call_id,
        "status_changed_at": t.status_changed_at,
    }


@router.post("/teams/{team_id}/status", response={200: TeamStatusOut, **ERRORS}, tags=["teams"])
def set_status(request, team_id: int, payload: StatusIn):
    """Change a team's status through the transition table (dispatched: use assign).

    An ``Idempotency-Key`` header (a device's own key for one tap, 1-64 characters) makes
    a repeated delivery safe: the first changes the status, a replay of the same key
    answers the same status and changes nothing."""
    team = _team_or_404(team_id)
    actor = _team_actor(request, team)
    t = change_status(
        team=team,
        status=payload.status,
        actor=actor,
        note=payload.note,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return _status_out(t)


@router.post("/teams/{team_id}/backup", response={201: BackupOut, **ERRORS}, tags=["teams"])
def backup(request, team_id: int, payload: BackupIn):
    """Request police backup: a linked standard police request at top priority + alarm."""
    team = _team_or_404(team_id)
    actor = _team_actor(request, team)
    b = request_backup(team=team, actor=actor, note=payload.note)
    return Status(
        201,
        {"backup_call_id": b.pk, "call_id": b.parent_id, "priority": b.priority, "route": b.route},
    )


@router.post("/teams/{team_id}/clear", response={200: DispositionOut, **ERRORS}, tags=["teams"])
def clear(request, team_id: int, payload: DispositionIn):
    """Clear the team's call with a disposition; the team becomes available."""
    team = _team_or_404(team_id)
    actor = _team_actor(request, team)
    d = clear_call(team=team, disposition=DispositionInput(**payload.dict()), actor=actor)
    return {"call_id": d.call_id, "outcome": d.outcome, "team_id": team.pk}


@router.get("/me", response={200: MeOut, 403: ErrorOut}, tags=["teams"])
def me(request):
    """The responder's team on shift now and its current call."""
    actor = require(request, "respond")
    team = selectors.team_for_user(user=actor.user) if actor.user else None
    if team is None:
        return {"team": None, "call_id": None}
    row = next((r for r in _team_rows() if r["id"] == team.pk), None)
    return {"team": row, "call_id": team.current_call_id}


# ------------------------------------------------------------------ AVL


@router.post("/avl", response={200: AvlOut, **ERRORS}, tags=["avl"])
def avl(request, payload: AvlIn):
    """A batch of GPS fixes from a responder device; stored, then broadcast."""
    actor = require(request, "post_avl")
    if actor.api_client is not None:
        if payload.team_id is None:
            raise Invalid("team_id: required for API clients", path="team_id")
        team = _team_or_404(payload.team_id)
    else:
        team = selectors.team_for_user(user=actor.user)
        if team is None:
            raise Forbidden(f"{actor.label} is not on shift with a team")
        if payload.team_id is not None and payload.team_id != team.pk:
            raise Forbidden(f"{actor.label} is not on shift with team {payload.team_id}")
    rows = record_positions(
        team=team,
        fixes=[Fix(**f.dict()) for f in payload.fixes],
        actor=actor,
        device_user=actor.user,
        now=timezone.now(),
    )
    return {"team_id": team.pk, "stored": len(rows)}


# ------------------------------------------------------------------ backup alarm, board actions


def _ack_out(ack, created: bool) -> dict:
    view = selectors.ack_view(ack)
    return {**view, "call_id": ack.backup_call.parent_id, "created": created}


@router.post(
    "/backups/{backup_call_id}/ack", response={200: BackupAckOut, **ERRORS}, tags=["dispatch"]
)
def ack_backup(request, backup_call_id: int):
    """A dispatcher saw a team's backup request: recorded once (who, when); every board
    clears its alarm and the team's phone shows who saw it. Repeating it changes nothing."""
    actor = require(request, "dispatch")
    ack, created = acknowledge_backup(backup_call_id=backup_call_id, actor=actor)
    return _ack_out(ack, created)


@router.get(
    "/backups/{backup_call_id}/ack",
    response={200: BackupAckOut, 403: ErrorOut, 404: ErrorOut},
    tags=["dispatch"],
)
def backup_ack(request, backup_call_id: int):
    """Who acknowledged a backup request and when (404 while nobody has). Dispatchers,
    and the responder whose team asked."""
    actor = require(request, "dispatch", "respond")
    ack = selectors.backup_ack(backup_call_id=backup_call_id)
    if not can(actor, "dispatch"):
        mine = selectors.team_for_user(user=actor.user)
        if mine is None or ack is None or ack.team_id != mine.pk:
            # a responder learns nothing about other teams' requests
            raise NotFound(
                f"backup_call_id: no acknowledged request {backup_call_id} of your team",
                path="backup_call_id",
            )
    if ack is None:
        raise NotFound(
            f"backup_call_id: backup request {backup_call_id} is not acknowledged",
            path="backup_call_id",
        )
    return _ack_out(ack, False)


@router.post("/calls/{call_id}/close", response={200: CloseOut, **ERRORS}, tags=["dispatch"])
def close(request, call_id: int, payload: CloseIn):
    """A dispatcher closes an open call no team is on, with a disposition
    (``handled_by_police``, ``duplicate``, ``cancelled_by_caller``, ``no_response_needed``,
    ``unable_to_locate``); a call with a team on it answers 409."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    c = close_call_by_dispatch(
        call=call, actor=actor, disposition=payload.disposition, note=payload.note
    )
    return {
        "call_id": c.pk,
        "state": c.state,
        "disposition": payload.disposition,
        "closed_at": c.closed_at,
    }


@router.post("/calls/{call_id}/notes", response={201: NoteOut, **ERRORS}, tags=["dispatch"])
def note(request, call_id: int, payload: NoteIn):
    """A dispatcher's note on an open call's timeline."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    line = add_note(call=call, actor=actor, text=payload.text)
    return Status(
        201,
        {
            "call_id": call.pk,
            "kind": line.kind,
            "text": line.text,
            "by": actor.user.get_username() if actor.user is not None else actor.label,
            "at": line.at,
        },
    )

"""Dispatch, teams in the field, AVL and co-response endpoints (mounted under /api)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field

from heart.accounts.auth import can, require
from heart.apikit import ERRORS, MAX_PAGE, ErrorOut, PageOut, list_page, object_or_404
from heart.calls.models import Call
from heart.errors import Forbidden, Invalid
from heart.program_in_force import current_program
from heart.teams import selectors
from heart.teams.models import Team
from heart.teams.services import (
    DispositionInput,
    Fix,
    assign_team,
    change_status,
    clear_call,
    create_team,
    pair_co_response,
    record_positions,
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
    unit: str | None
    picks: list[PickOut]
    shortfalls: list[ShortfallOut]
    why_none: str


class AssignIn(Schema):
    team_id: int


class AssignmentOut(Schema):
    call_id: int
    team_id: int
    status: str
    assigned_at: dt.datetime


class TeamOut(Schema):
    id: int
    name: str
    unit_key: str
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
        description="available, dispatched, en_route, on_scene, transporting, clearing, out_of_service"
    )
    note: str = Field("", max_length=300)


class TeamStatusOut(Schema):
    team_id: int
    status: str
    current_call_id: int | None
    status_changed_at: dt.datetime | None


class BackupIn(Schema):
    note: str = Field("", max_length=500)


class BackupOut(Schema):
    backup_call_id: int
    call_id: int
    priority: str
    route: str


class DispositionIn(Schema):
    outcome: str = Field(
        description="resolved_on_scene | transported | referred | refused | unable_to_locate | police_took_over"
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
    unit_key: str = Field("crt", max_length=40)


class MemberIn(Schema):
    username: str
    discipline: str


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
    clinician_username: str
    police_call_sign: str = Field(min_length=1, max_length=40)
    agency: str = Field("police", max_length=100)


class CoResponseOut(Schema):
    call_id: int
    clinician_id: int
    police_unit: str


# ------------------------------------------------------------------ dispatch


@router.get(
    "/calls/{call_id}/recommendation",
    response={200: RecommendationOut, **ERRORS},
    tags=["dispatch"],
)
def recommendation(request, call_id: int):
    """Available, staffed, on-shift teams ranked by ETA, and why others cannot go."""
    require(request, "dispatch")
    call = _call_or_404(call_id)
    program = current_program()
    # the team unit serving the call's route; on other routes the dispatcher may still
    # look at the program's field team (whether it may go is the dispatcher's call)
    unit = program.team_unit_for_route(call.route) or program.team_unit
    rec = selectors.recommendation_for(call=call, program=program, unit_key=unit) if unit else None
    if rec is None:
        return {
            "call_id": call.pk,
            "route": call.route,
            "unit": None,
            "picks": [],
            "shortfalls": [],
            "why_none": "no field teams serve this route",
        }
    names = dict(Team.objects.values_list("id", "name"))
    body = rec.as_dict()
    for pick in body["picks"]:
        pick["team"] = names.get(pick["team_id"], "")
    return {"call_id": call.pk, "route": call.route, "unit": unit, **body}


@router.post("/calls/{call_id}/assign", response={200: AssignmentOut, **ERRORS}, tags=["dispatch"])
def assign(request, call_id: int, payload: AssignIn):
    """Assign a team; a second dispatcher assigning the same call or team gets 409."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    team = _team_or_404(payload.team_id)
    a = assign_team(call=call, team=team, actor=actor, program=current_program())
    return {
        "call_id": call.pk,
        "team_id": team.pk,
        "status": "dispatched",
        "assigned_at": a.assigned_at,
    }


@router.post(
    "/calls/{call_id}/co-response", response={200: CoResponseOut, **ERRORS}, tags=["dispatch"]
)
def co_response(request, call_id: int, payload: CoResponseIn):
    """Pair a clinician with a police unit (an external unit record) on a co_response call."""
    actor = require(request, "dispatch")
    call = _call_or_404(call_id)
    clinician = get_user_model().objects.filter(username=payload.clinician_username).first()
    if clinician is None:
        raise Invalid("clinician_username: no such person", path="clinician_username")
    p = pair_co_response(
        call=call,
        clinician=clinician,
        police_call_sign=payload.police_call_sign,
        agency=payload.agency,
        actor=actor,
    )
    return {
        "call_id": call.pk,
        "clinician_id": clinician.pk,
        "police_unit": p.police_unit.call_sign,
    }


# ------------------------------------------------------------------ teams


def _team_rows() -> list[dict]:
    current = dict(Team.objects.values_list("id", "current_call_id"))
    return [{**row, "current_call_id": current.get(row["id"])} for row in selectors.board_teams()]


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
    if payload.unit_key not in current_program().units:
        raise Invalid(f"unit_key: the program has no unit {payload.unit_key!r}", path="unit_key")
    t = create_team(name=payload.name, unit_key=payload.unit_key, actor=actor)
    return Status(201, next(r for r in _team_rows() if r["id"] == t.pk))


@router.post("/teams/{team_id}/shifts", response={201: ShiftOut, **ERRORS}, tags=["teams"])
def new_shift(request, team_id: int, payload: ShiftIn):
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
    )
    return Status(
        201, {"id": s.pk, "team_id": team.pk, "starts_at": s.starts_at, "ends_at": s.ends_at}
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
    """Change a team's status through the transition table (dispatched: use assign)."""
    team = _team_or_404(team_id)
    actor = _team_actor(request, team)
    t = change_status(team=team, status=payload.status, actor=actor, note=payload.note)
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

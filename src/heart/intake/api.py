"""The ``/calls`` endpoints: calls delivered by a CAD (EIDO or plain JSON), reading them
(a responder: only their own team's call), and the crisis-line clinicians' outcomes
(which may re-route a call and recommend a team)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import AwareDatetime, Field, field_validator, model_validator

from heart.accounts.auth import can, require
from heart.apikit import DEFAULT_PAGE, MAX_PAGE, ErrorOut, PageOut, object_or_404
from heart.calls import selectors
from heart.calls.models import Call
from heart.calls.schemas import CallDetailOut, CallSummaryOut, ReasonOut
from heart.calls.validation import check_value, text_problem
from heart.domain.program import ROUTES
from heart.domain.triage import CallInput
from heart.errors import Forbidden, Invalid, NotFound, Unavailable
from heart.intake import locate
from heart.intake.eido import EidoDocument, to_call
from heart.intake.services import (
    IntakeResult,
    claim_ccd_call,
    receive_call,
    record_ccd_outcome,
    release_ccd_call,
)
from heart.program_in_force import current_program
from heart.teams.selectors import team_for_user

router = Router()


class PickOut(Schema):
    team_id: int
    eta_minutes: float | None
    reason: str
    stale_position: bool


class IntakeOut(Schema):
    id: int
    cad_incident_id: str | None
    created: bool
    route: str
    reasons: list[ReasonOut]
    rules_version: str
    recommended: PickOut | None = None


INTAKE_RESPONSES = {
    200: IntakeOut,
    201: IntakeOut,
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    422: ErrorOut,
}


class CallFieldsIn(Schema):
    """What a call says (plain JSON): the body of a correction (PUT /calls/{id})."""

    received_at: AwareDatetime
    nature: str = Field(min_length=1, max_length=120, description="CAD nature code, e.g. CRISIS")
    priority: str | None = Field(None, max_length=20)
    beat: str | None = Field(None, max_length=20)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: str = Field("", max_length=300)
    callback: str = Field("", max_length=40, description="the caller's callback number")
    narrative: str = Field("", max_length=20_000)
    weapon_flag: bool | None = None
    violence_flag: bool | None = None
    updated_at: AwareDatetime | None = Field(
        None,
        description="The source's version (last-update time): an older delivery is ignored; "
        "once a call has a version, an update without one is refused (409)",
    )

    @field_validator("*", mode="after")
    @classmethod
    def _usable(cls, value):
        return check_value(value)

    @model_validator(mode="after")
    def _both_coordinates(self):
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat must be given together")
        return self


class CallIn(CallFieldsIn):
    """A call from a CAD (or any client) in plain JSON."""

    cad_incident_id: str | None = Field(
        None,
        max_length=200,
        description="Idempotency key, scoped to the sender (API client or person): a repeat "
        "by the same sender updates the same call; another sender's id is a new call",
    )


def _input(payload: CallFieldsIn, cad_incident_id: str | None = None) -> CallInput:
    return CallInput(
        received_at=payload.received_at,
        nature=payload.nature,
        id=cad_incident_id,
        priority=payload.priority,
        lon=payload.lon,
        lat=payload.lat,
        beat=payload.beat,
        narrative=payload.narrative or None,
        weapon_flag=payload.weapon_flag,
        violence_flag=payload.violence_flag,
    )


def _source_label(actor) -> str:
    return "api" if actor.api_client is None else f"api:{actor.api_client.name}"[:40]


def _intake_out(res: IntakeResult) -> HttpResponse:
    """The IntakeOut body, serialised directly: every field is built here from stored
    values of known types, so the response model's validation (a quarter of a
    millisecond per call at hundreds of calls a second) would check nothing new. The
    schema still documents it in OpenAPI; tests compare the two."""
    c = res.call
    best = res.recommendation.best if res.recommendation else None
    body = {
        "id": c.pk,
        "cad_incident_id": c.cad_incident_id,
        "created": res.created,
        "route": c.route,
        "reasons": c.reasons,
        "rules_version": c.rules_version,
        "recommended": best.as_dict() if best else None,
    }
    return HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status=201 if res.created else 200,
        content_type="application/json",
    )


@router.post(
    "/calls/eido",
    response=INTAKE_RESPONSES,
    tags=["intake"],
    summary="Deliver a call as NENA EIDO JSON (idempotent on the EIDO $id)",
)
def post_eido(request, payload: EidoDocument):
    actor = require(request, "intake_call")
    parsed = to_call(payload)
    res = receive_call(
        call=parsed.call,
        actor=actor,
        program=current_program(),
        cad_incident_id=parsed.incident_id,
        source="eido",
        address=parsed.address,
        incident_type_text=parsed.incident_type_text,
        source_updated_at=parsed.updated_at,
        callback=parsed.callback,
    )
    return _intake_out(res)


@router.post(
    "/calls",
    response=INTAKE_RESPONSES,
    tags=["intake"],
    summary="Deliver a call as plain JSON (idempotent on cad_incident_id)",
)
def post_call(request, payload: CallIn):
    actor = require(request, "intake_call")
    res = receive_call(
        call=_input(payload, payload.cad_incident_id),
        actor=actor,
        program=current_program(),
        cad_incident_id=payload.cad_incident_id,
        source=_source_label(actor),
        address=payload.address,
        source_updated_at=payload.updated_at,
        callback=payload.callback,
    )
    return _intake_out(res)


@router.put(
    "/calls/{call_id}",
    response={
        200: IntakeOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    tags=["intake"],
    summary="Correct a stored call (its own source, or update_any_call)",
)
def put_call(request, call_id: int, payload: CallFieldsIn):
    """Re-triage a stored call with corrected facts. The call's own source (the API
    client or the person who delivered it) may; anyone else needs ``update_any_call``
    (supervisors, admins). A call with a version needs ``updated_at`` no older than it."""
    actor = require(request, "intake_call")
    c = object_or_404(Call, call_id, what="call", path="call_id")
    if c.source_key != actor.source_key and not can(actor, "update_any_call"):
        raise Forbidden(
            f"{actor.label} may not change call {call_id}: another source delivered it "
            "(needs update_any_call)"
        )
    res = receive_call(
        call=_input(payload, c.cad_incident_id),
        actor=actor,
        program=current_program(),
        call_id=c.pk,
        source=actor.label[:40],
        address=payload.address,
        incident_type_text=c.incident_type_text,
        source_updated_at=payload.updated_at,
        callback=payload.callback,
    )
    return _intake_out(res)


# ------------------------------------------------------------------ reading calls


class CallPageOut(PageOut):
    items: list[CallSummaryOut]


PAGE_LIMIT = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})")
CURSOR = Query(None, description="next_cursor of the previous page")


@router.get("/calls", response={200: CallPageOut, 403: ErrorOut, 422: ErrorOut}, tags=["calls"])
def list_calls(
    request,
    route: str | None = Query(None, max_length=40),
    cursor: str | None = CURSOR,
    limit: int = PAGE_LIMIT,
):
    """Open calls, newest first: a page (at most 500) with the total and the cursor of
    the next page (keyset on received_at, id); ``route`` one of the engine's routes."""
    require(request, "view_calls")
    if route is not None and route not in ROUTES:
        raise Invalid(f"route: unknown {route!r} (one of {list(ROUTES)})", path="route")
    return selectors.open_calls_page(route=route, cursor=cursor, limit=limit).out()


@router.get(
    "/calls/{call_id}", response={200: CallDetailOut, 403: ErrorOut, 404: ErrorOut}, tags=["calls"]
)
def get_call(request, call_id: int):
    """One call with its triage reasons and timeline (responders: their own call)."""
    actor = request.auth
    if not can(actor, "view_calls"):
        require(request, "respond")
        team = team_for_user(user=actor.user)
        if team is None or team.current_call_id != call_id:
            raise Forbidden(f"{actor.label} may not see calls other than their team's")
    c = selectors.call_with_timeline(call_id)
    if c is None:
        raise NotFound(f"call: no call {call_id}", path="call_id")
    return c


# ------------------------------------------------------------------ crisis line


class CcdOutcomeIn(Schema):
    outcome: str = Field(max_length=40, description="resolved_by_phone | send_team | hand_back")
    notes: str = Field("", max_length=5000)


class CcdOutcomeOut(Schema):
    call_id: int
    outcome: str
    route: str
    state: str


@router.get(
    "/ccd/queue", response={200: CallPageOut, 403: ErrorOut, 422: ErrorOut}, tags=["crisis line"]
)
def ccd_queue(request, cursor: str | None = CURSOR, limit: int = PAGE_LIMIT):
    """Calls routed to crisis call diversion, waiting for a clinician, oldest first
    (a page with the total waiting)."""
    require(request, "ccd_queue")
    return selectors.ccd_queue(cursor=cursor, limit=limit).out()


@router.post(
    "/calls/{call_id}/ccd-outcome",
    response={200: CcdOutcomeOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["crisis line"],
)
def ccd_outcome(request, call_id: int, payload: CcdOutcomeIn):
    actor = require(request, "ccd_queue")
    c = object_or_404(Call, call_id, what="call", path="call_id")
    record_ccd_outcome(call=c, outcome=payload.outcome, notes=payload.notes, actor=actor)
    c.refresh_from_db()
    return {"call_id": c.pk, "outcome": payload.outcome, "route": c.route, "state": c.state}


class ClaimOut(Schema):
    call_id: int
    claimed_by: str | None
    claimed_at: str | None


@router.post(
    "/calls/{call_id}/ccd-claim",
    response={200: ClaimOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["crisis line"],
    summary="Take a waiting crisis-line call (one clinician at a time; 409 names who has it)",
)
def ccd_claim(request, call_id: int):
    actor = require(request, "ccd_queue")
    claim = claim_ccd_call(call_id=call_id, actor=actor)
    return {
        "call_id": call_id,
        "claimed_by": claim.clinician_label,
        "claimed_at": claim.claimed_at.isoformat(),
    }


@router.post(
    "/calls/{call_id}/ccd-release",
    response={200: ClaimOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["crisis line"],
    summary="Give a crisis-line call back to the queue (only its holder)",
)
def ccd_release(request, call_id: int):
    actor = require(request, "ccd_queue")
    release_ccd_call(call_id=call_id, actor=actor)
    return {"call_id": call_id, "claimed_by": None, "claimed_at": None}


# ------------------------------------------------------------------ address lookup


class GeocodeMatchOut(Schema):
    lon: float
    lat: float
    label: str
    score: float
    source: str


class GeocodeOut(Schema):
    configured: bool
    matches: list[GeocodeMatchOut]


@router.get(
    "/geocode",
    response={200: GeocodeOut, 403: ErrorOut, 422: ErrorOut, 503: ErrorOut},
    tags=["intake"],
    summary="Look an address up in the configured geocoder (matches, best first)",
)
def geocode(
    request,
    q: str = Query(..., min_length=1, max_length=300, description="the address as typed"),
    limit: int = Query(5, ge=1, le=10),
):
    """For the call-taker form: the configured source's matches (an address-point file,
    Nominatim or Pelias), best first, each with its score (0-1) and source. No geocoder
    configured: ``configured`` false and no matches (place the point on the map). A
    source that does not answer in time: 503 (the form says to use the map)."""
    actor = require(request, "intake_call")
    if actor.api_client is not None:  # the form's helper, not a geocoding service for CADs
        raise Forbidden(f"{actor.label} may not look addresses up (call takers signed in only)")
    problem = text_problem(q)
    if problem:
        raise Invalid(f"q: {problem}", path="q")
    if not locate.configured():
        return {"configured": False, "matches": []}
    try:
        matches = locate.search(q, limit=limit)
    except locate.LookupFailed as exc:
        raise Unavailable(
            f"q: the address lookup did not answer ({exc}); place the point on the map"
        ) from None
    return {
        "configured": True,
        "matches": [
            {"lon": m.lon, "lat": m.lat, "label": m.label, "score": m.score, "source": m.source}
            for m in matches
        ],
    }

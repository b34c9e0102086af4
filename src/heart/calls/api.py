"""The JSON API (django-ninja): OpenAPI generated at /api/openapi.json.

Thin: parse, check the role (heart.accounts.auth.require), call a service or a
selector, serialise. Errors: {"detail": "...", "errors": [{"path", "problem"}]}.
"""

from __future__ import annotations

import datetime as dt
import json

from django.db import DatabaseError, DataError
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import AwareDatetime, Field, field_validator, model_validator

from heart.accounts.auth import AUTH, require
from heart.calls import selectors
from heart.calls.eido import EidoDocument, EidoError, to_call
from heart.calls.errors import NotFound, ServiceError
from heart.calls.intake import current_program, receive_call, record_ccd_outcome
from heart.calls.models import Call
from heart.calls.validation import check_value
from heart.domain.triage import CallInput

api = NinjaAPI(
    title="HEART live operations API",
    version="1",
    description=(
        "Call intake (NENA EIDO or plain JSON), dispatch, teams, AVL, crisis line. "
        "Clients send `Authorization: Bearer <token>` (`heart apiclient create NAME`); "
        "people use their signed-in session (CSRF token on writes). See docs/api.md."
    ),
    auth=AUTH,
    urls_namespace="api",
)


# ------------------------------------------------------------------ errors


class Problem(Schema):
    path: str
    problem: str


class ErrorOut(Schema):
    detail: str
    errors: list[Problem] = []


def _error(request, status: int, detail: str, errors: list[dict] | None = None):
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


def _path(loc) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


@api.exception_handler(ValidationError)
def _validation(request, exc: ValidationError):
    errors = [
        {"path": _path(e.get("loc", ())), "problem": e.get("msg", "invalid")} for e in exc.errors
    ]
    detail = "; ".join(f"{e['path']}: {e['problem']}" for e in errors)
    return _error(request, 422, detail, errors)


@api.exception_handler(ServiceError)
def _service(request, exc: ServiceError):
    return _error(
        request,
        exc.status,
        exc.message,
        [{"path": exc.path, "problem": exc.message}] if exc.path else [],
    )


@api.exception_handler(EidoError)
def _eido(request, exc: EidoError):
    return _error(request, 422, str(exc), [{"path": exc.path, "problem": exc.problem}])


@api.exception_handler(HttpError)
def _http(request, exc: HttpError):
    if exc.status_code == 400 and "parse request body" in str(exc):
        try:
            json.loads(request.body)
            problem = "not a JSON object of the expected shape"
        except (ValueError, UnicodeDecodeError) as e:
            problem = f"not valid JSON ({e})"
        return _error(request, 400, f"body: {problem}", [{"path": "body", "problem": problem}])
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(AuthenticationError)
def _unauth(request, exc):
    return _error(
        request, 401, "authentication required: a client bearer token or a signed-in session"
    )


@api.exception_handler(DataError)
def _data(request, exc):  # a value the database cannot store (should be caught earlier)
    return _error(request, 422, "a value cannot be stored (out of range or invalid characters)")


@api.exception_handler(DatabaseError)
def _db(request, exc):  # e.g. a lock timeout: tell the client to retry, never a 500 page
    return _error(request, 503, "the database is busy; retry")


# ------------------------------------------------------------------ schemas


class ReasonOut(Schema):
    code: str
    text: str


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


class CallIn(Schema):
    """A call from a CAD (or any client) in plain JSON."""

    cad_incident_id: str | None = Field(
        None, max_length=200, description="Idempotency key: a repeat updates the same call"
    )
    received_at: AwareDatetime
    nature: str = Field(min_length=1, max_length=120, description="CAD nature code, e.g. CRISIS")
    priority: str | None = Field(None, max_length=20)
    beat: str | None = Field(None, max_length=20)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: str = Field("", max_length=300)
    narrative: str = Field("", max_length=20_000)
    weapon_flag: bool | None = None
    violence_flag: bool | None = None
    updated_at: AwareDatetime | None = Field(
        None, description="CAD's last-update time: an older delivery is ignored"
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


def _intake_out(res) -> dict:
    c = res.call
    best = res.recommendation.best if res.recommendation else None
    return {
        "id": c.pk,
        "cad_incident_id": c.cad_incident_id,
        "created": res.created,
        "route": c.route,
        "reasons": c.reasons,
        "rules_version": c.rules_version,
        "recommended": None
        if best is None
        else {
            "team_id": int(best.unit_id),
            "eta_minutes": None if best.eta_minutes == float("inf") else round(best.eta_minutes, 1),
            "reason": best.reason,
            "stale_position": best.stale_position,
        },
    }


# ------------------------------------------------------------------ intake


@api.post(
    "/calls/eido",
    response={
        200: IntakeOut,
        201: IntakeOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
    },
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
    )
    return Status(201 if res.created else 200, _intake_out(res))


@api.post(
    "/calls",
    response={
        200: IntakeOut,
        201: IntakeOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
    },
    tags=["intake"],
    summary="Deliver a call as plain JSON (idempotent on cad_incident_id)",
)
def post_call(request, payload: CallIn):
    actor = require(request, "intake_call")
    res = receive_call(
        call=CallInput(
            received_at=payload.received_at,
            nature=payload.nature,
            id=payload.cad_incident_id,
            priority=payload.priority,
            lon=payload.lon,
            lat=payload.lat,
            beat=payload.beat,
            narrative=payload.narrative or None,
            weapon_flag=payload.weapon_flag,
            violence_flag=payload.violence_flag,
        ),
        actor=actor,
        program=current_program(),
        cad_incident_id=payload.cad_incident_id,
        source="api" if actor.api_client is None else f"api:{actor.api_client.name}"[:40],
        address=payload.address,
        source_updated_at=payload.updated_at,
    )
    return Status(201 if res.created else 200, _intake_out(res))


# ------------------------------------------------------------------ reading calls


class CallSummaryOut(Schema):
    id: int
    cad_incident_id: str | None
    received_at: dt.datetime
    nature: str
    priority: str
    route: str
    state: str
    lon: float | None
    lat: float | None
    address: str
    parent_id: int | None


class TimelineOut(Schema):
    kind: str
    at: dt.datetime
    actor_label: str
    team_id: int | None
    text: str
    data: dict


class CallDetailOut(CallSummaryOut):
    beat: str
    narrative: str
    reasons: list[ReasonOut]
    rules_version: str
    timeline: list[TimelineOut]


@api.get("/calls", response={200: list[CallSummaryOut], 403: ErrorOut}, tags=["calls"])
def list_calls(request, route: str | None = None):
    """Open calls, newest first (the board)."""
    require(request, "view_calls")
    return list(selectors.open_calls(route=route))


def _call_or_404(call_id: int) -> Call:
    c = Call.objects.filter(pk=call_id).first()
    if c is None:
        raise NotFound(f"call: no call {call_id}", path="call_id")
    return c


@api.get(
    "/calls/{call_id}", response={200: CallDetailOut, 403: ErrorOut, 404: ErrorOut}, tags=["calls"]
)
def get_call(request, call_id: int):
    """One call with its triage reasons and timeline (responders: their own call)."""
    from heart.accounts.auth import can
    from heart.teams.selectors import team_for_user

    actor = request.auth
    if not can(actor, "view_calls"):
        require(request, "respond")
        team = team_for_user(user=actor.user)
        if team is None or team.current_call_id != call_id:
            raise _forbidden(actor, "see calls other than their team's")
    c = selectors.call_with_timeline(call_id)
    if c is None:
        raise NotFound(f"call: no call {call_id}", path="call_id")
    return c


def _forbidden(actor, what: str):
    from heart.calls.errors import Forbidden

    return Forbidden(f"{actor.label} may not {what}")


# ------------------------------------------------------------------ crisis line


class CcdOutcomeIn(Schema):
    outcome: str = Field(description="resolved_by_phone | send_team | hand_back")
    notes: str = Field("", max_length=5000)


class CcdOutcomeOut(Schema):
    call_id: int
    outcome: str
    route: str
    state: str


@api.get("/ccd/queue", response={200: list[CallSummaryOut], 403: ErrorOut}, tags=["crisis line"])
def ccd_queue(request):
    """Calls routed to crisis call diversion, waiting for a clinician, oldest first."""
    require(request, "ccd_queue")
    return list(selectors.ccd_queue())


@api.post(
    "/calls/{call_id}/ccd-outcome",
    response={200: CcdOutcomeOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["crisis line"],
)
def ccd_outcome(request, call_id: int, payload: CcdOutcomeIn):
    actor = require(request, "ccd_queue")
    c = _call_or_404(call_id)
    record_ccd_outcome(call=c, outcome=payload.outcome, notes=payload.notes, actor=actor)
    c.refresh_from_db()
    return {"call_id": c.pk, "outcome": payload.outcome, "route": c.route, "state": c.state}


# ------------------------------------------------------------------ follow-up, reports


class FollowUpOut(Schema):
    call_id: int
    outcome: str
    recorded_at: dt.datetime
    contact_name: str
    contact_phone: str
    contact_notes: str
    destination: str
    referred_to: str


@api.get("/follow-ups", response={200: list[FollowUpOut], 403: ErrorOut}, tags=["follow-up"])
def follow_ups(request):
    """People who consented to follow-up, with their contact details (care navigators)."""
    require(request, "follow_up")
    return [
        {
            "call_id": d.call_id,
            "outcome": d.outcome,
            "recorded_at": d.recorded_at,
            "contact_name": d.contact_name,
            "contact_phone": d.contact_phone,
            "contact_notes": d.contact_notes,
            "destination": d.destination,
            "referred_to": d.referred_to,
        }
        for d in selectors.follow_ups()
    ]


@api.get("/reports/summary", response={200: dict, 403: ErrorOut}, tags=["reports"])
def report_summary(request):
    """Counts by route, call state and disposition (no personal data)."""
    require(request, "view_reports")
    return selectors.summary()


from heart.teams.api import router as teams_router  # noqa: E402

api.add_router("/", teams_router)

"""The JSON API root (django-ninja): OpenAPI generated at /api/openapi.json.

One place for what every endpoint shares: authentication, the mapping of service errors
and malformed input to ``{"detail": "...", "errors": [{"path", "problem"}]}`` responses
(never an HTML page), and every app's router attached below. The routers themselves are
thin: parse, check the role (heart.accounts.auth.require), call a service or a selector,
serialise.
"""

from __future__ import annotations

import json
import logging

from django.db import DatabaseError, DataError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from heart.accounts.auth import AUTH
from heart.calls.api import router as calls_router
from heart.care.api import router as care_router
from heart.errors import ServiceError
from heart.intake.api import router as intake_router
from heart.intake.eido import EidoError
from heart.teams.api import router as teams_router

log = logging.getLogger(__name__)

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
api.add_router("/", intake_router)
api.add_router("/", calls_router)
api.add_router("/", teams_router)
api.add_router("/care/", care_router)


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


RETRY_AFTER_SECONDS = 1


@api.exception_handler(DatabaseError)
def _db(request, exc):  # e.g. a lock timeout: tell the client to retry, never a 500 page
    # (intake has already retried in the server: heart.calls.contention)
    cause = exc.__cause__
    log.warning(
        "database error answered 503: %s %s",
        type(cause or exc).__name__,
        getattr(cause, "sqlstate", "") or "",
    )
    response = _error(request, 503, f"the database is busy; retry in {RETRY_AFTER_SECONDS} s")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response

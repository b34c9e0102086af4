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

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from heart.accounts.auth import AUTH
from heart.cad.api import router as cad_router
from heart.calls.api import router as calls_router
from heart.care.api import contacts_router as care_contacts_router
from heart.care.api import router as care_router
from heart.errors import ServiceError
from heart.intake.api import router as intake_router
from heart.intake.eido import EidoError
from heart.teams.api import router as teams_router

log = logging.getLogger(__name__)

NESTED_TOO_DEEP = "JSON nested too deeply"


class BodyTooDeep(ValueError):
    """A request body nested deeper than the parser will follow (about 1,000 levels)."""


class NulInBody(ValueError):
    """A NUL character in a string of the body: no database column can store it."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: contains a NUL character")
        self.path = path


def _nul_path(value, path: str = "") -> str | None:
    """Where the first NUL is (a field path like ``members[0].username``), or None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body"
        elif isinstance(item, dict):
            for k, v in item.items():
                if "\x00" in str(k):
                    return where or "body"
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


class JsonBodyParser(Parser):
    """ninja's JSON parser, refusing what no endpoint may take: bodies nested too deep
    to parse (json raises RecursionError, which would end as an HTML 500) and NUL
    characters in any string, on every database (PostgreSQL cannot store them, SQLite
    would). Only a body that spells a NUL escape is walked to find it."""

    def parse_body(self, request):
        try:
            data = super().parse_body(request)
        except RecursionError:
            raise BodyTooDeep(NESTED_TOO_DEEP) from None
        if b"\\u0000" in request.body:
            where = _nul_path(data)
            if where is not None:
                raise NulInBody(where)
        return data


api = NinjaAPI(
    parser=JsonBodyParser(),
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
api.add_router("/", care_contacts_router)
api.add_router("/", cad_router)


def _error(request, status: int, detail: str, errors: list[dict] | None = None, code: str = ""):
    body = {"detail": detail, "errors": errors or []}
    if code:
        body["code"] = code
    return api.create_response(request, body, status=status)


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
        exc.code,
    )


@api.exception_handler(EidoError)
def _eido(request, exc: EidoError):
    return _error(request, 422, str(exc), [{"path": exc.path, "problem": exc.problem}])


@api.exception_handler(HttpError)
def _http(request, exc: HttpError):
    if isinstance(exc.__cause__, NulInBody):
        path = exc.__cause__.path
        return _error(
            request,
            422,
            str(exc.__cause__),
            [{"path": path, "problem": "contains a NUL character"}],
        )
    if isinstance(exc.__cause__, BodyTooDeep):
        return _too_deep(request, exc.__cause__)
    if exc.status_code == 400 and "parse request body" in str(exc):
        try:
            json.loads(request.body)
            problem = "not a JSON object of the expected shape"
        except (ValueError, UnicodeDecodeError) as e:
            problem = f"not valid JSON ({e})"
        except RecursionError:
            problem = NESTED_TOO_DEEP
        return _error(request, 400, f"body: {problem}", [{"path": "body", "problem": problem}])
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(BodyTooDeep)
@api.exception_handler(RecursionError)
def _too_deep(request, exc):
    problem = f"{NESTED_TOO_DEEP} (at most a few hundred levels)"
    return _error(request, 400, f"body: {problem}", [{"path": "body", "problem": problem}])


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    problem = f"the request body is larger than {limit:,} bytes"
    return _error(request, 413, f"body: {problem}", [{"path": "body", "problem": problem}])


@api.exception_handler(AuthenticationError)
def _unauth(request, exc):
    return _error(
        request, 401, "authentication required: a client bearer token or a signed-in session"
    )


@api.exception_handler(DataError)
@api.exception_handler(OverflowError)
def _data(request, exc):
    # a value the database cannot store: PostgreSQL says DataError, SQLite's driver
    # raises OverflowError for an integer beyond 64 bits (e.g. an id in the path)
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

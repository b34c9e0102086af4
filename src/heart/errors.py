"""Errors raised by the services; the API and pages map them to HTTP status codes.

Plain Python (no Django), so every layer may raise them: the domain-facing services, the
pages and the JSON API all speak the same four outcomes.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, path: str = "", code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        # a stable reason code when a client may act on it (e.g. "route_not_served": the
        # dispatcher may give an override reason)
        self.code = code


class Invalid(ServiceError):
    """Input that cannot be used (422): names the field path and the problem."""

    status = 422


class Conflict(ServiceError):
    """The current state does not allow it, e.g. another dispatcher was first (409)."""

    status = 409


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Unavailable(ServiceError):
    """A service this one relies on did not answer (503), e.g. the geocoder: try again or
    work around it (the message says how)."""

    status = 503

"""What every API router shares: the error body, the error responses to declare, lookups.

This module sits below the apps (it imports none of them); the API root that attaches
every router and maps errors to responses is :mod:`heart.web.api`, above them.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model
from ninja import Schema

from heart.errors import NotFound


class Problem(Schema):
    path: str
    problem: str


class ErrorOut(Schema):
    detail: str
    errors: list[Problem] = []
    code: str = ""  # a stable reason code when there is one (e.g. the dispatch guard's)


# the error responses a writing endpoint declares (OpenAPI); reads declare what they can give
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

M = TypeVar("M", bound=Model)


def object_or_404(model: type[M], pk: int, *, what: str, path: str) -> M:
    """The row, or NotFound naming the path: ``call: no call 12`` at ``call_id``."""
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{what}: no {what} {pk}", path=path)
    return obj

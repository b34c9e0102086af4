"""What every API router shares: the error body, the error responses to declare, lookups,
and paged lists (keyset cursors, totals, a maximum page size).

This module sits below the apps (it imports none of them); the API root that attaches
every router and maps errors to responses is :mod:`heart.web.api`, above them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, Q, QuerySet
from ninja import Schema

from heart.errors import Invalid, NotFound


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


# ------------------------------------------------------------------ paged lists
# Every list endpoint answers {"items": [...], "total": N, "limit": L, "next_cursor": …}:
# at most MAX_PAGE items, the total that matched, and an opaque cursor for the next page
# (null on the last). Nothing is cut silently: a client follows next_cursor to the end.

MAX_PAGE = 500
DEFAULT_PAGE = 100


class PageOut(Schema):
    total: int
    limit: int
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list
    total: int
    limit: int
    next_cursor: str | None

    def out(self, convert=None) -> dict:
        items = self.items if convert is None else [convert(i) for i in self.items]
        return {
            "items": items,
            "total": self.total,
            "limit": self.limit,
            "next_cursor": self.next_cursor,
        }


def encode_cursor(values: tuple) -> str:
    raw = json.dumps(
        [v.isoformat() if isinstance(v, dt.datetime) else v for v in values],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...], *, path: str = "cursor") -> tuple:
    """The key values in a cursor, or Invalid naming ``path``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("shape")
        out = []
        for v, kind in zip(values, kinds, strict=True):
            if kind is dt.datetime:
                v = dt.datetime.fromisoformat(v)
                if v.tzinfo is None:
                    raise ValueError("naive")
            elif not isinstance(v, kind) or isinstance(v, bool):
                raise ValueError("type")
            out.append(v)
        return tuple(out)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise Invalid(f"{path}: not a cursor of this list", path=path) from None


def after_cursor(
    qs: QuerySet, *, key: tuple[str, str], kinds: tuple[type, type], descending: bool, cursor: str
) -> QuerySet:
    """The rows of ``qs`` that come after ``cursor`` in the order of ``key``."""
    first, tie = key
    a, b = decode_cursor(cursor, kinds)
    op = "lt" if descending else "gt"
    return qs.filter(Q(**{f"{first}__{op}": a}) | Q(**{first: a, f"{tie}__{op}": b}))


def keyset_page(
    qs: QuerySet,
    *,
    key: tuple[str, str],
    kinds: tuple[type, type],
    descending: bool,
    cursor: str | None,
    limit: int,
    count: bool = True,
) -> Page:
    """One page of ``qs`` in the order of ``key`` (a column, then a unique tie-breaker
    such as ``id``), starting after ``cursor``: keyset paging, so a page costs the same
    wherever it is and rows arriving meanwhile neither repeat nor vanish from the pages
    still to come. ``total`` counts the whole filtered list (before the cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: between 1 and {MAX_PAGE}", path="limit")
    first, tie = key
    total = qs.count() if count else -1
    ordered = qs.order_by(*(f"-{k}" for k in key) if descending else key)
    if cursor:
        ordered = after_cursor(ordered, key=key, kinds=kinds, descending=descending, cursor=cursor)
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more:
        last = rows[-1]
        get = last.get if isinstance(last, dict) else lambda k: getattr(last, k)
        nxt = encode_cursor((get(first), get(tie)))
    return Page(rows, total, limit, nxt)


def list_page(rows: list, *, cursor: str | None, limit: int) -> Page:
    """Paging of a list already in memory (a few hundred teams): the cursor is an offset."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: between 1 and {MAX_PAGE}", path="limit")
    start = decode_cursor(cursor, (int,))[0] if cursor else 0
    if start < 0:
        raise Invalid("cursor: not a cursor of this list", path="cursor")
    chunk = rows[start : start + limit]
    nxt = encode_cursor((start + limit,)) if start + limit < len(rows) else None
    return Page(chunk, len(rows), limit, nxt)

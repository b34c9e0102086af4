"""Field checks shared by the care services: each names the field in its Invalid and
runs before anything is written; lookups raise NotFound / Conflict naming the id."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone

from heart.care.config import rules
from heart.care.models import Person
from heart.domain.care import normalize_phone
from heart.errors import Conflict, Invalid, NotFound


def parse_date_of_birth(value, *, path: str = "date_of_birth", today: dt.date | None = None):
    """None/"" -> None; "YYYY-MM-DD" or a date -> date; an impossible date -> Invalid."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        text = str(value).strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise Invalid(f"{path}: {text!r} is not a date (YYYY-MM-DD)", path=path)
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise Invalid(
                f"{path}: {text!r} is not a real date (no such day in that month)", path=path
            ) from None
    today = today or timezone.localdate()
    if value > today:
        raise Invalid(f"{path}: {value.isoformat()} is in the future", path=path)
    if value.year < 1900:
        raise Invalid(f"{path}: {value.isoformat()} is before 1900", path=path)
    return value


def clean_text(value: str, *, path: str, max_len: int) -> str:
    value = (value or "").strip()
    if "\x00" in value:  # PostgreSQL cannot store it; SQLite must not either
        raise Invalid(f"{path}: contains a NUL character", path=path)
    if len(value) > max_len:
        raise Invalid(f"{path}: {len(value)} characters, at most {max_len} allowed", path=path)
    return value


def clean_note(value: str, *, path: str = "note") -> str:
    return clean_text(value, path=path, max_len=rules().note_max_chars)


def clean_phone(value: str, *, path: str = "phone") -> str:
    value = clean_text(value, path=path, max_len=40)
    if value:
        digits = normalize_phone(value)
        if not 7 <= len(digits) <= 15 or re.search(r"[^\d\s()+.\-x]", value):
            raise Invalid(f"{path}: not a phone number (7 to 15 digits)", path=path)
    return value


def clean_languages(values, *, path: str = "languages") -> list[str]:
    out = []
    for i, v in enumerate(values or []):
        v = str(v).strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", v):
            raise Invalid(f"{path}[{i}]: {v!r} is not a language code (e.g. en, es)", path=path)
        out.append(v)
    return out


def get_by_pk(model, pk, path: str, what: str, *, for_update: bool = False):
    """The row, or NotFound "<path>: no <what> <pk>"; ``for_update`` locks it (call it
    inside the transaction that changes the row)."""
    qs = model.objects.select_for_update() if for_update else model.objects
    obj = qs.filter(pk=pk).first() if pk is not None else None
    if obj is None:
        raise NotFound(f"{path}: no {what} {pk}", path=path)
    return obj


def active_person(pk, path: str = "person_id") -> Person:
    p = get_by_pk(Person, pk, path, "person")
    if p.erased_at is not None:
        raise Conflict(f"{path}: person {pk} was erased", path=path)
    if p.merged_into_id is not None:
        raise Conflict(f"{path}: person {pk} was merged into person {p.merged_into_id}", path=path)
    return p

"""Person records: create and update (every field optional), and the person a
disposition's contact details name (an exact match is reused)."""

from __future__ import annotations

from django.db import transaction

from heart.accounts.actors import Actor
from heart.care.access import log_access, require_see_people
from heart.care.models import Person
from heart.care.services.validation import (
    active_person,
    clean_languages,
    clean_note,
    clean_phone,
    clean_text,
    parse_date_of_birth,
)
from heart.domain.care import normalize_address, normalize_name, normalize_phone
from heart.errors import Invalid


def set_person_fields(
    p: Person,
    *,
    name=None,
    date_of_birth=None,
    phone=None,
    address=None,
    languages=None,
    notes=None,
) -> list[str]:
    """Validate everything first, then assign. Returns the names of changed fields."""
    new = {}
    if name is not None:
        new["name"] = clean_text(name, path="name", max_len=200)
    if date_of_birth is not None:
        new["date_of_birth"] = parse_date_of_birth(date_of_birth)
    if phone is not None:
        new["phone"] = clean_phone(phone)
    if address is not None:
        new["address"] = clean_text(address, path="address", max_len=300)
    if languages is not None:
        new["languages"] = clean_languages(languages)
    if notes is not None:
        new["notes"] = clean_note(notes, path="notes")
    changed = [k for k, v in new.items() if getattr(p, k) != v]
    for k, v in new.items():
        setattr(p, k, v)
    p.name_key = normalize_name(p.name)
    p.phone_digits = normalize_phone(p.phone)
    p.address_key = normalize_address(p.address)
    return changed


def create_person(
    *,
    actor: Actor,
    name: str = "",
    date_of_birth=None,
    phone: str = "",
    address: str = "",
    languages: list[str] | None = None,
    notes: str = "",
    ip: str | None = None,
) -> Person:
    """A person record; every field optional (people are often partly known)."""
    require_see_people(actor)
    p = Person(created_by_label=actor.label)
    changed = set_person_fields(
        p,
        name=name,
        date_of_birth=date_of_birth or "",
        phone=phone,
        address=address,
        languages=languages or [],
        notes=notes,
    )
    with transaction.atomic():
        p.save()
        log_access(
            actor=actor,
            person_ids=p.pk,
            action="create",
            what="person",
            ip=ip,
            data={"fields": changed},
        )
    return p


def update_person(*, person_id: int, actor: Actor, ip: str | None = None, **fields) -> Person:
    require_see_people(actor)
    allowed = {"name", "date_of_birth", "phone", "address", "languages", "notes"}
    unknown = set(fields) - allowed
    if unknown:
        field = sorted(unknown)[0]
        raise Invalid(f"{field}: not a person field (one of {sorted(allowed)})", path=field)
    with transaction.atomic():
        p = Person.objects.select_for_update().get(pk=active_person(person_id).pk)
        changed = set_person_fields(p, **fields)
        if changed:
            p.save()
        log_access(
            actor=actor,
            person_ids=p.pk,
            action="update",
            what="person",
            ip=ip,
            data={"fields": changed},
        )
    return p


def person_from_contact(*, name: str, phone: str, actor: Actor, what: str) -> Person:
    """An exact match (same normalised name and phone) is reused; else a new record.
    Fuzzy matches are only suggested (selectors.duplicates_for). Runs in the
    caller's transaction."""
    name_key, digits = normalize_name(name), normalize_phone(phone)
    if name_key and digits:
        same = (
            Person.objects.filter(
                name_key=name_key,
                phone_digits=digits,
                merged_into__isnull=True,
                erased_at__isnull=True,
            )
            .order_by("pk")
            .first()
        )
        if same is not None:
            log_access(actor=actor, person_ids=same.pk, action="link", what=what)
            return same
    p = Person(created_by_label=actor.label, name=name[:200], phone=phone[:40])
    p.name_key, p.phone_digits = name_key, digits
    p.save()
    log_access(
        actor=actor,
        person_ids=p.pk,
        action="create",
        what=what,
        data={"fields": [f for f in ("name", "phone") if getattr(p, f)]},
    )
    return p

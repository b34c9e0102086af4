"""A person's data on lawful request: export everything held (subject access) and
erase it (identifiers and free text go, rows and dates stay)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.calls.models import Disposition
from heart.care.access import log_access, require_supervise_people
from heart.care.models import (
    Encounter,
    FollowUpAttempt,
    Person,
    PersonMerge,
    Referral,
)
from heart.care.selectors import before_after_for, person_export_data
from heart.care.services.validation import clean_text, get_by_pk
from heart.errors import Conflict, Invalid


def export_person(*, person_id: int, actor: Actor, ip: str | None = None) -> dict:
    """Everything held on a person (a subject access request), as JSON-ready data."""
    require_supervise_people(actor)
    p = get_by_pk(Person, person_id, "person_id", "person")
    with transaction.atomic():
        data = person_export_data(p)
        log_access(actor=actor, person_ids=p.pk, action="export", what="person", ip=ip)
    return data


def erase_person(
    *,
    person_id: int,
    actor: Actor,
    legal_basis: str,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Person:
    """Erase on lawful request: identifiers and free text go, rows and dates stay, so
    counts, SLA and the before/after measure (frozen in ``deidentified``) still add up."""
    require_supervise_people(actor)
    legal_basis = clean_text(legal_basis, path="legal_basis", max_len=300)
    if not legal_basis:
        raise Invalid(
            "legal_basis: say which lawful request this erasure answers", path="legal_basis"
        )
    now = now or timezone.now()
    with transaction.atomic():
        # lock the person first: a merge into them waits (so its record is listed and
        # erased below), and a second erasure sees the first one's result
        p = get_by_pk(Person, person_id, "person_id", "person", for_update=True)
        if p.erased_at is not None:
            raise Conflict(f"person_id: person {person_id} was already erased", path="person_id")
        ids = [p.pk, *Person.objects.filter(merged_into=p).values_list("pk", flat=True)]
        people = list(Person.objects.select_for_update().filter(pk__in=ids))
        measure = before_after_for(p, now=now)
        for q in people:
            if q.pk == p.pk and measure is not None:
                q.deidentified = {
                    "first_contact": measure[0].isoformat(),
                    "calls_before": measure[1].before,
                    "calls_after": measure[1].after,
                    "after_complete": measure[1].complete,
                }
            q.name = q.name_key = q.phone = q.phone_digits = q.address = q.address_key = ""
            q.notes = ""
            q.date_of_birth = None
            q.languages = []
            q.erased_at = now
            q.save()
        encs = Encounter.objects.filter(person_id__in=ids)
        Disposition.objects.filter(pk__in=encs.values("disposition_id")).update(
            contact_name="", contact_phone="", contact_notes=""
        )
        FollowUpAttempt.objects.filter(task__encounter__in=encs).update(note="")
        Referral.objects.filter(person_id__in=ids).update(note="")
        PersonMerge.objects.filter(survivor_id__in=ids).update(reasons=[])
        log_access(
            actor=actor,
            person_ids=ids,
            action="erase",
            what="person",
            ip=ip,
            data={"legal_basis": legal_basis},
            at=now,
        )
    p.refresh_from_db()
    return p

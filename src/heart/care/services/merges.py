"""Merging a duplicate person into a survivor, and undoing it (PersonMerge keeps
what moved and what was filled)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.care.access import log_access, require_merge_people
from heart.care.models import Encounter, Person, PersonMerge, Referral
from heart.care.services.people import set_person_fields
from heart.care.services.validation import active_person, get_by_pk
from heart.domain.care import duplicate_score
from heart.errors import Conflict, Invalid

_FILLABLE = ("name", "date_of_birth", "phone", "address")


def merge_people(
    *,
    survivor_id: int,
    duplicate_id: int,
    actor: Actor,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> PersonMerge:
    """Merge ``duplicate`` into ``survivor`` (supervisors and care navigators only).
    Re-points encounters and referrals, fills the survivor's blank fields; undo with
    unmerge_people()."""
    require_merge_people(actor)
    if survivor_id == duplicate_id:
        raise Invalid("duplicate_id: cannot merge a person into themselves", path="duplicate_id")
    now = now or timezone.now()
    with transaction.atomic():
        for pk, path in ((survivor_id, "survivor_id"), (duplicate_id, "duplicate_id")):
            get_by_pk(Person, pk, path, "person")  # an unknown id is a 404, lock or not
        # lock both rows (in id order, so two merges never deadlock), THEN check them:
        # a check before the lock let "B into A" and "A into B" both go through at once
        list(
            Person.objects.select_for_update()
            .filter(pk__in=[survivor_id, duplicate_id])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        s = active_person(survivor_id, "survivor_id")
        d = active_person(duplicate_id, "duplicate_id")
        score = duplicate_score(s.key, d.key)
        moved = {
            "encounters": list(
                Encounter.objects.filter(person=d).order_by("pk").values_list("pk", flat=True)
            ),
            "referrals": list(
                Referral.objects.filter(person=d).order_by("pk").values_list("pk", flat=True)
            ),
        }
        Encounter.objects.filter(pk__in=moved["encounters"]).update(person=s)
        Referral.objects.filter(pk__in=moved["referrals"]).update(person=s)
        filled = []
        for f in _FILLABLE:
            if not getattr(s, f) and getattr(d, f):
                setattr(s, f, getattr(d, f))
                filled.append(f)
        for lang in d.languages:
            if lang not in s.languages:
                s.languages = [*s.languages, lang]
        set_person_fields(s)
        s.save()
        d.merged_into = s
        d.save(update_fields=["merged_into"])
        m = PersonMerge.objects.create(
            survivor=s,
            merged=d,
            at=now,
            by_label=actor.label,
            moved=moved,
            filled={"fields": filled},
            reasons=[{"code": r.code, "text": r.text} for r in score.reasons],
        )
        log_access(
            actor=actor,
            person_ids=[s.pk, d.pk],
            action="merge",
            what="person",
            ip=ip,
            data={"merge_id": m.pk, "survivor": s.pk, "merged": d.pk},
            at=now,
        )
    return m


def unmerge_people(
    *, merge_id: int, actor: Actor, ip: str | None = None, now: dt.datetime | None = None
) -> PersonMerge:
    """Undo a merge: the moved rows go back, filled fields are blanked again."""
    require_merge_people(actor)
    now = now or timezone.now()
    with transaction.atomic():
        m = get_by_pk(PersonMerge, merge_id, "merge_id", "merge", for_update=True)
        if m.undone_at is not None:
            raise Conflict(f"merge_id: merge {merge_id} was already undone", path="merge_id")
        s = Person.objects.select_for_update().get(pk=m.survivor_id)
        d = Person.objects.select_for_update().get(pk=m.merged_id)
        if s.merged_into_id is not None:
            raise Conflict(
                f"merge_id: person {s.pk} was merged into person {s.merged_into_id} later; "
                "undo that merge first",
                path="merge_id",
            )
        if s.erased_at is not None or d.erased_at is not None:
            raise Conflict(f"merge_id: a person of merge {merge_id} was erased", path="merge_id")
        Encounter.objects.filter(pk__in=m.moved.get("encounters", []), person=s).update(person=d)
        Referral.objects.filter(pk__in=m.moved.get("referrals", []), person=s).update(person=d)
        for f in m.filled.get("fields", []):
            if getattr(s, f) == getattr(d, f):
                setattr(s, f, None if f == "date_of_birth" else "")
        set_person_fields(s)
        s.save()
        d.merged_into = None
        d.save(update_fields=["merged_into"])
        m.undone_at, m.undone_by_label = now, actor.label
        m.save(update_fields=["undone_at", "undone_by_label"])
        log_access(
            actor=actor,
            person_ids=[s.pk, d.pk],
            action="unmerge",
            what="person",
            ip=ip,
            data={"merge_id": m.pk},
            at=now,
        )
    return m

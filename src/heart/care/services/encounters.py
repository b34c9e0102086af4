"""Encounters: one per team disposition or crisis-line outcome (the hooks), consent
to follow-up / to share (which opens or closes the follow-up task), and linking an
encounter to a person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.models import AuditEntry
from heart.apikit import DEFAULT_PAGE, Page
from heart.calls import selectors as call_selectors
from heart.calls.models import CcdOutcome, Disposition
from heart.care.access import log_access, require_follow_up, require_see_people
from heart.care.config import rules
from heart.care.models import Encounter, FollowUpTask
from heart.care.services.people import person_from_contact
from heart.care.services.validation import active_person, get_by_pk
from heart.domain.care import follow_up_due


def _open_task(encounter: Encounter) -> FollowUpTask:
    task, _ = FollowUpTask.objects.get_or_create(
        encounter=encounter,
        defaults={"due_at": follow_up_due(encounter.closed_at, rules())},
    )
    return task


def _once(existing: QuerySet, create: Callable[[], Encounter]) -> Encounter:
    """One encounter per source row, however often and however concurrently the hook
    runs. Its own transaction (a savepoint inside a caller's), so a call that loses a
    race (the one-to-one column refuses its row) rolls back only its own writes, the
    contact's person record included, and returns the winner's encounter."""
    try:
        with transaction.atomic():
            found = existing.first()
            return found if found is not None else create()
    except IntegrityError:
        found = existing.first()
        if found is None:
            raise
        return found


def record_encounter_from_disposition(*, disposition: Disposition, actor: Actor) -> Encounter:
    """The in-person encounter of a team disposition (care.handlers runs it for the
    "call.closed" event of teams.services.clear_call). Idempotent: a second call
    returns the first encounter."""

    def create() -> Encounter:
        person = None
        if disposition.contact_name.strip() or disposition.contact_phone.strip():
            person = person_from_contact(
                name=disposition.contact_name.strip(),
                phone=disposition.contact_phone.strip(),
                actor=actor,
                what="hook:disposition",
            )
        consent = bool(disposition.consent_follow_up)
        enc = Encounter.objects.create(
            call=disposition.call,
            source=Encounter.Source.DISPOSITION,
            disposition=disposition,
            mode=Encounter.Mode.IN_PERSON,
            team=disposition.team,
            person=person,
            outcome=disposition.outcome,
            occurred_at=disposition.call.received_at,
            closed_at=disposition.recorded_at,
            consent_follow_up=consent,
            consent_follow_up_at=disposition.recorded_at if consent else None,
            consent_follow_up_by=disposition.recorded_by_label if consent else "",
        )
        if consent:
            _open_task(enc)
        return enc

    return _once(Encounter.objects.filter(disposition=disposition), create)


def record_encounter_from_ccd_outcome(*, ccd_outcome: CcdOutcome, actor: Actor) -> Encounter:
    """The phone encounter of a crisis-line outcome (care.handlers runs it for the
    "ccd.outcome" event of intake.services.record_ccd_outcome). Idempotent like the
    disposition hook. Consent is then recorded by the
    clinician with record_consent()."""
    return _once(
        Encounter.objects.filter(ccd_outcome=ccd_outcome),
        lambda: Encounter.objects.create(
            call=ccd_outcome.call,
            source=Encounter.Source.CCD_OUTCOME,
            ccd_outcome=ccd_outcome,
            mode=Encounter.Mode.PHONE,
            outcome=ccd_outcome.outcome,
            occurred_at=ccd_outcome.call.received_at,
            closed_at=ccd_outcome.recorded_at,
        ),
    )


def record_consent(
    *,
    encounter_id: int,
    actor: Actor,
    follow_up: bool | None = None,
    share: bool | None = None,
    at: dt.datetime | None = None,
    ip: str | None = None,
) -> Encounter:
    """Consent to follow-up / to share with providers, with who took it and when.
    Consent to follow-up opens the task (due from the encounter's close); withdrawing
    it closes an open task."""
    require_see_people(actor)
    at = at or timezone.now()
    with transaction.atomic():
        enc = get_by_pk(Encounter, encounter_id, "encounter_id", "encounter", for_update=True)
        if follow_up is not None:
            enc.consent_follow_up = follow_up
            enc.consent_follow_up_at, enc.consent_follow_up_by = at, actor.label
        if share is not None:
            enc.consent_share = share
            enc.consent_share_at, enc.consent_share_by = at, actor.label
        enc.save()
        if follow_up:
            _open_task(enc)
        elif follow_up is False:
            FollowUpTask.objects.filter(encounter=enc, state=FollowUpTask.State.OPEN).update(
                state=FollowUpTask.State.CLOSED,
                outcome="consent_withdrawn",
                closed_reason="Consent to follow-up withdrawn.",
                closed_at=at,
            )
        if enc.person_id:
            log_access(
                actor=actor,
                person_ids=enc.person_id,
                action="update",
                what="consent",
                ip=ip,
                data={"encounter_id": enc.pk, "follow_up": follow_up, "share": share},
            )
    return enc


def link_encounter(
    *, encounter_id: int, person_id: int, actor: Actor, ip: str | None = None
) -> Encounter:
    require_see_people(actor)
    with transaction.atomic():
        enc = get_by_pk(Encounter, encounter_id, "encounter_id", "encounter", for_update=True)
        p = active_person(person_id)
        before = enc.person_id
        enc.person = p
        enc.save(update_fields=["person"])
        log_access(
            actor=actor,
            person_ids=[p.pk, before],
            action="link",
            what="encounter",
            ip=ip,
            data={"encounter_id": enc.pk, "from": before, "to": p.pk},
        )
    return enc


def follow_up_contacts(
    *, actor: Actor, ip: str | None = None, cursor: str | None = None, limit: int = DEFAULT_PAGE
) -> Page:
    """The consented follow-up contacts of the latest dispositions (GET /api/follow-ups):
    names, phones and notes, so every row shown is audited. One page, newest first.

    Each row is the contact of the person its encounter links to; a disposition whose
    encounter is not recorded yet (its event still pending) is recorded now through the
    same idempotent hook, so the person the contact names exists and the read lands in
    that person's audit (PersonAudit, with the disposition ids shown). A row that names
    nobody (no name, no phone) has no person to file it under: the listing itself is an
    AuditEntry ("follow_ups.read") with every disposition id shown."""
    require_follow_up(actor)
    page = call_selectors.follow_ups(cursor=cursor, limit=limit)
    rows = list(page.items)
    ids = [d.pk for d in rows]
    linked = dict(
        Encounter.objects.filter(disposition_id__in=ids).values_list("disposition_id", "person_id")
    )
    for d in rows:
        if d.pk not in linked:
            linked[d.pk] = record_encounter_from_disposition(disposition=d, actor=actor).person_id
    shown: dict[int, list[int]] = {}
    for d in rows:
        if linked.get(d.pk) is not None:
            shown.setdefault(linked[d.pk], []).append(d.pk)
    with transaction.atomic():
        log_access(
            actor=actor,
            person_ids=list(shown),
            action="read",
            what="api:follow-ups",
            ip=ip,
            data_for={pid: {"disposition_ids": dids} for pid, dids in shown.items()},
        )
        AuditEntry.objects.create(
            actor=actor.user,
            actor_label=actor.label,
            action="follow_ups.read",
            object_type="disposition",
            object_id="*",
            data={
                "disposition_ids": ids,
                "without_person": [d for d in ids if linked.get(d) is None],
                "ip": ip or "",
            },
        )
    return page

"""Writes for care navigation. Keyword-only, one transaction each; every change to a
person record appends a PersonAudit row in the same transaction.

Bad input raises heart.calls.errors.Invalid naming the field before anything is
written; a state that forbids the change raises Conflict.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.calls.errors import Conflict, Invalid, NotFound
from heart.calls.models import CcdOutcome, Disposition
from heart.care.access import (
    can_supervise_people,
    log_access,
    require_merge_people,
    require_see_people,
    require_supervise_people,
)
from heart.care.config import rules
from heart.care.models import (
    SERVICES,
    Encounter,
    FollowUpAttempt,
    FollowUpTask,
    Person,
    PersonMerge,
    Provider,
    Referral,
    ReferralEvent,
)
from heart.care.selectors import before_after_for, person_export_data
from heart.domain.care import (
    CHANNELS,
    OUTCOMES,
    ReferralTransitionError,
    check_referral_transition,
    duplicate_score,
    follow_up_due,
    normalize_address,
    normalize_name,
    normalize_phone,
    task_state_after,
)

SERVICE_CODES = [c for c, _ in SERVICES]


# ------------------------------------------------------------------ validation


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


def _text(value: str, *, path: str, max_len: int) -> str:
    value = (value or "").strip()
    if len(value) > max_len:
        raise Invalid(f"{path}: {len(value)} characters, at most {max_len} allowed", path=path)
    return value


def _note(value: str, *, path: str = "note") -> str:
    return _text(value, path=path, max_len=rules().note_max_chars)


def _phone(value: str, *, path: str = "phone") -> str:
    value = _text(value, path=path, max_len=40)
    if value:
        digits = normalize_phone(value)
        if not 7 <= len(digits) <= 15 or re.search(r"[^\d\s()+.\-x]", value):
            raise Invalid(f"{path}: not a phone number (7 to 15 digits)", path=path)
    return value


def _languages(values, *, path: str = "languages") -> list[str]:
    out = []
    for i, v in enumerate(values or []):
        v = str(v).strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", v):
            raise Invalid(f"{path}[{i}]: {v!r} is not a language code (e.g. en, es)", path=path)
        out.append(v)
    return out


def _get(model, pk, path: str, what: str):
    obj = model.objects.filter(pk=pk).first() if pk is not None else None
    if obj is None:
        raise NotFound(f"{path}: no {what} {pk}", path=path)
    return obj


def _active_person(pk, path: str = "person_id") -> Person:
    p = _get(Person, pk, path, "person")
    if p.erased_at is not None:
        raise Conflict(f"{path}: person {pk} was erased", path=path)
    if p.merged_into_id is not None:
        raise Conflict(f"{path}: person {pk} was merged into person {p.merged_into_id}", path=path)
    return p


# ------------------------------------------------------------------ people


def _set_person_fields(
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
        new["name"] = _text(name, path="name", max_len=200)
    if date_of_birth is not None:
        new["date_of_birth"] = parse_date_of_birth(date_of_birth)
    if phone is not None:
        new["phone"] = _phone(phone)
    if address is not None:
        new["address"] = _text(address, path="address", max_len=300)
    if languages is not None:
        new["languages"] = _languages(languages)
    if notes is not None:
        new["notes"] = _note(notes, path="notes")
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
    changed = _set_person_fields(
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
        p = Person.objects.select_for_update().get(pk=_active_person(person_id).pk)
        changed = _set_person_fields(p, **fields)
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


def _person_from_contact(*, name: str, phone: str, actor: Actor, what: str) -> Person:
    """An exact match (same normalised name and phone) is reused; else a new record.
    Fuzzy matches are only suggested (selectors.duplicate_suggestions)."""
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


# ------------------------------------------------------------------ encounters


def _open_task(encounter: Encounter) -> FollowUpTask:
    task, _ = FollowUpTask.objects.get_or_create(
        encounter=encounter,
        defaults={"due_at": follow_up_due(encounter.closed_at, rules())},
    )
    return task


def record_encounter_from_disposition(*, disposition: Disposition, actor: Actor) -> Encounter:
    """Hooked into teams.services.clear_call, inside its transaction (idempotent)."""
    with transaction.atomic():
        existing = Encounter.objects.filter(disposition=disposition).first()
        if existing is not None:
            return existing
        person = None
        if disposition.contact_name.strip() or disposition.contact_phone.strip():
            person = _person_from_contact(
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


def record_encounter_from_ccd_outcome(*, ccd_outcome: CcdOutcome, actor: Actor) -> Encounter:
    """Hooked into calls.intake.record_ccd_outcome, inside its transaction (idempotent).
    Consent is then recorded by the clinician with record_consent()."""
    with transaction.atomic():
        existing = Encounter.objects.filter(ccd_outcome=ccd_outcome).first()
        if existing is not None:
            return existing
        return Encounter.objects.create(
            call=ccd_outcome.call,
            source=Encounter.Source.CCD_OUTCOME,
            ccd_outcome=ccd_outcome,
            mode=Encounter.Mode.PHONE,
            outcome=ccd_outcome.outcome,
            occurred_at=ccd_outcome.call.received_at,
            closed_at=ccd_outcome.recorded_at,
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
        enc = Encounter.objects.select_for_update().filter(pk=encounter_id).first()
        if enc is None:
            raise NotFound(f"encounter_id: no encounter {encounter_id}", path="encounter_id")
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
        enc = Encounter.objects.select_for_update().filter(pk=encounter_id).first()
        if enc is None:
            raise NotFound(f"encounter_id: no encounter {encounter_id}", path="encounter_id")
        p = _active_person(person_id)
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


# ------------------------------------------------------------------ merge / un-merge

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
        _active_person(survivor_id, "survivor_id")
        _active_person(duplicate_id, "duplicate_id")
        locked = {
            p.pk: p
            for p in Person.objects.select_for_update()
            .filter(pk__in=[survivor_id, duplicate_id])
            .order_by("pk")
        }
        s, d = locked[survivor_id], locked[duplicate_id]
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
        _set_person_fields(s)
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
        m = PersonMerge.objects.select_for_update().filter(pk=merge_id).first()
        if m is None:
            raise NotFound(f"merge_id: no merge {merge_id}", path="merge_id")
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
        _set_person_fields(s)
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


# ------------------------------------------------------------------ follow-up tasks


def _navigator(actor: Actor) -> None:
    require_merge_people(actor)  # follow_up capability: navigators, supervisors, admins


def take_task(*, task_id: int, actor: Actor, now: dt.datetime | None = None) -> FollowUpTask:
    """Claim an open task. Two navigators at once: one conditional UPDATE wins; the
    other gets Conflict naming who has it."""
    _navigator(actor)
    now = now or timezone.now()
    with transaction.atomic():
        won = FollowUpTask.objects.filter(
            pk=task_id, state=FollowUpTask.State.OPEN, taken_by__isnull=True
        ).update(taken_by=actor.user, taken_at=now)
        t = FollowUpTask.objects.select_related("taken_by").filter(pk=task_id).first()
        if t is None:
            raise NotFound(f"task_id: no follow-up {task_id}", path="task_id")
        if not won:
            if t.state == FollowUpTask.State.CLOSED:
                raise Conflict(f"task_id: follow-up {task_id} is closed", path="task_id")
            if t.taken_by_id != actor.user.pk:
                who = t.taken_by.get_username() if t.taken_by else "someone"
                raise Conflict(
                    f"task_id: {who} took follow-up {task_id} first "
                    f"(at {timezone.localtime(t.taken_at):%H:%M}); it is in their queue now",
                    path="task_id",
                )
    return t


def release_task(*, task_id: int, actor: Actor) -> FollowUpTask:
    _navigator(actor)
    with transaction.atomic():
        t = FollowUpTask.objects.select_for_update().filter(pk=task_id).first()
        if t is None:
            raise NotFound(f"task_id: no follow-up {task_id}", path="task_id")
        if t.taken_by_id not in (None, actor.user.pk) and not can_supervise_people(actor):
            raise Conflict(f"task_id: follow-up {task_id} is someone else's", path="task_id")
        t.taken_by, t.taken_at = None, None
        t.save(update_fields=["taken_by", "taken_at"])
    return t


def log_attempt(
    *,
    task_id: int,
    actor: Actor,
    channel: str,
    outcome: str,
    note: str = "",
    consent_share: bool | None = None,
    at: dt.datetime | None = None,
    ip: str | None = None,
) -> tuple[FollowUpTask, FollowUpAttempt]:
    """Log an attempt; the program rule may close the task (closing outcome, or N failed)."""
    _navigator(actor)
    now = timezone.now()
    at = at or now
    if channel not in CHANNELS:
        raise Invalid(f"channel: unknown {channel!r} (one of {list(CHANNELS)})", path="channel")
    if outcome not in OUTCOMES:
        raise Invalid(f"outcome: unknown {outcome!r} (one of {list(OUTCOMES)})", path="outcome")
    note = _note(note)
    if at.tzinfo is None:
        raise Invalid("at: a time zone is required", path="at")
    if at - now > dt.timedelta(minutes=5):
        raise Invalid("at: in the future", path="at")
    r = rules()
    with transaction.atomic():
        t = FollowUpTask.objects.select_for_update().filter(pk=task_id).first()
        if t is None:
            raise NotFound(f"task_id: no follow-up {task_id}", path="task_id")
        enc = Encounter.objects.get(pk=t.encounter_id)
        if at < enc.closed_at:
            raise Invalid("at: before the encounter closed", path="at")
        if t.state != FollowUpTask.State.OPEN:
            raise Conflict(f"task_id: follow-up {task_id} is closed", path="task_id")
        if t.taken_by_id is None:
            t.taken_by, t.taken_at = actor.user, now
        elif t.taken_by_id != actor.user.pk and not can_supervise_people(actor):
            raise Conflict(
                f"task_id: follow-up {task_id} was taken by another navigator", path="task_id"
            )
        a = FollowUpAttempt.objects.create(
            task=t,
            at=at,
            by=actor.user,
            by_label=actor.label,
            channel=channel,
            outcome=outcome,
            note=note,
        )
        if t.first_attempt_at is None or at < t.first_attempt_at:
            t.first_attempt_at, t.first_attempt_by = at, actor.label
        outcomes = list(t.attempts.order_by("at", "id").values_list("outcome", flat=True))
        state = task_state_after(outcomes, r)
        if state.closed:
            t.state, t.outcome, t.closed_reason, t.closed_at = (
                FollowUpTask.State.CLOSED,
                state.outcome,
                state.reason.text,
                at,
            )
        t.save()
        if consent_share is not None:
            enc.consent_share = consent_share
            enc.consent_share_at, enc.consent_share_by = at, actor.label
            enc.save(update_fields=["consent_share", "consent_share_at", "consent_share_by"])
        if enc.person_id:
            log_access(
                actor=actor,
                person_ids=enc.person_id,
                action="update",
                what="attempt",
                ip=ip,
                data={"task_id": t.pk, "attempt_id": a.pk, "outcome": outcome},
            )
    return t, a


# ------------------------------------------------------------------ providers, referrals


def _services(values, *, path: str = "services") -> list[str]:
    out = []
    for v in values or []:
        if v not in SERVICE_CODES:
            raise Invalid(f"{path}: unknown service {v!r} (one of {SERVICE_CODES})", path=path)
        out.append(v)
    if not out:
        raise Invalid(f"{path}: at least one service (one of {SERVICE_CODES})", path=path)
    return out


def create_provider(
    *,
    actor: Actor,
    name: str,
    services: list[str],
    hours: str = "",
    address: str = "",
    phone: str = "",
    walk_in: bool = False,
    languages: list[str] | None = None,
) -> Provider:
    _navigator(actor)
    name = _text(name, path="name", max_len=200)
    if not name:
        raise Invalid("name: must not be empty", path="name")
    fields = {
        "services": _services(services),
        "hours": _text(hours, path="hours", max_len=300),
        "address": _text(address, path="address", max_len=300),
        "phone": _phone(phone),
        "walk_in": bool(walk_in),
        "languages": _languages(languages or ["en"]),
    }
    with transaction.atomic():
        if Provider.objects.filter(name=name).exists():
            raise Conflict(f"name: a provider called {name!r} exists", path="name")
        return Provider.objects.create(name=name, **fields)


def create_referral(
    *,
    actor: Actor,
    person_id: int | None = None,
    provider_id: int | None,
    service: str,
    task_id: int | None = None,
    note: str = "",
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Referral:
    """A caring handoff: needs the person's consent to share with providers."""
    _navigator(actor)
    now = now or timezone.now()
    provider = Provider.objects.filter(pk=provider_id).first() if provider_id else None
    if provider is None or not provider.active:
        raise Invalid(
            f"provider_id: no provider {provider_id} in the directory", path="provider_id"
        )
    if service not in provider.services:
        raise Invalid(
            f"service: {provider.name} does not offer {service!r} (offers {provider.services})",
            path="service",
        )
    note = _note(note)
    task = None
    if task_id is not None:
        task = _get(FollowUpTask, task_id, "task_id", "follow-up")
        enc_person = (
            Encounter.objects.filter(pk=task.encounter_id)
            .values_list("person_id", flat=True)
            .first()
        )
        if person_id is None:
            person_id = enc_person
        if enc_person is None or enc_person != person_id:
            raise Invalid(
                "person_id: the follow-up's encounter is not linked to this person",
                path="person_id",
            )
    if person_id is None:
        raise Invalid("person_id: a referral needs a person", path="person_id")
    with transaction.atomic():
        p = _active_person(person_id)
        if not Encounter.objects.filter(person=p, consent_share=True).exists():
            raise Invalid(
                "consent_share: the person has not consented to share details with providers",
                path="consent_share",
            )
        ref = Referral.objects.create(
            person=p,
            provider=provider,
            service=service,
            task=task,
            note=note,
            created_at=now,
            created_by_label=actor.label,
            status_changed_at=now,
        )
        ReferralEvent.objects.create(referral=ref, status=ref.status, at=now, by_label=actor.label)
        log_access(
            actor=actor,
            person_ids=p.pk,
            action="update",
            what="referral",
            ip=ip,
            data={"referral_id": ref.pk, "provider_id": provider.pk},
            at=now,
        )
    return ref


def set_referral_status(
    *,
    referral_id: int,
    status: str,
    actor: Actor,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Referral:
    _navigator(actor)
    now = now or timezone.now()
    if status not in Referral.Status.values:
        raise Invalid(
            f"status: unknown {status!r} (one of {Referral.Status.values})", path="status"
        )
    with transaction.atomic():
        ref = Referral.objects.select_for_update().filter(pk=referral_id).first()
        if ref is None:
            raise NotFound(f"referral_id: no referral {referral_id}", path="referral_id")
        try:
            check_referral_transition(ref.status, status)
        except ReferralTransitionError as exc:
            raise Conflict(str(exc), path="status") from None
        ref.status, ref.status_changed_at = status, now
        ref.save(update_fields=["status", "status_changed_at"])
        ReferralEvent.objects.create(referral=ref, status=status, at=now, by_label=actor.label)
        log_access(
            actor=actor,
            person_ids=ref.person_id,
            action="update",
            what="referral",
            ip=ip,
            data={"referral_id": ref.pk, "status": status},
            at=now,
        )
    return ref


# ------------------------------------------------------------------ export, erasure


def export_person(*, person_id: int, actor: Actor, ip: str | None = None) -> dict:
    """Everything held on a person (a subject access request), as JSON-ready data."""
    require_supervise_people(actor)
    p = _get(Person, person_id, "person_id", "person")
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
    legal_basis = _text(legal_basis, path="legal_basis", max_len=300)
    if not legal_basis:
        raise Invalid(
            "legal_basis: say which lawful request this erasure answers", path="legal_basis"
        )
    now = now or timezone.now()
    with transaction.atomic():
        p = _get(Person, person_id, "person_id", "person")
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

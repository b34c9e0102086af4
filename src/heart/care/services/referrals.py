"""The provider directory and referrals (caring handoffs); a referral's status
changes follow the domain's REFERRAL_TRANSITIONS table."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.services import audit
from heart.care.access import log_access, require_follow_up
from heart.care.models import (
    SERVICES,
    Encounter,
    FollowUpTask,
    Provider,
    Referral,
    ReferralEvent,
)
from heart.care.services.validation import (
    active_person,
    clean_languages,
    clean_note,
    clean_phone,
    clean_text,
    get_by_pk,
)
from heart.domain.care import ReferralTransitionError, check_referral_transition
from heart.errors import Conflict, Invalid

SERVICE_CODES = [c for c, _ in SERVICES]


def _services(values, *, path: str = "services") -> list[str]:
    out = []
    for v in values or []:
        if v not in SERVICE_CODES:
            raise Invalid(f"{path}: unknown service {v!r} (one of {SERVICE_CODES})", path=path)
        out.append(v)
    if not out:
        raise Invalid(f"{path}: at least one service (one of {SERVICE_CODES})", path=path)
    return out


def _provider_fields(
    *,
    services: list[str],
    hours: str,
    address: str,
    phone: str,
    walk_in: bool,
    languages: list[str] | None,
) -> dict:
    return {
        "services": _services(services),
        "hours": clean_text(hours, path="hours", max_len=300),
        "address": clean_text(address, path="address", max_len=300),
        "phone": clean_phone(phone),
        "walk_in": bool(walk_in),
        "languages": clean_languages(languages or ["en"]),
    }


def _provider_name(name: str) -> str:
    name = clean_text(name, path="name", max_len=200)
    if not name:
        raise Invalid("name: must not be empty", path="name")
    return name


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
    require_follow_up(actor)
    name = _provider_name(name)
    fields = _provider_fields(
        services=services,
        hours=hours,
        address=address,
        phone=phone,
        walk_in=walk_in,
        languages=languages,
    )
    with transaction.atomic():
        if Provider.objects.filter(name=name).exists():
            raise Conflict(f"name: a provider called {name!r} exists", path="name")
        p = Provider.objects.create(name=name, **fields)
        audit(actor=actor, action="care.provider.create", obj=p, data={"name": name, **fields})
        return p


def update_provider(
    *,
    actor: Actor,
    provider_id: int,
    name: str,
    services: list[str],
    hours: str = "",
    address: str = "",
    phone: str = "",
    walk_in: bool = False,
    languages: list[str] | None = None,
) -> Provider:
    """Change a directory entry (its referrals keep pointing at it); audited with the
    fields that changed."""
    require_follow_up(actor)
    name = _provider_name(name)
    fields = {
        "name": name,
        **_provider_fields(
            services=services,
            hours=hours,
            address=address,
            phone=phone,
            walk_in=walk_in,
            languages=languages,
        ),
    }
    with transaction.atomic():
        p = get_by_pk(Provider, provider_id, "provider_id", "provider", for_update=True)
        if Provider.objects.filter(name=name).exclude(pk=p.pk).exists():
            raise Conflict(f"name: a provider called {name!r} exists", path="name")
        changed = {k: v for k, v in fields.items() if getattr(p, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(p, k, v)
            p.save(update_fields=list(changed))
            audit(actor=actor, action="care.provider.update", obj=p, data=changed)
        return p


def set_provider_active(
    *, actor: Actor, provider_id: int, active: bool, reason: str = ""
) -> Provider:
    """Deactivate (no new referrals; existing ones stay) or reactivate a provider."""
    require_follow_up(actor)
    reason = clean_text(reason, path="reason", max_len=300)
    with transaction.atomic():
        p = get_by_pk(Provider, provider_id, "provider_id", "provider", for_update=True)
        if p.active != active:
            p.active = active
            p.save(update_fields=["active"])
            audit(
                actor=actor,
                action="care.provider." + ("activate" if active else "deactivate"),
                obj=p,
                data={"reason": reason} if reason else {},
            )
        return p


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
    require_follow_up(actor)
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
    note = clean_note(note)
    task = None
    if task_id is not None:
        task = get_by_pk(FollowUpTask, task_id, "task_id", "follow-up")
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
        p = active_person(person_id)
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
    require_follow_up(actor)
    now = now or timezone.now()
    if status not in Referral.Status.values:
        raise Invalid(
            f"status: unknown {status!r} (one of {Referral.Status.values})", path="status"
        )
    with transaction.atomic():
        ref = get_by_pk(Referral, referral_id, "referral_id", "referral", for_update=True)
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

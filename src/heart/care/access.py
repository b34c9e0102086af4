"""Who may see people, and the audit row every read and change of a person writes.

Derived from the role capabilities (heart.accounts.roles), not role names, except for
the supervisor-only acts (who-looked list, erasure):
- see_people: ``follow_up`` or ``ccd_queue`` (care navigators, crisis clinicians,
  supervisors, admins)
- merge_people, follow_up: ``follow_up`` (care navigators, supervisors, admins)
- supervise_people: the supervisor or admin role
- responders: only the people on their team's current call (calls/{id}/people)
"""

from __future__ import annotations

from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.auth import can
from heart.accounts.roles import ADMIN, SUPERVISOR
from heart.care.models import PersonAudit
from heart.errors import Forbidden


def can_see_people(actor: Actor) -> bool:
    return actor.api_client is None and (can(actor, "follow_up") or can(actor, "ccd_queue"))


def can_merge_people(actor: Actor) -> bool:
    return actor.api_client is None and can(actor, "follow_up")


def can_supervise_people(actor: Actor) -> bool:
    user = actor.user
    return (
        actor.api_client is None
        and user is not None
        and user.is_active
        and user.groups.filter(name__in=[SUPERVISOR, ADMIN]).exists()
    )


def require_see_people(actor: Actor) -> None:
    if not can_see_people(actor):
        raise Forbidden(f"{actor.label} may not see person details")


def require_merge_people(actor: Actor) -> None:
    if not can_merge_people(actor):
        raise Forbidden(f"{actor.label} may not merge people (supervisors and care navigators)")


def require_follow_up(actor: Actor) -> None:
    """Work follow-ups, providers and referrals: the ``follow_up`` capability
    (navigators, supervisors, admins), the same people who may merge."""
    require_merge_people(actor)


def require_supervise_people(actor: Actor) -> None:
    if not can_supervise_people(actor):
        raise Forbidden(f"{actor.label} may not do this (supervisors only)")


def client_ip(request) -> str | None:
    """REMOTE_ADDR (behind a proxy, set it from the proxy header in the web server)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def log_access(
    *,
    actor: Actor,
    person_ids,
    action: str,
    what: str,
    ip: str | None = None,
    data: dict | None = None,
    data_for: dict[int, dict] | None = None,
    at=None,
) -> None:
    """Append one audit row per person (bulk, one append to the chain). Never personal
    data in ``data``; ``data_for`` adds a person's own ids (e.g. which rows were shown)."""
    at = at or timezone.now()
    ids = [person_ids] if isinstance(person_ids, int) else list(dict.fromkeys(person_ids))
    data_for = data_for or {}
    PersonAudit.objects.bulk_create(
        [
            PersonAudit(
                person_id=pid,
                at=at,
                actor=actor.user,
                actor_label=actor.label,
                action=action,
                what=what,
                ip=ip,
                data={**(data or {}), **data_for.get(pid, {})},
            )
            for pid in ids
            if pid is not None
        ]
    )

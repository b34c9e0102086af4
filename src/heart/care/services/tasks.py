"""Follow-up tasks: taking and releasing one, and logging attempts (the program rule
may close the task)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.care.access import can_supervise_people, log_access, require_follow_up
from heart.care.config import rules
from heart.care.models import Encounter, FollowUpAttempt, FollowUpTask
from heart.care.services.validation import clean_note, get_by_pk
from heart.domain.care import CHANNELS, OUTCOMES, task_state_after
from heart.errors import Conflict, Invalid, NotFound


def take_task(*, task_id: int, actor: Actor, now: dt.datetime | None = None) -> FollowUpTask:
    """Claim an open task. Two navigators at once: one conditional UPDATE wins; the
    other gets Conflict naming who has it."""
    require_follow_up(actor)
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
    require_follow_up(actor)
    with transaction.atomic():
        t = get_by_pk(FollowUpTask, task_id, "task_id", "follow-up", for_update=True)
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
    require_follow_up(actor)
    now = timezone.now()
    at = at or now
    if channel not in CHANNELS:
        raise Invalid(f"channel: unknown {channel!r} (one of {list(CHANNELS)})", path="channel")
    if outcome not in OUTCOMES:
        raise Invalid(f"outcome: unknown {outcome!r} (one of {list(OUTCOMES)})", path="outcome")
    note = clean_note(note)
    if at.tzinfo is None:
        raise Invalid("at: a time zone is required", path="at")
    if at - now > dt.timedelta(minutes=5):
        raise Invalid("at: in the future", path="at")
    r = rules()
    with transaction.atomic():
        t = get_by_pk(FollowUpTask, task_id, "task_id", "follow-up", for_update=True)
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

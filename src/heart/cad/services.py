"""Writes of the CAD write-back: the outbox row (inside the change's own transaction),
and an admin's replay or discard of a dead letter (audited).

Why the outbox is written by an ``on_store`` hook and not by a subscriber: subscribers
(heart.events.bus.subscribe) run AFTER the commit, each in its own transaction, retried
until done. An outbox written there would be complete in the end, but not in order: if
the handler for event 5 of a call fails once and the one for event 6 succeeds, the CAD
would get 6 before 5. The hook runs inside ``emit()``, in the transaction of the status
change (or disposition, backup request, override) itself, right after the Event row:
the outbox row commits with the change or not at all, and its id follows the order of
the commits that matter (a call's changes are serialised by the call's and team's row
locks in heart.teams.services).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.services import audit
from heart.cad import config, messages
from heart.cad.models import OutboxMessage
from heart.errors import Conflict
from heart.events.models import Event
from heart.jobs import nudge

log = logging.getLogger(__name__)

# every status change, disposition (call closed), backup request and route override
EVENT_NAMES = frozenset(messages.KINDS)


def _body(event: Event, key: str, cfg: dict) -> dict:
    f = messages.facts(event)
    if cfg["format"] == "eido":
        return messages.eido_body(f, key=key, agency=cfg["agency"])
    return messages.webhook_body(f, key=key)


def write_outbox(event: Event) -> OutboxMessage | None:
    """The outbox row for one stored event (run by the bus inside the emitting
    transaction). Idempotent: one row per event.

    A team's status change must never fail because its CAD message could not be built
    (a bug, a code the CAD mapping lacks): then the row is written as a dead letter
    naming the problem, the change goes through, and an admin sees it and replays it
    once fixed (the body is built again on replay)."""
    if event.name not in messages.KINDS or not config.enabled():
        return None
    cfg = config.cad()
    now = timezone.now()
    msg = OutboxMessage(
        event=event,
        stream=messages.stream_of(event),
        kind=messages.KINDS[event.name],
        format=cfg["format"],
        next_attempt_at=now,
        body={},
    )
    try:
        with transaction.atomic():  # a savepoint: a failed read leaves the change usable
            msg.body = _body(event, str(msg.key), cfg)
    except Exception as exc:
        log.error("CAD write-back: no body for event %s: %s", event.pk, type(exc).__name__)
        msg.state, msg.dead_at = OutboxMessage.State.DEAD, now
        msg.last_error = f"body: {type(exc).__name__}: {exc}"[:500]
    with transaction.atomic(savepoint=False):
        if OutboxMessage.objects.filter(event=event).exists():
            return None
        msg.save()
        # deliver soon rather than at the next cron time: a procrastinate job deferred in
        # this same transaction (no job without the change, no change without the job)
        if msg.state == OutboxMessage.State.PENDING:
            nudge("cad.deliver")
    return msg


def replay(*, message: OutboxMessage, actor: Actor) -> OutboxMessage:
    """Send a dead letter again (same idempotency key, same body), attempts from zero;
    the messages of its call that waited behind it follow once it is acknowledged."""
    with transaction.atomic():
        m = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if m.state != OutboxMessage.State.DEAD:
            raise Conflict(
                f"message: #{m.pk} is {m.get_state_display().lower()}, not a dead letter"
            )
        if not m.body:  # its body could not be built when it was written: try again
            try:
                with transaction.atomic():
                    m.body = _body(m.event, str(m.key), {**config.cad(), "format": m.format})
            except Exception as exc:
                raise Conflict(
                    f"message: #{m.pk} still cannot be built ({type(exc).__name__}: {exc})"
                ) from None
        m.state, m.attempts, m.next_attempt_at = OutboxMessage.State.PENDING, 0, timezone.now()
        m.dead_at, m.last_error = None, ""
        m.save(
            update_fields=["state", "attempts", "next_attempt_at", "dead_at", "last_error", "body"]
        )
        audit(actor=actor, action="cad.replay", obj=m, data={"kind": m.kind, "stream": m.stream})
    return m


def discard(*, message: OutboxMessage, actor: Actor) -> OutboxMessage:
    """Give a dead letter up for good (the CAD was updated by hand): the messages of its
    call that waited behind it go on."""
    with transaction.atomic():
        m = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if m.state != OutboxMessage.State.DEAD:
            raise Conflict(
                f"message: #{m.pk} is {m.get_state_display().lower()}, not a dead letter"
            )
        m.state = OutboxMessage.State.DISCARDED
        m.save(update_fields=["state"])
        audit(actor=actor, action="cad.discard", obj=m, data={"kind": m.kind, "stream": m.stream})
    return m

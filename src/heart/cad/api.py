"""The CAD write-back's dead letters (mounted under /api; admin role)."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Router, Schema

from heart.accounts.auth import require
from heart.apikit import ERRORS, ErrorOut, object_or_404
from heart.cad import selectors, services
from heart.cad.models import OutboxMessage

router = Router()


class OutboxOut(Schema):
    id: int
    kind: str
    stream: str
    key: uuid.UUID
    format: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    created_at: dt.datetime
    dead_at: dt.datetime | None
    body: dict


class DeadLetterOut(OutboxOut):
    waiting: int  # later messages of the same call held behind it


class DeadLettersOut(Schema):
    items: list[DeadLetterOut]
    counts: dict[str, int]


def _message(message_id: int) -> OutboxMessage:
    return object_or_404(OutboxMessage, message_id, what="message", path="message_id")


@router.get("/cad/dead-letters", response={200: DeadLettersOut, 403: ErrorOut}, tags=["cad"])
def dead_letters(request):
    """Messages the CAD could not take (after every retry, or refused with a 4xx), with
    how many later messages of their call wait behind each."""
    require(request, "manage_integrations")
    return {"items": selectors.dead_letters(), "counts": selectors.counts()}


@router.post(
    "/cad/dead-letters/{message_id}/replay", response={200: OutboxOut, **ERRORS}, tags=["cad"]
)
def replay(request, message_id: int):
    """Send a dead letter again (same idempotency key and body; attempts from zero)."""
    actor = require(request, "manage_integrations")
    return services.replay(message=_message(message_id), actor=actor)


@router.post(
    "/cad/dead-letters/{message_id}/discard", response={200: OutboxOut, **ERRORS}, tags=["cad"]
)
def discard(request, message_id: int):
    """Give a dead letter up (the CAD was updated by hand); its call's later messages go on."""
    actor = require(request, "manage_integrations")
    return services.discard(message=_message(message_id), actor=actor)

"""The CAD write-back outbox."""

from __future__ import annotations

import uuid

from django.db import models

from heart.events.models import Event


class OutboxMessage(models.Model):
    """One message for the CAD, written in the transaction of the change it reports.

    ``stream`` orders delivery: ``call:<id>`` (or ``team:<id>`` for a status change off
    any call); a message is sent only when every earlier one of its stream has been
    acknowledged. ``key`` is the Idempotency-Key header: the same on every attempt and
    on a replay. ``body`` is built once, at write time, so every attempt sends the same
    bytes. No names, phone numbers or narratives: ids, statuses, codes, coordinates.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Acknowledged by the CAD"
        DEAD = "dead", "Dead letter (undeliverable; an admin may replay it)"
        DISCARDED = "discarded", "Discarded by an admin"

    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="+")
    stream = models.CharField(max_length=40)
    kind = models.CharField(max_length=30)  # unit_status, disposition, backup_request, …
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    format = models.CharField(max_length=10)
    body = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)  # HTTP status
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["stream", "id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.stream} ({self.state})"

"""The stored event stream and each subscriber's delivery of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Event(models.Model):
    """One thing that happened (append-only). ``id`` is the stream's sequence number.

    ``payload`` holds ids, statuses, codes and coordinates, never names, phone numbers
    or narratives: personal data stays in the records the ids point to.
    """

    name = models.CharField(max_length=60)
    at = models.DateTimeField()
    # the call it concerns (order per call for the CAD write-back); a plain number, not a
    # foreign key, because the stream sits below the apps whose rows it announces
    call_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["call_id", "id"]), models.Index(fields=["name", "id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class Delivery(models.Model):
    """One subscriber's handling of one event: pending until it succeeded."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (gave up; see last_error)"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscriber = models.CharField(max_length=80)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="one_delivery_each")
        ]
        indexes = [models.Index(fields=["state", "event"])]

    def __str__(self) -> str:
        return f"{self.subscriber} <- {self.event_id} ({self.state})"

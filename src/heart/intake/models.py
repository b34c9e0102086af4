"""Calls waiting for a field team, under a program whose [no_team_free] says "hold"."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class HeldCall(models.Model):
    """A call that stays on its route, unassigned, until a team comes free or ``until``
    passes (then it falls back along the run card). One row per waiting call; the row
    goes when the wait ends, however it ends (heart.intake.services.check_held_calls)."""

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="hold")
    route = models.CharField(max_length=20)  # the route it waits on
    unit = models.CharField(max_length=40)  # the run-card unit it waits for
    priority_rank = models.IntegerField(default=0)  # queue order: lower first
    held_at = models.DateTimeField()
    until = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["priority_rank", "held_at", "id"]

    def __str__(self) -> str:
        return f"call {self.call_id} waits for {self.unit} until {self.until:%H:%M}"


class CcdClaim(models.Model):
    """A crisis-line clinician has taken a waiting call (is phoning the person): one
    clinician at a time, so two never phone the same person. The row goes when the
    clinician releases the call; the outcome keeps it (who had it, since when). Written
    only by heart.intake.services.claim_ccd_call / release_ccd_call."""

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="ccd_claim")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clinician_label = models.CharField(max_length=150)
    claimed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"call {self.call_id} claimed by {self.clinician_label}"

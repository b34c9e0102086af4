"""Calls waiting for a field team, under a program whose [no_team_free] says "hold"."""

from __future__ import annotations

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

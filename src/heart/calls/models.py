"""Calls for service and the triage decision stored with each."""

from __future__ import annotations

from django.db import models


class Call(models.Model):
    class Route(models.TextChoices):
        CRT = "crt", "Community response team"
        CO_RESPONSE = "co_response", "Co-response"
        CCD = "ccd", "Crisis call diversion"
        STANDARD = "standard", "Standard police response"

    # idempotency key for CAD deliveries; calls typed in by a call taker have none
    cad_incident_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    source = models.CharField(max_length=40, default="cad")
    received_at = models.DateTimeField(db_index=True)
    nature = models.CharField(max_length=120)
    priority = models.CharField(max_length=20, blank=True)
    beat = models.CharField(max_length=20, blank=True)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    address = models.CharField(max_length=300, blank=True)
    narrative = models.TextField(blank=True)
    weapon_flag = models.BooleanField(null=True)
    violence_flag = models.BooleanField(null=True)

    route = models.CharField(max_length=20, choices=Route.choices, db_index=True)
    reasons = models.JSONField(default=list)  # [{"code": ..., "text": ...}] in firing order
    rules_version = models.CharField(max_length=80)
    program = models.CharField(max_length=80)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["route", "received_at"])]

    def __str__(self) -> str:
        return f"{self.cad_incident_id or self.pk} {self.nature} -> {self.route}"

    @property
    def reason_codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]

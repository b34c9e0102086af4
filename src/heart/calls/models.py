"""Calls for service and the triage decision stored with each."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Call(models.Model):
    class Route(models.TextChoices):
        CRT = "crt", "Community response team"
        CO_RESPONSE = "co_response", "Co-response"
        CCD = "ccd", "Crisis call diversion"
        STANDARD = "standard", "Standard police response"

    # the idempotency key of a delivery, scoped to its source: (source_key,
    # cad_incident_id) is unique, so another source's id is a new call, never an update.
    # Calls typed in by a call taker have no incident id: NULL, which the constraint
    # never compares equal (an empty string would make them collide)
    cad_incident_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # who owns the call: "client:<ApiClient pk>", "user:<User pk>" or a system label
    # (heart.accounts.actors.Actor.source_key); only its owner, or a holder of
    # update_any_call, may change it
    source_key = models.CharField(max_length=60, default="system")
    source = models.CharField(max_length=40, default="cad")  # how it came: eido, api:…, …
    received_at = models.DateTimeField(db_index=True)
    nature = models.CharField(max_length=120)
    priority = models.CharField(max_length=20, blank=True)
    beat = models.CharField(max_length=20, blank=True)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    address = models.CharField(max_length=300, blank=True)
    # the number to call the caller back on (EIDO callbackComponent tel: URI, or typed by
    # the call taker): personal data, shown to the crisis line and the team on the call
    callback = models.CharField(max_length=40, blank=True)
    narrative = models.TextField(blank=True)
    weapon_flag = models.BooleanField(null=True)
    violence_flag = models.BooleanField(null=True)

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    # the CAD's own words for the incident type (EIDO incidentTypeInternalText)
    incident_type_text = models.CharField(max_length=200, blank=True)
    # EIDO lastUpdateTimeStamp of the version stored: an older delivery never overwrites
    source_updated_at = models.DateTimeField(null=True, blank=True)
    # a linked request (e.g. police backup) points at the call it came from
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="linked_requests"
    )
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    route = models.CharField(max_length=20, choices=Route.choices, db_index=True)
    reasons = models.JSONField(default=list)  # [{"code": ..., "text": ...}] in firing order
    rules_version = models.CharField(max_length=80)
    program = models.CharField(max_length=80)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["route", "received_at"]),
            # keyset paging of the open calls (the board, GET /api/calls)
            models.Index(fields=["state", "received_at", "id"], name="calls_open_page"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key", "cad_incident_id"], name="calls_one_incident_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cad_incident_id or self.pk} {self.nature} -> {self.route}"

    @property
    def reason_codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]


class TimelineEvent(models.Model):
    """One line of a call's history, appended by services only (never edited)."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        UPDATED = "updated", "Updated by the CAD"
        TRIAGED = "triaged", "Triaged"
        RECOMMENDED = "recommended", "Team recommended"
        WAITING = "waiting", "Waiting for a team"
        FELL_BACK = "fell_back", "Fell back"
        REROUTED = "rerouted", "Re-routed"
        DISPATCHED = "dispatched", "Dispatched"
        EN_ROUTE = "en_route", "En route"
        ON_SCENE = "on_scene", "On scene"
        TRANSPORTING = "transporting", "Transporting / handoff"
        CLEARING = "clearing", "Clearing"
        CLEARED = "cleared", "Cleared"
        UNASSIGNED = "unassigned", "Team released"
        OUT_OF_SERVICE = "out_of_service", "Out of service"
        BACKUP_REQUESTED = "backup_requested", "Backup requested"
        BACKUP_ACKNOWLEDGED = "backup_acknowledged", "Backup request seen by dispatch"
        NOTE = "note", "Dispatcher note"
        CCD_OUTCOME = "ccd_outcome", "Crisis line outcome"
        CCD_CLAIMED = "ccd_claimed", "Crisis line clinician took the call"
        CCD_RELEASED = "ccd_released", "Crisis line clinician released the call"
        CO_RESPONSE = "co_response", "Co-response paired"
        OVERRIDE = "override", "Route override"
        DISPOSITION = "disposition", "Disposition"
        CLOSED = "closed", "Closed"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["call", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind} {self.text}"


class Disposition(models.Model):
    """How a call ended for the team, recorded when clearing."""

    class Outcome(models.TextChoices):
        RESOLVED_ON_SCENE = "resolved_on_scene", "Resolved on scene"
        TRANSPORTED = "transported", "Transported to care"
        REFERRED = "referred", "Referred"
        REFUSED = "refused", "Refused services"
        UNABLE_TO_LOCATE = "unable_to_locate", "Unable to locate"
        POLICE_TOOK_OVER = "police_took_over", "Police took over"

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="disposition")
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    destination = models.CharField(max_length=200, blank=True)  # transported: where to
    referred_to = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    # follow-up: personal data, shown only to roles with follow_up permission
    consent_follow_up = models.BooleanField(default=False)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_notes = models.TextField(blank=True)
    recorded_at = models.DateTimeField()
    recorded_by_label = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.call_id} {self.outcome}"


class CcdOutcome(models.Model):
    """The crisis call diversion clinician's result of the phone contact."""

    class Outcome(models.TextChoices):
        RESOLVED_BY_PHONE = "resolved_by_phone", "Resolved by phone"
        SEND_TEAM = "send_team", "Send a team"
        HAND_BACK = "hand_back", "Hand back to standard response"

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="ccd_outcome")
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    notes = models.TextField(blank=True)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.call_id} {self.outcome}"

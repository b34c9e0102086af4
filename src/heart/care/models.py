"""Care navigation: people, encounters, follow-up tasks and attempts, providers,
referrals (FHIR ServiceRequest + Task), merges, and the append-only person audit.

Personal data lives in Person (name, date of birth, phone, address) and in free-text
notes; erasure blanks those and keeps the rows (de-identified statistics stay).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from heart.accounts.chain import AppendOnlyError as AppendOnlyError  # care's callers use it
from heart.accounts.chain import HashChained
from heart.domain.care import CHANNELS, OUTCOMES, PersonKey

SERVICES = [
    ("mental_health", "Mental health"),
    ("substance_use", "Substance use"),
    ("housing", "Housing"),
    ("food", "Food"),
    ("medical", "Medical"),
]


class Person(models.Model):
    name = models.CharField(max_length=200, blank=True)
    name_key = models.CharField(max_length=200, blank=True, db_index=True)
    date_of_birth = models.DateField(null=True, blank=True, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    phone_digits = models.CharField(max_length=20, blank=True, db_index=True)
    address = models.CharField(max_length=300, blank=True)
    address_key = models.CharField(max_length=300, blank=True, db_index=True)
    languages = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    # a merged duplicate points at the record it was merged into (undo: PersonMerge)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_people"
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    # kept at erasure: counts the reports need once the address is gone (no identifiers)
    deidentified = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_label = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:  # never the name: str() may reach logs
        return f"person {self.pk}"

    @property
    def active(self) -> bool:
        return self.merged_into_id is None and self.erased_at is None

    @property
    def key(self) -> PersonKey:
        """What the domain's duplicate_score() compares."""
        return PersonKey(self.name, self.date_of_birth, self.phone, self.address)


class Encounter(models.Model):
    class Mode(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "Phone"

    class Source(models.TextChoices):
        DISPOSITION = "disposition", "Team disposition"
        CCD_OUTCOME = "ccd_outcome", "Crisis line outcome"

    call = models.ForeignKey("calls.Call", on_delete=models.PROTECT, related_name="encounters")
    source = models.CharField(max_length=20, choices=Source.choices)
    disposition = models.OneToOneField(
        "calls.Disposition", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ccd_outcome = models.OneToOneField(
        "calls.CcdOutcome", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mode = models.CharField(max_length=20, choices=Mode.choices)
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="encounters"
    )
    outcome = models.CharField(max_length=40)
    occurred_at = models.DateTimeField(db_index=True)  # the call was received
    closed_at = models.DateTimeField()  # the disposition / outcome was recorded
    consent_follow_up = models.BooleanField(default=False)
    consent_follow_up_at = models.DateTimeField(null=True, blank=True)
    consent_follow_up_by = models.CharField(max_length=150, blank=True)
    consent_share = models.BooleanField(default=False)  # share with service providers
    consent_share_at = models.DateTimeField(null=True, blank=True)
    consent_share_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-closed_at"]

    def __str__(self) -> str:
        return f"encounter {self.pk} call {self.call_id} {self.mode}"


class FollowUpTask(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="follow_up")
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_by = models.CharField(max_length=150, blank=True)
    outcome = models.CharField(max_length=40, blank=True)
    closed_reason = models.CharField(max_length=300, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["state", "due_at", "id"], name="care_task_queue")]

    def __str__(self) -> str:
        return f"follow-up {self.pk} due {self.due_at:%Y-%m-%d %H:%M} {self.state}"


class FollowUpAttempt(models.Model):
    task = models.ForeignKey(FollowUpTask, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_label = models.CharField(max_length=150)
    channel = models.CharField(max_length=20, choices=[(c, c.replace("_", " ")) for c in CHANNELS])
    outcome = models.CharField(max_length=40, choices=[(k, v[1]) for k, v in OUTCOMES.items()])
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} {self.channel} {self.outcome}"


class Provider(models.Model):
    name = models.CharField(max_length=200, unique=True)
    services = models.JSONField(default=list)  # codes from SERVICES
    hours = models.CharField(max_length=300, blank=True)
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    walk_in = models.BooleanField(default=False)
    languages = models.JSONField(default=list)  # e.g. ["en", "es"]
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Referral(models.Model):
    """FHIR: ServiceRequest (what was asked of whom) + Task (its tracked status)."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="referrals")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="referrals")
    service = models.CharField(max_length=30, choices=SERVICES)
    task = models.ForeignKey(
        FollowUpTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SENT)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=150)
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"referral {self.pk} -> {self.provider_id} {self.status}"


class ReferralEvent(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Referral.Status.choices)
    at = models.DateTimeField()
    by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"referral {self.referral_id} {self.status}"


class PersonMerge(models.Model):
    """A merge of ``merged`` into ``survivor``; ``moved`` lists the rows re-pointed."""

    survivor = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="merges_won")
    merged = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="merges_lost")
    at = models.DateTimeField()
    by_label = models.CharField(max_length=150)
    moved = models.JSONField(default=dict)  # {"encounters": [ids], "referrals": [ids]}
    filled = models.JSONField(default=dict)  # survivor fields that were blank, filled
    reasons = models.JSONField(default=list)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merged"], condition=Q(undone_at__isnull=True), name="one_live_merge"
            )
        ]

    def __str__(self) -> str:
        return f"merge {self.pk}: {self.merged_id} -> {self.survivor_id}"


class PersonAudit(HashChained):
    """Append-only and hash-chained (heart.accounts.chain): every read and change of a
    person record. No personal data here: the person's id, who, what (an action and a
    place), when, from which IP."""

    CHAIN_FIELDS = ("person_id", "at", "actor", "actor_label", "action", "what", "ip", "data")

    person_id = models.BigIntegerField(db_index=True)
    at = models.DateTimeField(db_index=True)
    # the row outlives the account: no constraint, nothing cascades into the audit
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=20)  # read | create | update | merge | unmerge | ...
    what = models.CharField(max_length=80)  # e.g. "api:person", "page:queue", "export"
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)  # field NAMES changed, ids; no values

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person_id", "at"])]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} person {self.person_id}"
        )

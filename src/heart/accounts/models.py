"""People, roles, API clients and the audit trail.

Roles are Django groups (see :mod:`heart.accounts.roles`); what a role may do is the
set of permissions below, checked endpoint by endpoint (docs/roles.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from heart.accounts.chain import HashChained


class Discipline(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    PEER_SUPPORT = "peer_support", "Peer support specialist"
    EMT = "emt", "EMT"


class Profile(models.Model):
    """A person's standing discipline (responders). Holds the role permissions."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="heart_profile"
    )
    discipline = models.CharField(max_length=20, choices=Discipline.choices, blank=True)

    class Meta:
        # the capabilities a role is made of; groups get them in roles.ensure_roles()
        default_permissions = ()
        permissions = [
            ("intake_call", "Enter or deliver calls"),
            ("update_any_call", "Correct a call delivered by another source (CAD or person)"),
            ("view_calls", "See calls, their triage and timeline"),
            ("dispatch", "Assign teams, change any team's status, pair co-responses"),
            ("respond", "Act as a member of a team in the field"),
            ("ccd_queue", "Work the crisis call diversion queue"),
            ("follow_up", "See follow-up consent and contact details"),
            ("manage_teams", "Create teams and shifts"),
            ("view_reports", "See aggregate reports"),
            ("post_avl", "Post GPS positions"),
            ("manage_users", "Create sign-ins, set their role, deactivate them"),
            ("manage_integrations", "See and replay the CAD write-back's dead letters"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.discipline or '-'})"


class ApiClient(models.Model):
    """A system (e.g. the CAD) that calls the API with a bearer token.

    Only a SHA-256 of the token is stored; tokens are 256-bit random, so a fast hash
    is enough (no dictionary to attack) and keeps intake fast.
    """

    class Scope(models.TextChoices):
        INTAKE = "intake", "Deliver calls"
        AVL = "avl", "Post GPS positions"

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)  # shown to admins to tell tokens apart
    scopes = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class AuditEntry(HashChained):
    """Who did what to which record, when. Written by services, never edited:
    append-only and hash-chained (heart.accounts.chain; `heart manage verify_audit`)."""

    CHAIN_FIELDS = ("at", "actor", "actor_label", "action", "object_type", "object_id", "data")

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
    actor_label = models.CharField(max_length=150)  # "user:jo", "api:cad", "system"
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

"""Teams, their shifts and members, assignments, positions, external units.

``Team.status`` is written ONLY by :func:`heart.teams.services.change_status`
(the transition table is heart.domain.dispatch.TRANSITIONS).
"""

from __future__ import annotations

import contextlib
import contextvars

from django.conf import settings
from django.db import models
from django.db.models import Q

from heart.accounts.models import Discipline
from heart.domain.dispatch import UnitState

_status_writer: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "heart_team_status_writer", default=False
)


class StatusWriteError(RuntimeError):
    """A team status was written outside heart.teams.services.change_status."""


@contextlib.contextmanager
def status_writer():
    """Used by change_status() only: the one place allowed to write Team.status."""
    token = _status_writer.set(True)
    try:
        yield
    finally:
        _status_writer.reset(token)


class TeamQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "status" in kwargs and not _status_writer.get():
            raise StatusWriteError("Team.status is written only by teams.services.change_status")
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        if "status" in fields and not _status_writer.get():
            raise StatusWriteError("Team.status is written only by teams.services.change_status")
        return super().bulk_update(objs, fields, *args, **kwargs)


class Team(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = UnitState.AVAILABLE.value, "Available"
        DISPATCHED = UnitState.DISPATCHED.value, "Dispatched"
        EN_ROUTE = UnitState.EN_ROUTE.value, "En route"
        ON_SCENE = UnitState.ON_SCENE.value, "On scene"
        TRANSPORTING = UnitState.TRANSPORTING.value, "Transporting / handoff"
        CLEARING = UnitState.CLEARING.value, "Clearing"
        OUT_OF_SERVICE = UnitState.OUT_OF_SERVICE.value, "Out of service"

    name = models.CharField(max_length=60, unique=True)
    # the program's run-card unit this team serves, e.g. "crt" (Unit.disciplines apply)
    unit_key = models.CharField(max_length=40, default="crt", db_index=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OUT_OF_SERVICE, db_index=True
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    current_call = models.ForeignKey(
        "calls.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # latest AVL fix (history in Position)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    position_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        obj = super().from_db(db, field_names, values)
        obj._loaded_status = obj.__dict__.get("status")
        return obj

    def save(self, *args, **kwargs):  # noqa: DJ012 (from_db first: it sets _loaded_status)
        if not _status_writer.get():
            loaded = getattr(self, "_loaded_status", None)
            changed = (
                self.status != loaded
                if self.pk and loaded is not None
                else (self.status != self.Status.OUT_OF_SERVICE and self._state.adding)
            )
            if changed:
                raise StatusWriteError(
                    "Team.status is written only by teams.services.change_status"
                )
        super().save(*args, **kwargs)
        self._loaded_status = self.status


class Shift(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M}"


class ShiftMember(models.Model):
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    discipline = models.CharField(max_length=20, choices=Discipline.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shift", "user"], name="one_membership_per_shift")
        ]

    def __str__(self) -> str:
        return f"{self.shift_id}:{self.user_id} {self.discipline}"


class Assignment(models.Model):
    """A team committed to a call. At most one active per team and per call."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="assignments")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="assignments")
    active = models.BooleanField(default=True)
    assigned_at = models.DateTimeField()
    assigned_by_label = models.CharField(max_length=150)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["call"], condition=Q(active=True), name="one_active_assignment_per_call"
            ),
            models.UniqueConstraint(
                fields=["team"], condition=Q(active=True), name="one_active_assignment_per_team"
            ),
        ]

    def __str__(self) -> str:
        return f"team {self.team_id} -> call {self.call_id}{'' if self.active else ' (ended)'}"


class Position(models.Model):
    """One GPS fix from a responder device, stored before it is broadcast."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="positions")
    device_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lon = models.FloatField()
    lat = models.FloatField()
    recorded_at = models.DateTimeField()  # device time of the fix
    received_at = models.DateTimeField()
    accuracy_m = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["team", "recorded_at"]),
            # the retention purge (teams.services.purge_positions) reads by age
            models.Index(fields=["received_at"], name="teams_position_received"),
        ]

    def __str__(self) -> str:
        return f"team {self.team_id} @ {self.recorded_at:%H:%M:%S}"


class ExternalUnit(models.Model):
    """A unit of another agency (e.g. a police car) the program works with."""

    call_sign = models.CharField(max_length=40, unique=True)
    agency = models.CharField(max_length=100, default="police")

    def __str__(self) -> str:
        return f"{self.call_sign} ({self.agency})"


class CoResponse(models.Model):
    """A co_response call served by a clinician on shift with a co-response unit, paired
    with a police unit of another agency.

    The pair's statuses are its unit's (``team``) through the one transition table:
    dispatched = paired, en route, on scene, clearing; the pair is *clear* once the
    unit leaves the call (``ended_at``). Disposition and closing are the team's own
    (heart.teams.services.clear_call), so care opens the encounter and follow-up.
    """

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="co_responses")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="co_responses"
    )
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="co_response"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    police_unit = models.ForeignKey(ExternalUnit, on_delete=models.PROTECT, related_name="+")
    paired_at = models.DateTimeField()
    paired_by_label = models.CharField(max_length=150)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["call"], condition=Q(ended_at__isnull=True), name="one_active_pair_per_call"
            )
        ]

    def __str__(self) -> str:
        return f"call {self.call_id}: clinician {self.clinician_id} + {self.police_unit_id}"


class RouteOverride(models.Model):
    """A dispatcher's written decision to send (or keep) a unit on a call whose route its
    kind of unit does not serve. Append-only; counted per month in public reports (from
    the stored ``dispatch.override`` events)."""

    class Action(models.TextChoices):
        ASSIGN = "assign", "Sent anyway"
        KEEP = "keep", "Kept on a re-triaged call"

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="route_overrides")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="overrides"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    route = models.CharField(max_length=20)  # the call's route when the override was given
    unit_key = models.CharField(max_length=40)
    refusal_code = models.CharField(max_length=40)  # what the guard said (domain.dispatch)
    refusal_text = models.CharField(max_length=300)
    reason = models.CharField(max_length=500)  # the dispatcher's own words
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_label = models.CharField(max_length=150)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"override {self.action} team {self.team_id} -> call {self.call_id} ({self.route})"


class TrainingRecord(models.Model):
    """One completion of a program training (``[training.<key>]``) by one person."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_records"
    )
    training = models.CharField(max_length=40)
    completed_on = models.DateField()
    # the certificate's own expiry (not current from this day), when it has one
    expires_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)  # provider, certificate number
    recorded_at = models.DateTimeField()
    recorded_by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["user_id", "training", "-completed_on"]
        indexes = [models.Index(fields=["user", "training"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=models.F("completed_on")),
                name="training_expires_after_completion",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.training} {self.completed_on}"


class StatusTap(models.Model):
    """One status tap made on a responder's phone, by the phone's own idempotency key.

    A phone that was offline replays its queued taps when the network returns; a tap
    whose key is already here is answered with the stored result and changes nothing
    (the unique constraint holds even when two replays race).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    status = models.CharField(max_length=20)  # the status the tap asked for (and got)
    previous = models.CharField(max_length=20)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="teams_statustap_team_key")
        ]

    def __str__(self) -> str:
        return f"tap {self.key} {self.previous} -> {self.status}"


class BackupAck(models.Model):
    """A dispatcher saw a team's police backup request (one per request: the backup call
    that :func:`heart.teams.services.request_backup` created). Until it exists the
    board's alarm is raised again on every reload; the team's phone shows who saw it."""

    backup_call = models.OneToOneField(
        "calls.Call", on_delete=models.CASCADE, related_name="backup_ack"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_label = models.CharField(max_length=150)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"backup {self.backup_call_id} acknowledged by {self.by_label}"

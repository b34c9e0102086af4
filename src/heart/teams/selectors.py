"""Reads for teams: staffing on shift, unit snapshots, the recommendation, who may take
a position (discipline, training, double-booking), overrides."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import urllib.request

from django.conf import settings
from django.db import connection
from django.utils import timezone

from heart.accounts.models import Discipline, Profile
from heart.accounts.roles import RESPONDER
from heart.calls.models import Call
from heart.domain.dispatch import (
    Recommendation,
    UnitSnapshot,
    UnitState,
    field_unit_refusal,
    recommend,
)
from heart.domain.geo import TravelModel, valid_lon_lat
from heart.domain.program import Program
from heart.domain.staffing import (
    TrainingRecord as TrainingFact,
)
from heart.domain.staffing import (
    training_gaps,
    training_statuses,
)
from heart.events.models import Event
from heart.teams.models import (
    BackupAck,
    CoResponse,
    RouteOverride,
    Shift,
    ShiftMember,
    Team,
    TrainingRecord,
)

log = logging.getLogger(__name__)


# shift rosters change rarely: each process keeps the rows of current and future
# shifts for a few seconds (start_shift() clears it in its own process). Being on
# shift is still decided against the exact time; assign_team() re-checks uncached.
_roster: tuple[float, dt.datetime, list[tuple]] | None = None
_roster_lock = threading.Lock()


def invalidate_roster() -> None:
    global _roster
    with _roster_lock:
        _roster = None


def _shift_rows(now: dt.datetime, team_ids) -> list[tuple]:
    global _roster
    ttl = getattr(settings, "HEART_ROSTER_CACHE_SECONDS", 5.0)
    live = abs((timezone.now() - now).total_seconds()) < 60
    if team_ids is not None or not ttl or not live:
        qs = Shift.objects.filter(starts_at__lte=now, ends_at__gt=now)
        if team_ids is not None:
            qs = qs.filter(team_id__in=list(team_ids))
        return list(qs.values_list("team_id", "starts_at", "ends_at", "members__discipline"))
    mono = time.monotonic()
    with _roster_lock:
        cached = _roster
    if cached is None or mono - cached[0] > ttl or now < cached[1]:
        rows = list(
            Shift.objects.filter(ends_at__gt=now).values_list(
                "team_id", "starts_at", "ends_at", "members__discipline"
            )
        )
        cached = (mono, now, rows)
        with _roster_lock:
            _roster = cached
    return cached[2]


_staffing_memo: tuple[list, dt.datetime, dt.datetime, dict] | None = None


def staffing_on_shift(*, now: dt.datetime, team_ids=None) -> dict[int, frozenset[str]]:
    """team id -> disciplines of the members on a shift in force at ``now``.

    A team is on shift iff it is a key (a shift with no members gives an empty set).
    ``team_ids`` given: always read from the database (dispatch-time checks).
    """
    global _staffing_memo
    rows = _shift_rows(now, team_ids)
    memo = _staffing_memo
    if team_ids is None and memo is not None and memo[0] is rows and memo[1] <= now < memo[2]:
        return memo[3]
    out: dict[int, set[str]] = {}
    valid_from, valid_until = (
        dt.datetime.min.replace(tzinfo=dt.UTC),
        dt.datetime.max.replace(tzinfo=dt.UTC),
    )
    for team_id, starts, ends, discipline in rows:
        if not (starts <= now < ends):
            if starts > now:
                valid_until = min(valid_until, starts)
            continue
        valid_from = max(valid_from, starts)
        valid_until = min(valid_until, ends)
        bucket = out.setdefault(team_id, set())
        if discipline:
            bucket.add(discipline)
    result = {k: frozenset(v) for k, v in out.items()}
    if team_ids is None:
        # the same rows give the same answer until the next shift starts or ends
        _staffing_memo = (rows, valid_from, valid_until, result)
    return result


_snapshots: dict[str | None, tuple[float, list[UnitSnapshot]]] = {}


def invalidate_snapshots() -> None:
    """Forget this process's cached team snapshots (a status or position changed here)."""
    _snapshots.clear()


def team_snapshots(
    *, now: dt.datetime | None = None, unit_key: str | None = None, max_age: float = 0.0
) -> list[UnitSnapshot]:
    """What the recommendation (and the board) knows about every active team.

    ``max_age`` > 0 (seconds) lets a live caller reuse this process's snapshot that
    recent (intake uses 0.25 s by default: HEART_INTAKE_SNAPSHOT_MAX_AGE); changes
    made in this process clear it at once. The dispatcher's recommendation endpoint
    and assign_team() never use it.
    """
    real_now = timezone.now()
    now = now or real_now
    live = max_age > 0 and abs((real_now - now).total_seconds()) < 1.0
    if live:
        hit = _snapshots.get(unit_key)
        if hit is not None and time.monotonic() - hit[0] <= max_age:
            return hit[1]
    snaps = _fresh_snapshots(now, unit_key)
    if live:
        _snapshots[unit_key] = (time.monotonic(), snaps)
    return snaps


def _fresh_snapshots(now: dt.datetime, unit_key: str | None) -> list[UnitSnapshot]:
    qs = Team.objects.filter(active=True)
    if unit_key is not None:
        qs = qs.filter(unit_key=unit_key)
    rows = _team_rows(qs, unit_key)
    staffing = staffing_on_shift(now=now)
    return [
        UnitSnapshot(
            id=str(pk),
            kind=key,
            status=status,
            on_shift=pk in staffing,
            disciplines=staffing.get(pk, frozenset()),
            lon=lon,
            lat=lat,
            position_at=at,
            label=name,
        )
        for pk, name, key, status, lon, lat, at in rows
    ]


def _team_rows(qs, unit_key: str | None) -> list[tuple]:
    """(id, name, unit_key, status, lon, lat, position_at) of active teams.

    On PostgreSQL the fix time comes as epoch seconds (parsing 200 ISO timestamps per
    intake is a measurable share of its CPU).
    """
    if connection.vendor != "postgresql":
        return list(qs.values_list("id", "name", "unit_key", "status", "lon", "lat", "position_at"))
    sql = (
        "SELECT id, name, unit_key, status, lon, lat, "
        "EXTRACT(EPOCH FROM position_at)::float8 FROM teams_team WHERE active"
        + (" AND unit_key = %s" if unit_key is not None else "")
    )
    with connection.cursor() as cur:
        cur.execute(sql, [unit_key] if unit_key is not None else [])
        raw = cur.fetchall()
    fromts = dt.datetime.fromtimestamp
    utc = dt.UTC
    return [
        (pk, name, key, status, lon, lat, None if at is None else fromts(at, utc))
        for pk, name, key, status, lon, lat, at in raw
    ]


def travel_model() -> TravelModel:
    cfg = getattr(settings, "HEART_TRAVEL", {}) or {}
    return TravelModel(**cfg)


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "HEART_GPS_STALE_SECONDS", 300))


def osrm_etas(call_lon, call_lat, units: list[UnitSnapshot]) -> dict[str, float] | None:
    """Road travel minutes from OSRM's table service when HEART_OSRM_URL is set."""
    base = getattr(settings, "HEART_OSRM_URL", "")
    if not base or not valid_lon_lat(call_lon, call_lat):
        return None
    cands = [u for u in units if u.status == UnitState.AVAILABLE and valid_lon_lat(u.lon, u.lat)]
    if not cands:
        return None
    coords = ";".join([f"{call_lon},{call_lat}"] + [f"{u.lon},{u.lat}" for u in cands])
    dests = ";".join(str(i) for i in range(1, len(cands) + 1))
    url = f"{base.rstrip('/')}/table/v1/driving/{coords}?sources={dests}&destinations=0"
    try:
        with urllib.request.urlopen(url, timeout=getattr(settings, "HEART_OSRM_TIMEOUT", 0.5)) as r:
            body = json.load(r)
        durations = body["durations"]
        turnout = travel_model().turnout_minutes
        return {
            u.id: turnout + row[0] / 60.0
            for u, row in zip(cands, durations, strict=True)
            if row and row[0] is not None
        }
    except Exception as exc:  # routing is optional: fall back to the travel model
        log.warning("OSRM unavailable, using the travel model: %s", type(exc).__name__)
        return None


def recommendation_for(
    *,
    call: Call,
    program: Program,
    now: dt.datetime | None = None,
    unit_key: str | None = None,
    max_age: float = 0.0,
) -> Recommendation | None:
    """Ranked units for a call whose route sends a field unit (a team or a co-response
    clinician); None otherwise (:func:`heart.domain.dispatch.field_unit_refusal` says
    why). Only units of the kind the call's route is for are ever listed."""
    now = now or timezone.now()
    unit = unit_key or program.field_unit_for_route(call.route)
    if unit is None:
        return None
    units = team_snapshots(now=now, unit_key=unit, max_age=max_age)
    return recommend(
        call_lon=call.lon,
        call_lat=call.lat,
        unit_kind=unit,
        units=units,
        now=now,
        required_disciplines=frozenset(program.units[unit].disciplines),
        travel=travel_model(),
        stale_after=stale_after(),
        etas=osrm_etas(call.lon, call.lat, units),
    )


def team_for_user(*, user, now: dt.datetime | None = None) -> Team | None:
    """The team the person is on shift with now."""
    now = now or timezone.now()
    m = (
        ShiftMember.objects.filter(user=user, shift__starts_at__lte=now, shift__ends_at__gt=now)
        .select_related("shift__team")
        .first()
    )
    return m.shift.team if m else None


def active_pairs() -> dict[int, dict]:
    """team id -> its current co-response pairing (police call sign, agency, clinician)."""
    return {
        team_id: {"police_unit": sign, "agency": agency, "clinician": clinician, "call_id": call}
        for team_id, sign, agency, clinician, call in CoResponse.objects.filter(
            ended_at__isnull=True, team__isnull=False
        ).values_list(
            "team_id",
            "police_unit__call_sign",
            "police_unit__agency",
            "clinician__username",
            "call_id",
        )
    }


def board_teams(*, now: dt.datetime | None = None, program: Program | None = None) -> list[dict]:
    """Every active team for the board: status, staffing, position (stale flagged), its
    unit's kind and, for a co-response unit on a call, the police unit it is paired with."""
    now = now or timezone.now()
    limit = stale_after()
    kinds = {k: u.kind for k, u in program.units.items()} if program is not None else {}
    pairs = active_pairs()
    out = []
    for s in team_snapshots(now=now):
        pair = pairs.get(int(s.id))
        out.append(
            {
                "id": int(s.id),
                "name": s.label,
                "unit_key": s.kind,
                "kind": kinds.get(s.kind, ""),
                "paired_with": f"{pair['police_unit']} ({pair['agency']})" if pair else None,
                "status": s.status,
                "on_shift": s.on_shift,
                "disciplines": sorted(s.disciplines),
                "lon": s.lon,
                "lat": s.lat,
                "position_at": s.position_at,
                "position_stale": s.position_at is None or now - s.position_at > limit,
            }
        )
    return out


def no_field_unit_reason(*, program: Program, route: str) -> str:
    refusal = field_unit_refusal(program, route)
    return refusal.text if refusal else ""


# ------------------------------------------------------------------ overrides


def overrides_for_call(*, call_id: int) -> list[RouteOverride]:
    return list(RouteOverride.objects.filter(call_id=call_id).select_related("team"))


def latest_overrides(*, call_ids) -> dict[int, RouteOverride]:
    """call id -> its latest override (the board's call cards)."""
    out: dict[int, RouteOverride] = {}
    for o in RouteOverride.objects.filter(call_id__in=list(call_ids)).order_by("at", "id"):
        out[o.call_id] = o
    return out


def override_counts(*, timezone_name: str, since: dt.datetime | None = None) -> list[dict]:
    """Dispatch overrides per local month, from the stored ``dispatch.override`` events
    (the public report's figure; the payload holds ids and the route, no free text)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone_name)
    qs = Event.objects.filter(name="dispatch.override")
    if since is not None:
        qs = qs.filter(at__gte=since)
    months: dict[str, dict] = {}
    for at, payload in qs.order_by("at").values_list("at", "payload"):
        key = at.astimezone(zone).strftime("%Y-%m")
        row = months.setdefault(key, {"month": key, "overrides": 0, "by_route": {}})
        row["overrides"] += 1
        route = (payload or {}).get("route") or "unknown"
        row["by_route"][route] = row["by_route"].get(route, 0) + 1
    return list(months.values())


# ------------------------------------------------------------------ staffing


def training_facts(*, user_ids) -> dict[int, list[TrainingFact]]:
    """user id -> their training records as domain facts."""
    out: dict[int, list[TrainingFact]] = {}
    for uid, training, done, expires in TrainingRecord.objects.filter(
        user_id__in=list(user_ids)
    ).values_list("user_id", "training", "completed_on", "expires_on"):
        out.setdefault(uid, []).append(TrainingFact(training, done, expires))
    return out


def local_days(program: Program, starts_at: dt.datetime, ends_at: dt.datetime):
    """The first and last local calendar day a shift touches."""
    zone = program.zone
    last = ends_at - dt.timedelta(microseconds=1)
    return starts_at.astimezone(zone).date(), max(last, starts_at).astimezone(zone).date()


def _who(user) -> str:
    return user.get_username()


def _position(discipline: str) -> str:
    label = Discipline(discipline).label if discipline in Discipline.values else discipline
    return f"the {label} position"


def person_problem(*, user, discipline: str, program: Program, first_day, last_day) -> str | None:
    """Why this person may not take a position of this discipline over these local days
    (their role, their discipline, their training), in one sentence; None if they may."""
    who, position = _who(user), _position(discipline)
    if not user.is_active:
        return f"{who} cannot take {position}: the account is deactivated"
    if not user.has_perm("accounts.respond"):
        roles = ", ".join(sorted(user.groups.values_list("name", flat=True))) or "no role"
        return f"{who} cannot take {position}: their role ({roles}) does not work in the field"
    own = Profile.objects.filter(user=user).values_list("discipline", flat=True).first() or ""
    if own != discipline:
        has = f"their discipline is {Discipline(own).label}" if own else "they have no discipline"
        return f"{who} cannot take {position}: {has}"
    records = training_facts(user_ids=[user.pk]).get(user.pk, [])
    gaps = training_gaps(program, discipline, records, first_day=first_day, last_day=last_day)
    if gaps:
        return f"{who} cannot take {position}: " + "; ".join(g.text for g in gaps)
    return None


def double_booking(*, user, starts_at, ends_at, zone) -> str | None:
    """The shift this person is already on at an overlapping time, in words."""
    other = (
        ShiftMember.objects.filter(
            user=user, shift__starts_at__lt=ends_at, shift__ends_at__gt=starts_at
        )
        .select_related("shift__team")
        .order_by("shift__starts_at")
        .first()
    )
    if other is None:
        return None
    s = other.shift
    a, b = s.starts_at.astimezone(zone), s.ends_at.astimezone(zone)
    return (
        f"{_who(user)} is already on {s.team.name}'s shift {a:%Y-%m-%d %H:%M}-"
        f"{b:%Y-%m-%d %H:%M} ({_position(other.discipline)[4:]}), which overlaps this one"
    )


def responders_with_training(*, program: Program, on: dt.date) -> list[dict]:
    """Every active responder with their discipline and the standing of each training
    their discipline needs (the staffing page)."""
    from django.contrib.auth import get_user_model

    users = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=RESPONDER)
        .select_related("heart_profile")
        .order_by("username")
        .distinct()
    )
    facts = training_facts(user_ids=[u.pk for u in users])
    rows = []
    for u in users:
        profile = getattr(u, "heart_profile", None)
        discipline = profile.discipline if profile else ""
        statuses = training_statuses(program, discipline, facts.get(u.pk, []), on=on)
        rows.append(
            {
                "user": u,
                "discipline": discipline,
                "statuses": statuses,
                "ready": all(s.state in ("current", "expiring") for s in statuses),
            }
        )
    return rows


def shifts_around(*, now: dt.datetime, days: int = 7) -> list[Shift]:
    """Shifts in force now or starting within ``days`` (with team and members)."""
    return list(
        Shift.objects.filter(ends_at__gt=now, starts_at__lt=now + dt.timedelta(days=days))
        .select_related("team")
        .prefetch_related("members__user")
        .order_by("starts_at", "team__name")
    )


def on_shift_clinician(*, team: Team, now: dt.datetime):
    """The first member in a clinician position on the team's shift in force now."""
    m = (
        ShiftMember.objects.filter(
            shift__team=team,
            shift__starts_at__lte=now,
            shift__ends_at__gt=now,
            discipline=Discipline.CLINICIAN,
        )
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return m.user if m else None


def clinician_position(*, user, now: dt.datetime) -> ShiftMember | None:
    """The person's clinician position on a shift in force now (with its team)."""
    return (
        ShiftMember.objects.filter(
            user=user,
            shift__starts_at__lte=now,
            shift__ends_at__gt=now,
            discipline=Discipline.CLINICIAN,
        )
        .select_related("shift__team")
        .first()
    )


# ------------------------------------------------------------------ backup requests

BACKUP_SOURCE = "backup"  # teams.services.request_backup


def ack_view(ack: BackupAck | None) -> dict | None:
    """Who saw a backup request and when (the board and the team's phone)."""
    if ack is None:
        return None
    by = ack.by.get_username() if ack.by_id and ack.by else ack.by_label.split(":", 1)[-1]
    return {
        "backup_call_id": ack.backup_call_id,
        "team_id": ack.team_id,
        "by": by,
        "at": ack.at,
    }


def backup_ack(*, backup_call_id: int) -> BackupAck | None:
    return BackupAck.objects.filter(backup_call_id=backup_call_id).select_related("by").first()


def open_backup_requests(*, limit: int = 50) -> list[dict]:
    """Backup requests nobody has acknowledged yet whose police call is still open (the
    board raises their alarm again on every reload), oldest first."""
    rows = (
        Call.objects.filter(source=BACKUP_SOURCE, state=Call.State.OPEN, backup_ack__isnull=True)
        .select_related("parent")
        .order_by("received_at", "id")[:limit]
    )
    out = []
    for c in rows:
        parent = c.parent
        team_id = (
            c.timeline.filter(kind="received", team__isnull=False)
            .values_list("team_id", flat=True)
            .first()
        )
        out.append(
            {
                "backup_call_id": c.pk,
                "call_id": c.parent_id,
                "team_id": team_id,
                "priority": c.priority,
                "nature": parent.nature if parent else c.nature,
                "address": c.address,
                "lon": c.lon,
                "lat": c.lat,
                "at": c.received_at,
            }
        )
    return out


def latest_backup_of_team_call(*, team_id: int, call_id: int) -> dict | None:
    """The team's most recent backup request on its call and whether dispatch saw it
    (the phone's "Dispatch saw your backup request")."""
    c = (
        Call.objects.filter(source=BACKUP_SOURCE, parent_id=call_id, timeline__team_id=team_id)
        .order_by("-received_at", "-id")
        .first()
    )
    if c is None:
        return None
    return {"backup_call_id": c.pk, "ack": ack_view(backup_ack(backup_call_id=c.pk))}

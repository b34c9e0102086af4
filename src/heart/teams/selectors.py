"""Reads for teams: staffing on shift, unit snapshots, the recommendation."""

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

from heart.calls.models import Call
from heart.domain.dispatch import Recommendation, UnitSnapshot, UnitState, recommend
from heart.domain.geo import TravelModel, valid_lon_lat
from heart.domain.program import Program
from heart.teams.models import Shift, ShiftMember, Team

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
    """Ranked teams for a call whose route is served by field teams; None otherwise."""
    now = now or timezone.now()
    unit = unit_key or program.team_unit_for_route(call.route)
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


def board_teams(*, now: dt.datetime | None = None) -> list[dict]:
    """Every active team for the board: status, staffing, position (stale flagged)."""
    now = now or timezone.now()
    limit = stale_after()
    out = []
    for s in team_snapshots(now=now):
        out.append(
            {
                "id": int(s.id),
                "name": s.label,
                "unit_key": s.kind,
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

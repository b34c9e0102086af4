"""Reads for the live pages (board snapshot, program outlines, a responder's call)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import Q
from django.utils import timezone
from shapely.geometry import mapping

from heart.apikit import after_cursor, keyset_page
from heart.calls.models import Call, TimelineEvent
from heart.domain.care import normalize_address
from heart.domain.dispatch import CANCELS, NEXT_STATUS, TRANSITIONS, UnitState
from heart.domain.geo import haversine_km
from heart.live.store import current_seq
from heart.program_in_force import current_program
from heart.teams.models import Assignment, BackupAck, RouteOverride, Team
from heart.teams.selectors import (
    ack_view,
    board_teams,
    latest_overrides,
    open_backup_requests,
)

BACKUP_SOURCE = "backup"


BOARD_PAGE = 300
WAITING_MAX = 200
_CALL_FIELDS = (
    "id",
    "cad_incident_id",
    "received_at",
    "nature",
    "priority",
    "route",
    "reasons",
    "lon",
    "lat",
    "address",
    "source",
    "parent_id",
)


def board_snapshot(
    *, now: dt.datetime | None = None, cursor: str | None = None, limit: int = BOARD_PAGE
) -> dict:
    """What an open board needs at (re)connection; events keep it current.

    ``seq`` is the live event stream's position read *before* the calls: the board
    asks the stream for everything after it (heart.live.store.replay), so no change is
    lost between the snapshot and the stream. Calls come newest first, one keyset page
    (``limit``, at most 500) with ``total`` open and ``next_cursor`` for the older ones
    ("N more" on the board); with ``cursor`` only that page of calls is returned.
    """
    now = now or timezone.now()
    seq = current_seq()
    page = keyset_page(
        Call.objects.filter(state=Call.State.OPEN).values(*_CALL_FIELDS),
        key=("received_at", "id"),
        kinds=(dt.datetime, int),
        descending=True,
        cursor=cursor,
        limit=limit,
    )
    calls = page.items
    waiting: list[dict] = []
    if cursor is None:
        # every team call still waiting for a team, however old: the board pins them on
        # top even when they lie beyond the first page
        on_page = {c["id"] for c in calls}
        waiting = [
            c
            for c in Call.objects.filter(
                state=Call.State.OPEN, route__in=sorted(current_program().field_routes())
            )
            .exclude(assignments__active=True)
            .order_by("received_at", "id")
            .values(*_CALL_FIELDS)[:WAITING_MAX]
            if c["id"] not in on_page
        ]
    _decorate(calls + waiting)
    out = {
        "now": now,
        "seq": seq,
        "calls": calls,
        "total": page.total,
        "next_cursor": page.next_cursor,
    }
    if cursor is None:
        out["waiting"] = waiting
    if cursor is None:
        current = {
            pk: (call_id, since)
            for pk, call_id, since in Team.objects.values_list(
                "id", "current_call_id", "status_changed_at"
            )
        }
        out["teams"] = [
            {
                **t,
                "current_call_id": current.get(t["id"], (None, None))[0],
                "status_since": current.get(t["id"], (None, None))[1],
            }
            for t in board_teams(now=now, program=current_program())
        ]
        # raised again on every reload until a dispatcher acknowledges them
        out["backups"] = open_backup_requests()
    return out


def _decorate(calls: list[dict]) -> None:
    """Each call's team, recommendation and latest override (in place)."""
    ids = [c["id"] for c in calls]
    assigned = dict(
        Assignment.objects.filter(active=True, call_id__in=ids).values_list("call_id", "team_id")
    )
    recommended: dict[int, dict] = {}
    for ev in (
        TimelineEvent.objects.filter(call_id__in=ids, kind=TimelineEvent.Kind.RECOMMENDED)
        .order_by("at", "id")
        .values("call_id", "text", "data")
    ):
        picks = (ev["data"] or {}).get("picks") or []
        recommended[ev["call_id"]] = {
            "team_id": picks[0]["team_id"] if picks else None,
            "eta_minutes": picks[0].get("eta_minutes") if picks else None,
            "reason": ev["text"],
        }
    overrides = latest_overrides(call_ids=ids)
    backup_ids = [c["id"] for c in calls if c["source"] == BACKUP_SOURCE]
    acks = {
        a.backup_call_id: ack_view(a)
        for a in BackupAck.objects.filter(backup_call_id__in=backup_ids).select_related("by")
    }
    for c in calls:
        c["ack"] = acks.get(c["id"])
        c["team_id"] = assigned.get(c["id"])
        c["recommended"] = recommended.get(c["id"])
        c["backup"] = c["source"] == BACKUP_SOURCE
        c["override"] = override_view(overrides.get(c["id"]))


def open_calls_after(cursor: str) -> int:
    """How many open calls lie beyond a board's last page (its "N more")."""
    return after_cursor(
        Call.objects.filter(state=Call.State.OPEN),
        key=("received_at", "id"),
        kinds=(dt.datetime, int),
        descending=True,
        cursor=cursor,
    ).count()


def override_view(o: RouteOverride | None) -> dict | None:
    """What a call card says about the latest override: who, why, for which route."""
    if o is None:
        return None
    by = o.by.get_username() if o.by_id and o.by else o.by_label
    return {
        "team_id": o.team_id,
        "route": o.route,
        "action": o.action,
        "by": by,
        "reason": o.reason,
        "at": o.at,
    }


def route_service() -> dict:
    """For the board's script: which routes each unit serves, which routes send a field
    unit (from the program's run card: the page hard-codes no route names)."""
    program = current_program()
    routes = {s.route for s in program.run_card} | {program.fallback_route}
    return {
        "serves": {
            key: sorted(r for r in routes if program.serves(key, r)) for key in program.units
        },
        "fieldRoutes": sorted(program.field_routes()),
        "kinds": {key: u.kind for key, u in program.units.items()},
    }


@lru_cache(maxsize=4)
def _areas(program_name: str) -> dict:
    program = current_program()
    features = []
    for key, area in program.areas.items():
        if area.geometry is None:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"key": key, "label": area.label},
                "geometry": mapping(area.geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def program_areas() -> dict:
    """The program's service-area outlines as GeoJSON (no personal data)."""
    return _areas(current_program().name)


def next_statuses(status: str) -> list[str]:
    """Buttons for a responder: the transitions the table allows, minus those that
    need another path (dispatch = a dispatcher's assignment; clearing = the one
    clearing flow with the disposition form)."""
    cur = UnitState(status)
    allowed = TRANSITIONS[cur] - {UnitState.DISPATCHED, UnitState.CLEARING}
    if cur is UnitState.CLEARING:
        allowed -= {UnitState.AVAILABLE}
    order = list(UnitState)
    return [s.value for s in sorted(allowed, key=order.index)]


@dataclass(frozen=True, slots=True)
class PhoneActions:
    """What the phone offers in a status: ``primary`` is the one big next move (a
    status, or "clear" for the clearing flow), ``others`` smaller moves, ``cancel`` the
    small confirmed way back to available, ``off_duty`` out of service (only when free)."""

    primary: str | None
    others: tuple[str, ...]
    cancel: str | None
    off_duty: str | None


def phone_actions(status: str) -> PhoneActions:
    cur = UnitState(status)
    allowed = set(next_statuses(status))
    nxt = NEXT_STATUS[cur]
    primary = None
    if nxt is UnitState.CLEARING or cur is UnitState.CLEARING:
        primary = "clear"
    elif nxt is not None and nxt.value in allowed:
        primary = nxt.value
    cancel = (
        UnitState.AVAILABLE.value
        if (cur, UnitState.AVAILABLE) in CANCELS and "available" in allowed
        else None
    )
    off_duty = UnitState.OUT_OF_SERVICE.value if "out_of_service" in allowed else None
    others = tuple(s for s in next_statuses(status) if s not in (primary, cancel, off_duty))
    return PhoneActions(primary, others, cancel, off_duty)


SAFETY_RADIUS_M = 150.0
SAFETY_WINDOW_DAYS = 365


@dataclass(frozen=True, slots=True)
class SafetyNote:
    """An earlier police backup request at this call's address or near its point."""

    call_id: int
    at: dt.datetime
    why: str  # "same address" | "within 120 m"
    text: str  # the request's own words (who asked, the crew's note)


def safety_notes(call: Call, *, now: dt.datetime | None = None, limit: int = 5) -> list[SafetyNote]:
    """Earlier backup requests (calls made by "request police backup") at the same
    address or within SAFETY_RADIUS_M of the call's point, newest first, with the
    reason each one is shown. The call's own backup requests are left out."""
    now = now or timezone.now()
    start = now - dt.timedelta(days=SAFETY_WINDOW_DAYS)
    qs = (
        Call.objects.filter(source=BACKUP_SOURCE, received_at__gte=start, received_at__lte=now)
        .exclude(parent_id=call.pk)
        .exclude(pk=call.pk)
    )
    key = normalize_address(call.address)
    near = Q()
    if key:
        first = call.address.strip().split()[0]
        near |= Q(address__istartswith=first)
    if call.lat is not None and call.lon is not None:
        dlat = SAFETY_RADIUS_M / 111_320.0
        dlon = dlat / max(0.1, math.cos(math.radians(call.lat)))
        near |= Q(
            lat__gte=call.lat - dlat,
            lat__lte=call.lat + dlat,
            lon__gte=call.lon - dlon,
            lon__lte=call.lon + dlon,
        )
    if not near:
        return []
    notes = []
    for b in qs.filter(near).order_by("-received_at")[:200]:
        if key and normalize_address(b.address) == key:
            why = "same address"
        elif b.lat is not None and call.lat is not None:
            d = 1000.0 * haversine_km(call.lon, call.lat, b.lon, b.lat)
            if d > SAFETY_RADIUS_M:
                continue
            why = f"within {max(10, round(d / 10) * 10):.0f} m"
        else:
            continue
        notes.append(SafetyNote(b.pk, b.received_at, why, b.narrative[:300]))
        if len(notes) >= limit:
            break
    return notes


def local_tile(*, z: int, x: int, y: int, folder: str, mbtiles: str) -> tuple[bytes | None, str]:
    """One raster tile (bytes, content type) from a folder of z/x/y.png|jpg files or an
    MBTiles file (rows in TMS order: y flipped); (None, "") when there is none."""
    from pathlib import Path

    if z < 0 or z > 22 or not (0 <= x < 2**z) or not (0 <= y < 2**z):
        return None, ""
    if folder:
        for ext, kind in (("png", "image/png"), ("jpg", "image/jpeg"), ("webp", "image/webp")):
            p = Path(folder) / str(z) / str(x) / f"{y}.{ext}"
            if p.is_file():
                return p.read_bytes(), kind
    if mbtiles and Path(mbtiles).is_file():
        import sqlite3

        conn = sqlite3.connect(f"file:{mbtiles}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (2**z - 1) - y),
            ).fetchone()
        finally:
            conn.close()
        if row is not None:
            data = bytes(row[0])
            kind = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
            if data[:4] == b"RIFF":
                kind = "image/webp"
            return data, kind
    return None, ""

"""Unit statuses and the team recommendation: pure functions shared by live and planning.

* :data:`TRANSITIONS` is the one table of allowed unit status changes; the Django
  service that writes statuses must check :func:`check_transition` and nothing else
  may write a status.
* :func:`route_refusal` is the dispatch guard: a unit goes only to calls whose current
  route the program's run card gives to its kind of unit; anything else needs a
  dispatcher's written override (the Django service records it).
* :func:`recommend` ranks units that can take a call by estimated travel time and
  explains every unit it could not use (a *shortfall*). The planning simulator calls
  the very same function with simulated unit snapshots.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from heart.domain.geo import TravelModel, valid_lon_lat
from heart.domain.program import Program


class UnitState(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"  # transporting / caring handoff
    CLEARING = "clearing"
    OUT_OF_SERVICE = "out_of_service"


S = UnitState
# A unit on a call (dispatched, en route, on scene, transporting, clearing) never goes
# out of service in one step: it cancels back to available (dispatched / en route) or
# clears the call first; only an available unit goes out of service.
TRANSITIONS: dict[UnitState, frozenset[UnitState]] = {
    S.AVAILABLE: frozenset({S.DISPATCHED, S.OUT_OF_SERVICE}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.ON_SCENE, S.AVAILABLE}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE}),
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.CLEARING}),
    S.TRANSPORTING: frozenset({S.CLEARING}),
    S.CLEARING: frozenset({S.AVAILABLE}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE}),
}
# The one forward move a crew makes next (the phone's biggest button); the other allowed
# moves are secondary. "available" from dispatched / en route is a cancel (confirmed on
# the phone); "clearing" is reached through the one clearing flow (with the disposition).
NEXT_STATUS: dict[UnitState, UnitState | None] = {
    S.AVAILABLE: None,  # dispatched only by a dispatcher's assignment
    S.DISPATCHED: S.EN_ROUTE,
    S.EN_ROUTE: S.ON_SCENE,
    S.ON_SCENE: S.CLEARING,
    S.TRANSPORTING: S.CLEARING,
    S.CLEARING: S.AVAILABLE,
    S.OUT_OF_SERVICE: S.AVAILABLE,
}
CANCELS = frozenset({(S.DISPATCHED, S.AVAILABLE), (S.EN_ROUTE, S.AVAILABLE)})
# statuses in which a unit is committed to a call
BUSY = frozenset({S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING, S.CLEARING})


class TransitionError(ValueError):
    pass


def check_transition(current: str, new: str) -> UnitState:
    """The new state if the table allows current -> new; otherwise a clear error."""
    try:
        cur, nxt = UnitState(current), UnitState(new)
    except ValueError:
        raise TransitionError(
            f"status: unknown status {new!r} (one of {[s.value for s in UnitState]})"
        ) from None
    if nxt not in TRANSITIONS[cur]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[cur])) or "none"
        raise TransitionError(
            f"status: a unit that is {cur.value} cannot become {nxt.value} (allowed: {allowed})"
        )
    return nxt


@dataclass(frozen=True, slots=True)
class RouteRefusal:
    """Why a unit may not be sent to a call on a route: stable ``code`` + sentence."""

    code: str  # route_served_by_other_unit | route_not_served | unit_not_in_program | ...
    text: str


def _route_words(program: Program, route: str) -> str:
    if route == program.fallback_route and not program.units_for_route(route):
        return f"route {route} (the standard response, outside this program)"
    return f"route {route}"


def route_refusal(program: Program, *, unit_key: str, route: str) -> RouteRefusal | None:
    """None when the run card gives calls on ``route`` to units of ``unit_key``;
    otherwise the refusal naming the route and who does serve it."""
    if program.serves(unit_key, route):
        return None
    unit = program.units.get(unit_key)
    if unit is None:
        return RouteRefusal(
            "unit_not_in_program",
            f"its unit {unit_key!r} is not a unit of {program.name} (units: {sorted(program.units)})",
        )
    serving = [program.units[k].label for k in program.units_for_route(route)]
    if serving:
        return RouteRefusal(
            "route_served_by_other_unit",
            f"{_route_words(program, route)} is served by the {' or '.join(serving)}, "
            f"not the {unit.label}",
        )
    return RouteRefusal(
        "route_not_served",
        f"{_route_words(program, route)} is not served by any unit of this program, "
        f"so not by the {unit.label}",
    )


def field_unit_refusal(program: Program, route: str) -> RouteRefusal | None:
    """Why no field unit is recommended for a route (None when one serves it)."""
    if program.field_unit_for_route(route) is not None:
        return None
    serving = [program.units[k] for k in program.units_for_route(route)]
    if serving:
        labels = " or ".join(u.label for u in serving)
        how = " by phone" if all(u.kind == "phone" for u in serving) else ""
        return RouteRefusal(
            "route_served_by_phone" if how else "route_not_in_field",
            f"{_route_words(program, route)} is handled by the {labels}{how}; "
            "no field unit is sent",
        )
    return RouteRefusal(
        "route_not_served",
        f"{_route_words(program, route)} is not served by any unit of this program; "
        "no field unit is sent",
    )


@dataclass(frozen=True, slots=True)
class UnitSnapshot:
    """What the recommendation knows about one unit at one instant."""

    id: str
    kind: str  # run-card unit key, e.g. "crt"
    status: str
    on_shift: bool
    disciplines: frozenset[str]
    lon: float | None = None
    lat: float | None = None
    position_at: dt.datetime | None = None
    label: str = ""


def _team_id(unit_id: str) -> int | str:
    # live teams are database rows (numeric ids); the simulator's teams are names
    return int(unit_id) if unit_id.isdigit() else unit_id


@dataclass(frozen=True, slots=True)
class Pick:
    unit_id: str
    eta_minutes: float
    reason: str
    stale_position: bool = False

    @property
    def team_id(self) -> int | str:
        return _team_id(self.unit_id)

    @property
    def eta_rounded(self) -> float | None:
        """Minutes to one decimal; None when there is no estimate (no fix, no location)."""
        return None if self.eta_minutes == float("inf") else round(self.eta_minutes, 1)

    def as_dict(self) -> dict:
        """The pick as every reader shows it (API, board event, timeline)."""
        return {
            "team_id": self.team_id,
            "eta_minutes": self.eta_rounded,
            "reason": self.reason,
            "stale_position": self.stale_position,
        }


@dataclass(frozen=True, slots=True)
class Shortfall:
    unit_id: str | None  # None: a shortfall of the whole unit kind
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {
            "team_id": None if self.unit_id is None else _team_id(self.unit_id),
            "code": self.code,
            "reason": self.reason,
        }


# why no unit could go, in words, by shortfall code
_NONE_WORDS = {
    "busy": "every team is busy",
    "off_shift": "no team is on shift",
    "not_staffed": "no team is fully staffed",
    "no_units": "no teams are set up",
}


@dataclass(frozen=True, slots=True)
class Recommendation:
    picks: tuple[Pick, ...]
    shortfalls: tuple[Shortfall, ...]

    @property
    def best(self) -> Pick | None:
        return self.picks[0] if self.picks else None

    def why_none(self) -> str:
        """Why no unit can go, in words ("every team is busy; no team is on shift");
        empty when one can."""
        if self.picks:
            return ""
        codes = sorted({s.code for s in self.shortfalls}) or ["no_units"]
        return "; ".join(_NONE_WORDS.get(c, c) for c in codes)

    def as_dict(self) -> dict:
        return {
            "picks": [p.as_dict() for p in self.picks],
            "shortfalls": [s.as_dict() for s in self.shortfalls],
            "why_none": self.why_none(),
        }


def recommend(
    *,
    call_lon: float | None,
    call_lat: float | None,
    unit_kind: str,
    units: Sequence[UnitSnapshot],
    now: dt.datetime,
    required_disciplines: frozenset[str] = frozenset(),
    travel: TravelModel | None = None,
    stale_after: dt.timedelta = dt.timedelta(minutes=5),
    limit: int = 5,
    etas: Mapping[str, float] | None = None,
) -> Recommendation:
    """Rank available, on-shift, fully staffed units of ``unit_kind`` by ETA.

    ``etas`` (unit id -> minutes) are travel times from a routing engine, computed by
    the caller (e.g. OSRM); units missing from it fall back to ``travel``. A GPS fix
    older than ``stale_after`` (or none) marks the pick ``stale_position``.
    """
    model = travel or TravelModel()
    located = valid_lon_lat(call_lon, call_lat)
    shortfalls: list[Shortfall] = []
    ready: list[UnitSnapshot] = []
    for unit in units:
        if unit.kind != unit_kind:
            continue
        if not unit.on_shift:
            name = unit.label or unit.id
            shortfalls.append(Shortfall(unit.id, "off_shift", f"{name} is not on shift"))
            continue
        missing = required_disciplines - unit.disciplines
        if missing:
            name = unit.label or unit.id
            shortfalls.append(
                Shortfall(
                    unit.id,
                    "not_staffed",
                    f"{name} lacks {', '.join(sorted(missing))} on shift",
                )
            )
            continue
        if unit.status != UnitState.AVAILABLE:
            name = unit.label or unit.id
            shortfalls.append(
                Shortfall(unit.id, "busy", f"{name} is {unit.status.replace('_', ' ')}")
            )
            continue
        ready.append(unit)

    # ETAs for every ready unit in one vectorised call of the shared travel model
    fixed = [u for u in ready if valid_lon_lat(u.lon, u.lat)]
    eta: dict[str, tuple[float, str]] = {}
    if located and fixed:
        if hasattr(model, "minutes_array"):
            mins = model.minutes_array(
                np.fromiter((u.lon for u in fixed), float, len(fixed)),
                np.fromiter((u.lat for u in fixed), float, len(fixed)),
                call_lon,
                call_lat,
            ).tolist()
        else:
            mins = [model.minutes(u.lon, u.lat, call_lon, call_lat) for u in fixed]
        for u, m in zip(fixed, mins, strict=True):
            routed = etas.get(u.id) if etas else None
            if routed is not None and routed >= 0:
                eta[u.id] = (float(routed), "by road")
            else:
                eta[u.id] = (float(m), "estimated")
    inf = float("inf")
    ranked = heapq.nsmallest(limit, ready, key=lambda u: (eta.get(u.id, (inf, ""))[0], u.id))

    picks: list[Pick] = []
    for unit in ranked:
        name = unit.label or unit.id
        has_fix = valid_lon_lat(unit.lon, unit.lat)
        stale = not has_fix or unit.position_at is None or now - unit.position_at > stale_after
        if unit.id in eta:
            minutes, how = eta[unit.id]
            age = "" if not stale else " (position is stale)"
            reason = f"{name}: available, about {minutes:.0f} min away ({how}){age}"
        else:
            minutes = inf
            reason = f"{name}: available; no ETA ({'call location unknown' if not located else 'no GPS fix'})"
        picks.append(Pick(unit.id, minutes, reason, stale))
    if not picks and not shortfalls:
        shortfalls.append(Shortfall(None, "no_units", f"no {unit_kind} units are defined"))
    return Recommendation(tuple(picks), tuple(shortfalls))

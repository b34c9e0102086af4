"""Service-area proposal: a contiguous set of beats (or H3 cells) covering the most calls.

Choosing the best connected set under a budget is NP-hard (a maximum-weight connected
subgraph), so this is a greedy heuristic: start from each of the ``starts`` busiest
zones, repeatedly add the neighbouring zone that most improves the objective and still
fits the limit, and keep the best result. On the Durham data it finds sets at least as
good as the real pilot area for the same number of beats (see docs/planning.md).

Objectives (each stated in the output):

* ``volume`` (default): the most eligible calls covered.
* ``drive_time``: the most eligible calls covered among zones a team reaches from its
  posts within ``max_drive_minutes`` (zone centre, the live travel model); ties go to
  the shorter call-weighted drive.
* ``equity``: no group (council ward, census tract: a layer given by the user) left
  behind: the smallest share of any group's eligible calls covered comes first, then the
  sum of the groups' shares (each group counting the same), then volume.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import h3
import shapely
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from heart.domain.geo import normalise_beat

KM_PER_DEGREE = 111.32


class AreaInputError(ValueError):
    pass


@dataclass(frozen=True)
class Zone:
    id: str
    geometry: BaseGeometry
    area_km2: float


@dataclass(frozen=True)
class Proposal:
    zones: tuple[str, ...]
    covered: int
    total: int
    area_km2: float

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else math.nan

    def as_dict(self) -> dict:
        return {
            "zones": list(self.zones),
            "count": len(self.zones),
            "covered_calls": self.covered,
            "total_calls": self.total,
            "covered_share": self.share,
            "area_km2": round(self.area_km2, 3),
        }


def approx_km2(geometry: BaseGeometry) -> float:
    """Area of a lon/lat geometry: degrees² scaled at its centroid's latitude (±1% in a city)."""
    lat = geometry.centroid.y
    return geometry.area * KM_PER_DEGREE**2 * math.cos(math.radians(lat))


def load_beat_zones(path: Path, id_property: str = "CAD") -> dict[str, Zone]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AreaInputError(f"{path}: not a readable GeoJSON beat layer: {exc}") from None
    parts: dict[str, list[BaseGeometry]] = {}
    for i, feature in enumerate(data.get("features", [])):
        beat = normalise_beat((feature.get("properties") or {}).get(id_property))
        if beat is None or not feature.get("geometry"):
            raise AreaInputError(f"{path}: features[{i}]: no {id_property!r} or no geometry")
        parts.setdefault(beat, []).append(shape(feature["geometry"]))
    if not parts:
        raise AreaInputError(f"{path}: no beat polygons")
    zones = {}
    for beat, geoms in parts.items():
        g = shapely.union_all(geoms)
        zones[beat] = Zone(beat, g, approx_km2(g))
    return zones


def h3_zones(cells: list[str]) -> dict[str, Zone]:
    zones = {}
    for cell in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
        zones[cell] = Zone(cell, Polygon(ring), h3.cell_area(cell, "km^2"))
    return zones


def beat_adjacency(zones: dict[str, Zone]) -> dict[str, set[str]]:
    """Beats that share an edge or a corner (a 1e-6° buffer bridges digitising slivers)."""
    ids = list(zones)
    geoms = [zones[i].geometry.buffer(1e-6) for i in ids]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    out: dict[str, set[str]] = {i: set() for i in ids}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            out[ids[a]].add(ids[b])
    return out


def h3_adjacency(zones: dict[str, Zone]) -> dict[str, set[str]]:
    return {c: (set(h3.grid_disk(c, 1)) - {c}) & set(zones) for c in zones}


OBJECTIVES = ("volume", "drive_time", "equity")


@dataclass(frozen=True)
class Objective:
    """What a proposal maximises, and the data it needs (stated in the output)."""

    name: str = "volume"
    drive_minutes: dict[str, float] | None = None  # zone -> minutes from the nearest post
    max_drive_minutes: float | None = None
    groups: dict[str, str] | None = None  # zone -> ward / tract

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise AreaInputError(f"objective: {self.name!r} is not one of {OBJECTIVES}")
        if self.name == "drive_time" and (
            self.drive_minutes is None or self.max_drive_minutes is None
        ):
            raise AreaInputError("objective drive_time: give --post and --max-drive-minutes")
        if self.name == "equity" and not self.groups:
            raise AreaInputError("objective equity: give --equity-layer (wards or tracts)")

    def allowed(self, zone: str) -> bool:
        if self.max_drive_minutes is None or self.drive_minutes is None:
            return True
        return self.drive_minutes.get(zone, math.inf) <= self.max_drive_minutes

    def score(self, chosen: set[str], counts: dict[str, int]) -> tuple:
        covered = sum(counts.get(z, 0) for z in chosen)
        if self.name == "equity":
            groups = self.groups or {}
            return (
                round(min_group_share(chosen, counts, groups), 9),
                round(group_share_sum(chosen, counts, groups), 9),
                covered,
            )
        if self.name == "drive_time":
            return (covered, -round(mean_drive(chosen, counts, self.drive_minutes or {}), 6))
        return (covered,)

    def statement(self) -> str:
        if self.name == "equity":
            return (
                "equity: the smallest share of any group's (ward's, tract's) eligible calls "
                "covered, then the sum of the groups' shares (each group counting the same), "
                "then volume"
            )
        if self.name == "drive_time":
            return (
                f"drive time: the most eligible calls in zones within {self.max_drive_minutes:g} "
                "min of a post (zone centre, the live travel model), then the shorter drive"
            )
        return "volume: the most eligible calls covered"


def group_share_sum(chosen: set[str], counts: dict[str, int], groups: dict[str, str]) -> float:
    totals: dict[str, int] = {}
    covered: dict[str, int] = {}
    for z, n in counts.items():
        g = groups.get(z)
        if g is None:
            continue
        totals[g] = totals.get(g, 0) + n
        if z in chosen:
            covered[g] = covered.get(g, 0) + n
    return sum(covered.get(g, 0) / t for g, t in totals.items() if t)


def min_group_share(chosen: set[str], counts: dict[str, int], groups: dict[str, str]) -> float:
    totals: dict[str, int] = {}
    covered: dict[str, int] = {}
    for z, n in counts.items():
        g = groups.get(z)
        if g is None or not n:
            continue
        totals[g] = totals.get(g, 0) + n
        if z in chosen:
            covered[g] = covered.get(g, 0) + n
    return min((covered.get(g, 0) / t for g, t in totals.items()), default=0.0)


def mean_drive(chosen: set[str], counts: dict[str, int], drive: dict[str, float]) -> float:
    w = [(counts.get(z, 0), drive.get(z)) for z in chosen if drive.get(z) is not None]
    total = sum(n for n, _ in w)
    return sum(n * m for n, m in w) / total if total else math.nan


def propose(
    counts: dict[str, int],
    zones: dict[str, Zone],
    adjacency: dict[str, set[str]],
    *,
    max_zones: int | None = None,
    max_km2: float | None = None,
    starts: int = 10,
    objective: Objective | None = None,
) -> Proposal:
    """Best contiguous set found by greedy growth from the busiest ``starts`` zones."""
    if max_zones is None and max_km2 is None:
        raise AreaInputError("give a limit: a number of zones and/or an area in km²")
    if max_zones is not None and max_zones < 1:
        raise AreaInputError(f"max zones: at least 1, found {max_zones}")
    objective = objective or Objective()
    if objective.name != "volume":
        return _propose_by(counts, zones, adjacency, max_zones, max_km2, starts, objective)
    total = sum(counts.values())
    candidates = sorted((z for z in zones if counts.get(z, 0) > 0), key=lambda z: (-counts[z], z))[
        :starts
    ]
    best = Proposal((), 0, total, 0.0)

    def fits(n: int, km2: float) -> bool:
        return (max_zones is None or n <= max_zones) and (max_km2 is None or km2 <= max_km2)

    for seed in candidates:
        if not fits(1, zones[seed].area_km2):
            continue
        chosen = [seed]
        chosen_set = {seed}
        covered = counts.get(seed, 0)
        km2 = zones[seed].area_km2
        while True:
            frontier = {n for z in chosen for n in adjacency.get(z, ())} - chosen_set
            options = [n for n in frontier if fits(len(chosen) + 1, km2 + zones[n].area_km2)]
            if not options:
                break
            nxt = max(options, key=lambda n: (counts.get(n, 0), -zones[n].area_km2, n))
            if counts.get(nxt, 0) == 0 and max_zones is None:
                break  # growing into empty zones only spends area
            chosen.append(nxt)
            chosen_set.add(nxt)
            covered += counts.get(nxt, 0)
            km2 += zones[nxt].area_km2
        if (covered, -km2) > (best.covered, -best.area_km2):
            best = Proposal(tuple(sorted(chosen)), covered, total, km2)
    return best


def _propose_by(
    counts: dict[str, int],
    zones: dict[str, Zone],
    adjacency: dict[str, set[str]],
    max_zones: int | None,
    max_km2: float | None,
    starts: int,
    objective: Objective,
) -> Proposal:
    """Greedy growth under another objective: each step adds the neighbour whose addition
    scores best (the score of the whole set, so equity sees what a zone adds)."""
    total = sum(counts.values())
    allowed = {z for z in zones if objective.allowed(z)}
    candidates = sorted(
        (z for z in allowed if counts.get(z, 0) > 0), key=lambda z: (-counts[z], z)
    )[:starts]

    def fits(n: int, km2: float) -> bool:
        return (max_zones is None or n <= max_zones) and (max_km2 is None or km2 <= max_km2)

    best: tuple | None = None
    best_set: tuple[str, ...] = ()
    best_km2 = 0.0
    for seed in candidates:
        if not fits(1, zones[seed].area_km2):
            continue
        chosen = {seed}
        km2 = zones[seed].area_km2
        while True:
            frontier = {n for z in chosen for n in adjacency.get(z, ())} - chosen
            options = [
                n
                for n in sorted(frontier & allowed)
                if fits(len(chosen) + 1, km2 + zones[n].area_km2)
            ]
            if not options:
                break
            scored = [
                (objective.score(chosen | {n}, counts), -zones[n].area_km2, n) for n in options
            ]
            top = max(scored)
            if top[0] <= objective.score(chosen, counts) and max_zones is None:
                break  # nothing left improves the objective: do not spend area
            chosen.add(top[2])
            km2 += zones[top[2]].area_km2
        key = (objective.score(chosen, counts), -km2)
        if best is None or key > best:
            best, best_set, best_km2 = key, tuple(sorted(chosen)), km2
    covered = sum(counts.get(z, 0) for z in best_set)
    return Proposal(best_set, covered, total, best_km2)


def zone_groups(zones: dict[str, Zone], layer: Path, id_property: str) -> dict[str, str]:
    """Each zone's group (ward, tract): the layer polygon holding its representative point."""
    groups = load_beat_zones(layer, id_property)
    names = sorted(groups)
    tree = shapely.STRtree([groups[g].geometry for g in names])
    out = {}
    for zid, zone in zones.items():
        point = zone.geometry.representative_point()
        hits = tree.query(point, predicate="intersects")
        if len(hits):
            out[zid] = names[int(min(hits))]
    return out


def zone_drive_minutes(
    zones: dict[str, Zone], posts: list[tuple[float, float]], travel
) -> dict[str, float]:
    """Minutes from the nearest post to each zone's centre (the live travel model)."""
    out = {}
    for zid, zone in zones.items():
        c = zone.geometry.representative_point()
        out[zid] = min(travel.minutes(px, py, c.x, c.y) for px, py in posts)
    return out


def evidence(
    proposal: Proposal,
    counts: dict[str, int],
    objective: Objective,
) -> dict:
    """The figures behind a set of zones under each objective that has its data."""
    chosen = set(proposal.zones)
    out: dict = {"objective": objective.name, "score": list(objective.score(chosen, counts))}
    if objective.drive_minutes is not None:
        out["mean_drive_minutes"] = mean_drive(chosen, counts, objective.drive_minutes)
        out["max_drive_minutes"] = max(
            (objective.drive_minutes[z] for z in chosen if z in objective.drive_minutes),
            default=None,
        )
    if objective.groups:
        by_group: dict[str, dict[str, int]] = {}
        for z, n in counts.items():
            g = objective.groups.get(z)
            if g is None:
                continue
            row = by_group.setdefault(g, {"eligible": 0, "covered": 0})
            row["eligible"] += n
            row["covered"] += n if z in chosen else 0
        out["groups"] = [
            {
                "group": g,
                **r,
                "covered_share": r["covered"] / r["eligible"] if r["eligible"] else None,
            }
            for g, r in sorted(by_group.items())
        ]
        out["groups_reached"] = sum(1 for r in by_group.values() if r["covered"])
        out["group_share_sum"] = group_share_sum(chosen, counts, objective.groups)
        out["min_group_share"] = min_group_share(chosen, counts, objective.groups)
    return out


def coverage(counts: dict[str, int], zone_ids: set[str], zones: dict[str, Zone]) -> Proposal:
    """The same figures for a given set (e.g. the real pilot area)."""
    covered = sum(counts.get(z, 0) for z in zone_ids)
    km2 = sum(zones[z].area_km2 for z in zone_ids if z in zones)
    return Proposal(tuple(sorted(zone_ids)), covered, sum(counts.values()), km2)


def is_contiguous(zone_ids: set[str], adjacency: dict[str, set[str]]) -> bool:
    if not zone_ids:
        return True
    start = next(iter(zone_ids))
    seen = {start}
    stack = [start]
    while stack:
        for n in adjacency.get(stack.pop(), ()):
            if n in zone_ids and n not in seen:
                seen.add(n)
                stack.append(n)
    return seen == zone_ids

"""Service-area proposal: a contiguous set of beats (or H3 cells) covering the most calls.

Choosing the best connected set under a budget is NP-hard (a maximum-weight connected
subgraph), so this is a greedy heuristic: start from each of the ``starts`` busiest
zones, repeatedly add the neighbouring zone with the most eligible calls that still
fits the limit, and keep the best result. On the Durham data it finds sets at least as
good as the real pilot area for the same number of beats (see docs/planning.md).
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


def propose(
    counts: dict[str, int],
    zones: dict[str, Zone],
    adjacency: dict[str, set[str]],
    *,
    max_zones: int | None = None,
    max_km2: float | None = None,
    starts: int = 10,
) -> Proposal:
    """Best contiguous set found by greedy growth from the busiest ``starts`` zones."""
    if max_zones is None and max_km2 is None:
        raise AreaInputError("give a limit: a number of zones and/or an area in km²")
    if max_zones is not None and max_zones < 1:
        raise AreaInputError(f"max zones: at least 1, found {max_zones}")
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

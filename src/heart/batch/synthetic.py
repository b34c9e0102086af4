"""Synthetic, Durham-like 911 calls for the demo, tests and benchmarks.

Nothing here is real: times follow a plausible daily curve over a period, natures are
drawn with weights, points fall inside a given outline (and optionally get the beat of
the polygon they fall in), and some calls carry narratives with and without weapon
or violence phrases (some negated). Vectorised with NumPy, so a million calls take a
second or two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import shapely
from shapely.geometry.base import BaseGeometry

# relative call volume by local hour (CAD data peaks mid-afternoon, troughs ~5 a.m.)
HOURLY_WEIGHTS = np.array(
    [
        3,
        2.5,
        2,
        1.6,
        1.3,
        1.2,
        1.6,
        2.5,
        3.5,
        4.2,
        4.6,
        4.9,
        5,
        5,
        5.1,
        5.2,
        5.2,
        5,
        4.8,
        4.5,
        4.2,
        4,
        3.7,
        3.3,
    ]
)

NARRATIVES = (
    "caller reports male yelling at passersby, no weapons seen",
    "subject sleeping in doorway, will not leave",
    "female in distress talking about hurting herself, no weapon",
    "man with a knife threatening to cut himself",
    "subject says he has a gun and wants to die",
    "neighbor says son is hitting his mother",
    "caller requests check on elderly neighbor not seen in days",
    "intoxicated male laying on sidewalk, denies having any weapons",
    "two people fighting in parking lot",
    "subject exposing himself near bus stop",
    "panhandler approaching cars at intersection",
    "possibly armed, caller not sure",
    "person banging on doors, unarmed, appears confused",
    "RP states brother threatening to kill their dad",
    "customer refuses to leave store, yelling, no violence",
    "no gun seen but subject has a machete",
)


@dataclass(frozen=True, slots=True)
class BeatLayer:
    ids: np.ndarray  # beat id per polygon
    polygons: np.ndarray  # shapely geometries


def generate_calls(
    n: int,
    *,
    natures: Sequence[str],
    nature_weights: Sequence[float] | None = None,
    area: BaseGeometry,
    start: dt.date,
    days: int = 365,
    timezone: str = "America/New_York",
    narrative_share: float = 0.3,
    flag_share: float = 0.02,
    beat_layer: BeatLayer | None = None,
    beat_share: float = 0.6,
    seed: int = 0,
) -> pl.DataFrame:
    """Calls in the project's standard layout (mapping `heart-standard`)."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, n)
    hour = rng.choice(24, n, p=HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum())
    second = rng.integers(0, 3600, n)
    local_naive = (
        np.datetime64(start.isoformat(), "s")
        + day.astype("timedelta64[D]")
        + hour.astype("timedelta64[h]")
        + second.astype("timedelta64[s]")
    )
    weights = np.asarray(
        nature_weights if nature_weights is not None else np.ones(len(natures)), float
    )
    nature = np.asarray(natures, dtype=object)[
        rng.choice(len(natures), n, p=weights / weights.sum())
    ]
    lon, lat = _points_in(area, n, rng)

    beat = np.full(n, None, dtype=object)
    if beat_layer is not None:
        with_beat = rng.random(n) < beat_share
        points = shapely.points(lon[with_beat], lat[with_beat])
        tree = shapely.STRtree(beat_layer.polygons)
        pt_idx, poly_idx = tree.query(points, predicate="intersects")
        found = np.full(len(points), None, dtype=object)
        found[pt_idx] = beat_layer.ids[poly_idx]
        beat[with_beat] = found

    narrative = np.full(n, None, dtype=object)
    has_text = rng.random(n) < narrative_share
    narrative[has_text] = np.asarray(NARRATIVES, dtype=object)[
        rng.integers(0, len(NARRATIVES), int(has_text.sum()))
    ]
    weapon = np.where(rng.random(n) < flag_share, "Y", "")
    violence = np.where(rng.random(n) < flag_share / 2, "Y", "")
    priority = rng.choice(["1", "2", "3", "4"], n, p=[0.05, 0.2, 0.6, 0.15])

    wall = pl.Series("received_at", local_naive.astype("datetime64[us]"))
    local = wall.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    # a wall time in the spring-forward gap does not exist: move it on an hour, as clocks do
    shifted = (wall + dt.timedelta(hours=1)).dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    )
    received = local.fill_null(shifted).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    df = pl.DataFrame(
        {
            "id": [f"SYN-{i:07d}" for i in range(1, n + 1)],
            "received_at": received,
            "nature": pl.Series(nature.tolist(), dtype=pl.String),
            "priority": priority,
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "beat": pl.Series(beat.tolist(), dtype=pl.String),
            "narrative": pl.Series(narrative.tolist(), dtype=pl.String),
            "weapon": weapon,
            "violence": violence,
        }
    )
    return df


def _points_in(
    area: BaseGeometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    lon = np.empty(0)
    lat = np.empty(0)
    while len(lon) < n:
        k = int((n - len(lon)) * 1.6) + 16
        x = rng.uniform(minx, maxx, k)
        y = rng.uniform(miny, maxy, k)
        keep = shapely.contains_xy(area, x, y)
        lon = np.concatenate([lon, x[keep]])
        lat = np.concatenate([lat, y[keep]])
    return lon[:n], lat[:n]


def load_beat_layer(path, id_property: str = "CAD") -> BeatLayer:
    import json
    from pathlib import Path

    from shapely.geometry import shape

    from heart.domain.geo import normalise_beat

    data = json.loads(Path(path).read_text())
    ids, polys = [], []
    for f in data["features"]:
        ids.append(normalise_beat(f["properties"].get(id_property)))
        polys.append(shape(f["geometry"]))
    return BeatLayer(np.asarray(ids, dtype=object), np.asarray(polys, dtype=object))

"""Derive the simplified area outlines shipped with the built-in Durham programs.

The exact beat layer (City of Durham police beats, 2022) is public data that we do not
copy into the repository; this script turns it into small outlines (at most ~60
vertices each) that are good enough for maps and for placing calls that carry only
coordinates. Run it again when the beat layer changes:

    python tools/derive_outlines.py ../shared/data/durham/police_beats_2022.geojson
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "src" / "heart" / "programs" / "durham"
ATTRIBUTION = (
    "Simplified outline derived by the HEART project from the City of Durham police beat "
    "layer (2022, City of Durham GIS, public record). Not survey-accurate: use the exact "
    "beat layer (beat_layer / --beat-layer) where edges matter."
)
MAX_VERTICES = 60


def vertex_count(geom) -> int:
    return int(shapely.get_num_coordinates(geom))


def outline(geom, max_vertices: int = MAX_VERTICES):
    # Close small gaps between beats (~150 m) so slivers do not eat the vertex budget.
    closed = geom.buffer(0.0015, join_style="mitre").buffer(-0.0015, join_style="mitre")
    parts = list(getattr(closed, "geoms", [closed]))
    biggest = max(p.area for p in parts)
    parts = [p for p in parts if p.area >= biggest * 0.02]
    merged = shapely.MultiPolygon([shapely.Polygon(p.exterior) for p in parts])
    tolerance = 0.0002
    while True:
        simple = shapely.make_valid(merged.simplify(tolerance, preserve_topology=True))
        if vertex_count(simple) <= max_vertices:
            return simple, tolerance
        tolerance *= 1.25


def main(layer_path: str) -> None:
    layer = json.loads(Path(layer_path).read_text())
    programs = tomllib.loads((ROOT / "src/heart/programs/durham-heart-2022.toml").read_text())
    for key, area in programs["areas"].items():
        beats = set(area["beats"])
        geoms = [
            shape(f["geometry"]) for f in layer["features"] if str(f["properties"]["CAD"]) in beats
        ]
        exact = shapely.union_all(geoms)
        simple, tol = outline(exact)
        covered = simple.intersection(exact).area / exact.area
        target = ROOT / "src/heart/programs" / area["outline"]
        feature = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {
                        "area": key,
                        "beats": sorted(beats),
                        "attribution": ATTRIBUTION,
                        "vertices": vertex_count(simple),
                        "simplify_tolerance_deg": round(tol, 6),
                    },
                    "geometry": json.loads(json.dumps(mapping(simple))),
                }
            ],
        }
        # round to ~1 m: the outline is approximate anyway and diffs stay readable
        feature["features"][0]["geometry"] = json.loads(
            json.dumps(feature["features"][0]["geometry"]), parse_float=lambda x: round(float(x), 5)
        )
        target.write_text(json.dumps(feature, indent=1) + "\n")
        print(
            f"{key}: {len(geoms)} beat polygons -> {vertex_count(simple)} vertices, "
            f"covers {covered:.1%} of the exact area, {target.relative_to(ROOT)}"
        )


if __name__ == "__main__":
    main(
        sys.argv[1]
        if len(sys.argv) > 1
        else str(ROOT.parent / "shared/data/durham/police_beats_2022.geojson")
    )

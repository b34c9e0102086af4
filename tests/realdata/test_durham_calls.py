"""Every real Durham call of 2021 (HEART natures, 12 beats) through `heart triage`."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

from heart.cli import main

PILOT = set(["111", "112", "113", "122", "213", "214", "222", "223", "411", "511", "512", "513"])


def independent_routes(path) -> Counter:
    """Written without the engine: weekday 08:00-16:59 local in the 12 beats -> crt."""
    counts: Counter = Counter()
    with path.open() as fh:
        for row in csv.DictReader(fh):
            when = dt.datetime.strptime(
                f"{row['call_date']} {row['call_time']}", "%m/%d/%Y %I:%M:%S%p"
            )
            open_now = when.weekday() < 5 and 8 <= when.hour <= 16
            if open_now and row["beat"].strip() in PILOT:
                counts["crt"] += 1
            elif open_now:
                counts["ccd"] += 1
            else:
                counts["standard"] += 1
    return counts


def test_durham_2021_replayed_under_2022_rules(shared_dir, tmp_path):
    source = shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv"
    out = tmp_path / "decisions.csv"
    code = main(
        [
            "triage",
            str(source),
            "--program",
            "durham-heart-2022",
            "--mapping",
            "durham-dpd",
            "--rules-as-of",
            "2022-07-01",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3027
    assert [int(r["row"]) for r in rows] == list(range(1, 3028))
    assert (tmp_path / "decisions.rejects.csv").read_text().strip() == "row,reason"
    got = Counter(r["route"] for r in rows)
    expected = independent_routes(source)
    assert got == expected
    assert got["crt"] > 900  # sanity: about a third of these calls came in pilot hours


def test_durham_2021_under_its_own_dates_is_before_the_program(shared_dir, tmp_path):
    source = shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv"
    out = tmp_path / "d.csv"
    assert (
        main(
            [
                "triage",
                str(source),
                "--program",
                "durham-heart-2022",
                "--mapping",
                "durham-dpd",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert {r["reasons"] for r in rows} == {"program_not_operating;route_standard"}


def test_outline_agrees_with_beats_for_most_real_points(shared_dir, durham_2022):
    """The shipped ~60-vertex outline places most real call points in the right area."""
    import numpy as np

    source = shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv"
    with source.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["lon"] and r["lat"]]
    lon = np.array([float(r["lon"]) for r in rows])
    lat = np.array([float(r["lat"]) for r in rows])
    in_pilot = np.array([r["beat"] in PILOT for r in rows])
    outline = durham_2022.areas["pilot"].contains_points(lon, lat)
    assert (outline == in_pilot).mean() > 0.9


def test_exact_beat_layer_matches_the_cad_beat(shared_dir):
    """With the exact beat layer, point-only placement matches the CAD beat almost always."""
    import numpy as np

    from heart.domain.program_file import load_program

    program = load_program(
        "durham-heart-2022", beat_layer=shared_dir / "data/durham/police_beats_2022.geojson"
    )
    source = shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv"
    with source.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["lon"] and r["lat"]]
    lon = np.array([float(r["lon"]) for r in rows])
    lat = np.array([float(r["lat"]) for r in rows])
    in_pilot = np.array([r["beat"] in PILOT for r in rows])
    assert (program.areas["pilot"].contains_points(lon, lat) == in_pilot).mean() > 0.97


# ---------------------------------------------------------------- points that can say no
# Every real call above lies in the 12 pilot beats, so an area check that answered
# "inside" for every point would pass them all. These points come from the beat layer
# itself: inside every Durham beat (pilot or not), in the county outside the city (the
# sheriff's districts), and 40 m either side of the pilot's edge. Their expected routes
# are computed here with shapely over the raw polygons, not with the engine.

OPEN = "07/05/2022"  # a Tuesday in the first pilot week
EDGE_M = 40.0


def _layer(shared_dir):
    import json

    from shapely.geometry import shape

    data = json.loads((shared_dir / "data/durham/police_beats_2022.geojson").read_text())
    return [
        (f["properties"]["CAD"], f["properties"]["LAWDIST"], shape(f["geometry"]))
        for f in data["features"]
    ]


def _sample(shared_dir):
    """(lon, lat, kind) points and the pilot / city polygons they were drawn from:
    "interior" points spread evenly over the county (so each place counts by its area),
    and "edge-in" / "edge-out" points 40 m inside and outside the pilot's edge."""
    import json

    import numpy as np
    import shapely
    from shapely.geometry import shape

    layer = _layer(shared_dir)
    pilot = shapely.union_all([g for cad, _, g in layer if cad in PILOT])
    city = shapely.union_all([g for _, dist, g in layer if dist in ("D1", "D2", "D3", "D4", "D5")])
    county_doc = json.loads((shared_dir / "data/durham/durham_county.geojson").read_text())
    county = shapely.union_all(
        [shape(f["geometry"]) for f in county_doc.get("features", [county_doc])]
    )
    rng = np.random.default_rng(2021)
    minx, miny, maxx, maxy = county.bounds
    x, y = rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)
    keep = shapely.contains_xy(county, x, y)
    points = [(float(a), float(b), "interior") for a, b in zip(x[keep], y[keep], strict=True)]
    deg = EDGE_M / 111_000
    for ring, kind in ((pilot.buffer(-deg), "edge-in"), (pilot.buffer(deg), "edge-out")):
        boundary = ring.boundary
        for f in np.linspace(0, 1, 60, endpoint=False):
            points.append((*boundary.interpolate(f, normalized=True).coords[0], kind))
    return points, pilot, city


def _expected_routes(points, pilot, city) -> list[str]:
    import numpy as np
    import shapely

    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    shapely.prepare(pilot)
    shapely.prepare(city)
    in_pilot, in_city = shapely.contains_xy(pilot, lon, lat), shapely.contains_xy(city, lon, lat)
    return [
        "crt" if p else "ccd" if c else "standard" for p, c in zip(in_pilot, in_city, strict=True)
    ]


def _triage_points(tmp_path, points, *extra) -> list[str]:
    calls = tmp_path / "points.csv"
    with calls.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["call_date", "call_time", "priority", "nature", "beat", "lon", "lat"])
        for lon, lat, _ in points:
            w.writerow([OPEN, "10:00:00AM", "3", "CRISIS", "", f"{lon:.7f}", f"{lat:.7f}"])
    out = tmp_path / "points-decisions.csv"
    args = ["triage", str(calls), "--program", "durham-heart-2022", "--mapping", "durham-dpd"]
    assert main([*args, "--out", str(out), "--quiet", *extra]) == 0
    return [r["route"] for r in csv.DictReader(out.open())]


def test_beat_layer_points_get_their_independent_routes(shared_dir, tmp_path):
    """With the exact beat layer every point, edges included, gets the route shapely
    gives it: the team inside the pilot, the phone clinician elsewhere in the city,
    police outside it. All three occur, so an always-inside area check fails."""
    points, pilot, city = _sample(shared_dir)
    expected = _expected_routes(points, pilot, city)
    assert Counter(expected)["crt"] > 40 and Counter(expected)["ccd"] > 60
    assert Counter(expected)["standard"] > 60
    layer = shared_dir / "data/durham/police_beats_2022.geojson"
    got = _triage_points(tmp_path, points, "--beat-layer", str(layer))
    wrong = [(p, e, g) for p, e, g in zip(points, expected, got, strict=True) if e != g]
    assert not wrong, wrong[:5]


def test_simplified_outlines_place_points_away_from_edges(shared_dir, tmp_path):
    """The shipped outlines (no beat layer) agree with the raw polygons for nearly every
    place in the county more than 150 m from an area's edge, inside the pilot and out."""
    import shapely

    points, pilot, city = _sample(shared_dir)
    got = _triage_points(tmp_path, points)
    edges = shapely.union_all([pilot.boundary, city.boundary])
    shapely.prepare(edges)
    near = shapely.dwithin(edges, shapely.points([(p[0], p[1]) for p in points]), 150 / 111_000)
    expected = _expected_routes(points, pilot, city)
    checked = [
        (e, route)
        for (_, _, kind), e, route, n in zip(points, expected, got, near, strict=True)
        if kind == "interior" and not n
    ]
    by_route = Counter(e for e, _ in checked)
    assert min(by_route.values()) > 30 and len(by_route) == 3, by_route
    for route in ("crt", "ccd", "standard"):
        right = [g == e for e, g in checked if e == route]
        assert sum(right) / len(right) > 0.9, (route, sum(right), len(right))

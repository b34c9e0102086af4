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

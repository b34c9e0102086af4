"""Planning: import, eligibility, area proposal and the `heart plan` CLI on hand-made data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from shapely.geometry import box

from heart.batch.io import InputError
from heart.cli import main
from heart.domain.mapping import MappingError, load_mapping
from heart.planning import area
from heart.planning.eligibility import analyse
from heart.planning.store import CallTypeTable, Timeline, import_calls, load_store

MAPPING = """
[mapping]
name = "city-x"
[columns]
id = "id"
datetime = "when"
call_type = "type"
lon = "x"
lat = "y"
[time]
format = "%Y-%m-%d %H:%M"
timezone = "America/New_York"
"""
TIMELINE = """
[timeline]
dispatched = "sent"
arrived = "there"
cleared = "left"
"""
# Tue 2024-07-02 10:00 (in 2023 hours) and 22:00 (outside), Saturday 12:00 (inside, daily)
CSV = """id,when,type,x,y,sent,there,left
1,2024-07-02 10:00,MH CRISIS,-78.9,35.99,2024-07-02 10:05,2024-07-02 10:15,2024-07-02 10:45
2,2024-07-02 22:00,MH CRISIS,-78.9,35.99,2024-07-02 22:01,2024-07-02 21:00,2024-07-02 23:00
3,2024-07-06 12:00,LOITERING,-78.9,35.99,,,
4,2024-07-06 12:00,ROBBERY,-78.9,35.99,,,
5,2024-07-06 12:00,BANK ALARM,-78.9,35.99,,,
6,not a time,MH CRISIS,-78.9,35.99,,,
7,2024-07-06 12:00,,-78.9,35.99,,,
"""
TYPES = """call_type,nature
MH Crisis,CRISIS
Loitering,TRESPASS OR UNWANTED
Robbery,ROBBERY
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "mapping": tmp_path / "city-x.toml",
        "timeline": tmp_path / "timeline.toml",
        "calls": tmp_path / "calls.csv",
        "types": tmp_path / "types.csv",
    }
    paths["mapping"].write_text(MAPPING)
    paths["timeline"].write_text(TIMELINE)
    paths["calls"].write_text(CSV)
    paths["types"].write_text(TYPES)
    return paths


def do_import(files, out: Path, **kw):
    return import_calls(
        input_path=kw.pop("calls", files["calls"]),
        mapping=load_mapping(kw.pop("mapping", files["mapping"])),
        out_dir=out,
        call_types=kw.pop("call_types", CallTypeTable.load(files["types"])),
        timeline=kw.pop("timeline", Timeline.load(files["timeline"])),
        **{"allow_rejects": True, **kw},
    )


def test_import_counts_and_reports_every_bad_row(files, tmp_path):
    s = do_import(files, tmp_path / "store")
    # an unmapped type and a missing type are kept (nature_unknown); a bad time is rejected
    assert (s.rows_read, s.kept, s.rejected) == (7, 6, 1)
    rejects = pl.read_csv(tmp_path / "store" / "rejects.csv")
    by_row = dict(rejects.iter_rows())
    assert list(by_row) == [6]
    assert by_row[6].startswith("time: not a time is not a valid time")
    assert s.unmapped_call_types == {"BANK ALARM": 1}
    assert s.call_type_status == {"mapped": 4, "not_in_table": 1, "missing": 1}
    assert s.reject_reasons == {"time": 1}
    # row 2 arrives before it was dispatched: kept, but its interval is unusable
    assert s.interval_problems["dispatch_to_arrival"] == 1
    calls = load_store(tmp_path / "store")
    assert calls["nature"].to_list() == [
        "CRISIS",
        "CRISIS",
        "TRESPASS OR UNWANTED",
        "ROBBERY",
        "(UNMAPPED) BANK ALARM",
        "(NO CALL TYPE)",
    ]
    assert calls["call_type"].to_list()[:4] == ["MH CRISIS", "MH CRISIS", "LOITERING", "ROBBERY"]
    assert calls["on_scene_minutes"].to_list()[:4] == [30.0, 120.0, None, None]
    assert calls["dispatch_to_arrival_minutes"].to_list()[:2] == [10.0, None]
    summary = json.loads((tmp_path / "store" / "import.json").read_text())
    assert summary["kept"] == 6 and summary["timezone"] == "America/New_York"


def test_import_reads_parquet_the_same_way(files, tmp_path):
    parquet = tmp_path / "calls.parquet"
    pl.read_csv(files["calls"], infer_schema=False).write_parquet(parquet)
    s = do_import(files, tmp_path / "store", calls=parquet)
    assert (s.kept, s.rejected) == (6, 1)


def test_unmapped_columns_are_named_and_nothing_is_written(files, tmp_path):
    files["calls"].write_text("id,when,kind\n1,2024-07-02 10:00,X\n")
    with pytest.raises(InputError, match=r"type.*the file has"):
        do_import(files, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_empty_file_is_a_clear_error(files, tmp_path):
    files["calls"].write_text("")
    with pytest.raises(InputError, match="empty"):
        do_import(files, tmp_path / "store")


def test_header_only_file_imports_nothing(files, tmp_path):
    files["calls"].write_text(CSV.splitlines()[0] + "\n")
    s = do_import(files, tmp_path / "store")
    assert (s.rows_read, s.kept, s.rejected) == (0, 0, 0)


def test_call_type_table_conflicts_and_missing_columns(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("call_type,nature\nA,CRISIS\na,WELFARE CHECK\n")
    with pytest.raises(MappingError, match="line 3: call type 'A' maps to 'WELFARE CHECK'"):
        CallTypeTable.load(bad)
    bad.write_text("from,to\nA,B\n")
    with pytest.raises(MappingError, match="no column 'call_type'"):
        CallTypeTable.load(bad)


def test_builtin_lane_call_types_cover_every_lane_reason():
    table = CallTypeTable.load(Path("lane-county-mcs"))
    assert table.to_nature["SUICIDALITY OR SUICIDE ATTEMPT"] == "SUICIDE THREAT"
    assert len(table.to_nature) == 13


def test_eligibility_known_answer(files, tmp_path, durham_2023):
    do_import(files, tmp_path / "store")
    calls = load_store(tmp_path / "store")
    r = analyse(durham_2023, calls, rows_read=7)
    # CRISIS x2 and TRESPASS eligible; ROBBERY (not in the program), the unmapped and the
    # missing type are nature_unknown. Citywide daily 08:00-20:00 (2024 calls, own dates): the
    # 10:00 and Saturday 12:00 calls get a team, the 22:00 one does not.
    assert r.totals == {
        "rows_read": 7,
        "calls": 6,
        "eligible": 3,
        "eligible_share_of_all_calls": 3 / 7,
        "nature_unknown": 3,
        "team": 2,
        "team_share_of_all_calls": 2 / 7,
        "team_share_of_eligible": 2 / 3,
        "program_not_operating": 0,
    }
    by_type = {row["call_type"]: row for row in r.by_call_type.to_dicts()}
    assert by_type["CRISIS"]["eligible"] == 2 and by_type["CRISIS"]["team"] == 1
    assert r.by_hour_of_week["eligible"].sum() == 3
    assert r.by_area["area"].to_list()[0].startswith("88")  # an H3 cell: the calls have no beat


def _grid(n: int) -> dict[str, area.Zone]:
    # n x 1 strip of unit squares: z0 | z1 | ... (each touches its neighbours)
    return {f"z{i}": area.Zone(f"z{i}", box(i, 0, i + 1, 1), 1.0) for i in range(n)}


def test_area_proposal_is_contiguous_and_best_for_the_limit():
    zones = _grid(5)
    adjacency = area.beat_adjacency(zones)
    assert adjacency["z2"] == {"z1", "z3"}
    counts = {"z0": 50, "z1": 0, "z2": 10, "z3": 30, "z4": 5}
    # pairs: z0+z1 50, z2+z3 40, z3+z4 35; triples: z0+z1+z2 60 (an empty beat bridges)
    best = area.propose(counts, zones, adjacency, max_zones=2)
    assert (best.zones, best.covered) == (("z0", "z1"), 50)
    best3 = area.propose(counts, zones, adjacency, max_zones=3)
    assert (best3.zones, best3.covered) == (("z0", "z1", "z2"), 60)
    assert area.is_contiguous(set(best3.zones), adjacency)
    by_area = area.propose(counts, zones, adjacency, max_km2=1.0)
    assert by_area.zones == ("z0",)
    with pytest.raises(area.AreaInputError):
        area.propose(counts, zones, adjacency)


def test_cli_plan_end_to_end_and_bad_input(files, tmp_path, capsys):
    store = tmp_path / "store"
    args = ["plan", "import", str(files["calls"]), "--mapping", str(files["mapping"])]
    args += ["--call-types", str(files["types"]), "--timeline", str(files["timeline"])]
    assert main([*args, "--out", str(store), "--quiet"]) == 2  # 1 of 7 rejected: over 1%
    assert not store.exists()
    assert "above the 1% limit" in capsys.readouterr().err
    assert main([*args, "--out", str(store), "--quiet", "--allow-rejects"]) == 0
    out = tmp_path / "out"
    assert main(["plan", "eligibility", str(store), "--program", "durham-heart-2023",
                 "--program", "durham-heart-2022", "--out", str(out)]) == 0  # fmt: skip
    assert (out / "eligibility_call_types.png").exists()
    assert main(["plan", "area", str(store), "--program", "durham-heart-2023",
                 "--max-zones", "2", "--out", str(out)]) == 0  # fmt: skip
    area_doc = json.loads((out / "area.json").read_text())
    assert area_doc["proposal"]["covered_calls"] == 3
    assert area_doc["counts"]["rows_read"] == 7
    # every call sits in one spot inside the current area: a proposal can only find it
    assert "the data cover only that area" in area_doc["warnings"][0]
    assert area_doc["objective"]["name"] == "volume"
    summary = out / "simulate.json"
    assert main(["plan", "simulate", str(store), "--program", "durham-heart-2023",
                 "--on-scene-from", str(store), "--replications", "3",
                 "--out", str(summary)]) == 0  # fmt: skip
    doc = json.loads(summary.read_text())
    for key in ("share_reached", "utilisation", "missed_busy"):
        assert set(doc[key]) == {"mean", "low", "high", "n"}
    assert set(doc["response_minutes"]) == {"mean", "p50", "p90"}
    assert doc["no_team_free"]["action"] == "fall_back"
    assert doc["counts"]["rows_read"] == 7 and doc["counts"]["eligible"] == 3
    capsys.readouterr()
    # bad input: one clear line, exit 2, no traceback
    assert main(["plan", "eligibility", str(tmp_path / "nowhere"), "--program",
                 "durham-heart-2023", "--out", str(out)]) == 2  # fmt: skip
    assert main(["plan", "simulate", str(store), "--program", "durham-heart-2023",
                 "--hours", "weekdays 9-5", "--out", str(summary)]) == 2  # fmt: skip
    assert main([*args[:2], str(tmp_path / "missing.csv"), *args[3:], "--out", str(store)]) == 2
    assert main(["plan", "eligibility", str(store), "--program", "durham-heart-2023",
                 "--program-timezone", "Mars/Olympus", "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "not a planning store" in err
    assert "hours: 'weekdays 9-5'" in err
    assert "no such file" in err
    assert "unknown time zone 'Mars/Olympus'" in err
    assert "Traceback" not in err


def test_pre_dispatch_is_fitted_from_calls_that_found_a_team_free():
    import datetime as dt

    import numpy as np
    import polars as pl

    from heart.planning.simulate import fit_pre_dispatch

    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = []
    # 30 calls far apart (team free): 4 min each; then 30 calls each arriving while the
    # previous one is still on scene (team busy): 60 min each, which must be left out
    for i in range(30):
        start = t0 + dt.timedelta(hours=3 * i)
        rows.append((start, 4.0, start + dt.timedelta(minutes=4), start + dt.timedelta(minutes=30)))
    base = t0 + dt.timedelta(days=10)
    for i in range(30):
        start = base + dt.timedelta(minutes=20 * i)
        rows.append(
            (start, 60.0, start + dt.timedelta(minutes=1), start + dt.timedelta(minutes=45))
        )
    frame = pl.DataFrame(
        {
            "received_utc": [r[0] for r in rows],
            "request_to_dispatch_minutes": [r[1] for r in rows],
            "dispatched_utc": [r[2] for r in rows],
            "cleared_utc": [r[3] for r in rows],
            "nature": ["CRISIS"] * len(rows),
        }
    )
    model, idle = fit_pre_dispatch(frame)
    assert idle == 31  # the 30 spread-out calls and the first of the busy run
    drawn = model.sample(np.random.default_rng(1), np.array(["CRISIS"] * 200))
    assert set(drawn.tolist()) <= {4.0, 60.0} and (drawn == 4.0).mean() > 0.9
    too_few, n = fit_pre_dispatch(frame.head(10))
    assert too_few is None and n == 10


def test_area_objectives_drive_time_and_equity():
    zones = _grid(6)
    adjacency = area.beat_adjacency(zones)
    counts = {"z0": 50, "z1": 40, "z2": 5, "z3": 5, "z4": 6, "z5": 7}
    # drive time: z0 and z1 are more than 10 minutes from the post
    drive = {"z0": 30.0, "z1": 25.0, "z2": 8.0, "z3": 5.0, "z4": 4.0, "z5": 9.0}
    near = area.Objective("drive_time", drive_minutes=drive, max_drive_minutes=10)
    best = area.propose(counts, zones, adjacency, max_zones=2, objective=near)
    assert best.zones == ("z4", "z5") and best.covered == 13
    ev = area.evidence(best, counts, near)
    assert ev["max_drive_minutes"] == 9.0 and 4.0 < ev["mean_drive_minutes"] < 9.0
    # equity: wards A (z0-z2) and B (z3-z5); by volume all three zones come from A; by
    # equity no ward is left behind, so the proposal reaches into B
    groups = {"z0": "A", "z1": "A", "z2": "A", "z3": "B", "z4": "B", "z5": "B"}
    by_volume = area.propose(counts, zones, adjacency, max_zones=3)
    assert by_volume.zones == ("z0", "z1", "z2")
    fair = area.Objective("equity", groups=groups)
    best = area.propose(counts, zones, adjacency, max_zones=3, objective=fair)
    ev = area.evidence(best, counts, fair)
    assert ev["groups_reached"] == 2
    assert best.zones == ("z1", "z2", "z3")
    assert ev["min_group_share"] == pytest.approx(5 / 18)
    with pytest.raises(area.AreaInputError, match="equity-layer"):
        area.Objective("equity")
    with pytest.raises(area.AreaInputError, match="max-drive-minutes"):
        area.Objective("drive_time", drive_minutes=drive)

"""Planning over the real files in ../shared: Durham DPD calls and Lane County MCS records."""

from __future__ import annotations

import pytest

from heart.domain.mapping import load_mapping
from heart.planning.eligibility import analyse
from heart.planning.store import CallTypeTable, Timeline, import_calls, load_store
from heart.planning.validation import validate


@pytest.fixture(scope="module")
def lane_store(shared_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lane")
    mapping = load_mapping("lane-county-mcs")
    summary = import_calls(
        input_path=shared_dir / "data/lane_county/mcslc_dispatches_2024-08_to_2025-06.csv",
        mapping=mapping,
        out_dir=out,
        call_types=CallTypeTable.load("lane-county-mcs"),
        timeline=Timeline.builtin_for(mapping),
    )
    return summary, load_store(out)


def test_lane_import_counts(lane_store):
    summary, calls = lane_store
    assert summary.rows_read == 2191
    # 77 rows without a request time, 95 without a reason (some both): 153 rejected
    assert (summary.accepted, summary.rejected) == (2038, 153)
    assert summary.reject_reasons == {"call_type": 95, "time": 77}
    assert summary.unmapped_call_types == {}
    # departures more than 180 min after arrival are slips (the county's columns drop them too)
    assert summary.interval_problems["on_scene"] == 28 + 59
    assert calls["on_scene_minutes"].drop_nulls().len() == 1936
    assert calls["on_scene_minutes"].median() == 22.0
    assert calls["city"].value_counts().height >= 4


def test_durham_eligibility_2022_vs_2023(shared_dir, tmp_path, durham_2022, durham_2023):
    summary = import_calls(
        input_path=shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv",
        mapping=load_mapping("durham-dpd"),
        out_dir=tmp_path,
    )
    assert (summary.accepted, summary.rejected) == (3027, 0)
    calls = load_store(tmp_path)
    old, new = analyse(durham_2022, calls), analyse(durham_2023, calls)
    # every call is of an eligible type in a pilot beat: only the hours differ
    assert old.totals["eligible"] == new.totals["eligible"] == 3027
    assert old.totals["team"] == 1017  # weekdays 08:00-17:00
    assert new.totals["team"] == 1820  # daily 08:00-20:00
    assert set(old.by_area["area"].to_list()) == set(durham_2022.areas["pilot"].beats)


def test_lane_validation_runs_and_on_scene_fits(lane_store):
    _, calls = lane_store
    v = validate(calls, team_counts=(1, 2), replications=2)
    for row in v["by_teams"]:
        # on-scene minutes are resampled from the same records: near-identical
        assert row["intervals"]["on_scene"]["ks"] < 0.05
        assert 0 <= row["intervals"]["dispatch_to_arrival"]["ks"] <= 1
    assert v["best_teams_by_request_to_dispatch"] in (1, 2)


def test_pre_dispatch_delay_brings_request_to_dispatch_close(lane_store):
    """Queueing alone cannot give Lane's request -> dispatch times; a delay resampled from
    calls that found a team free does (in sample: the delay comes from the same records)."""
    _, calls = lane_store
    v = validate(calls, team_counts=(2,), replications=2)
    ks = {row["model"]: row["intervals"]["request_to_dispatch"]["ks"] for row in v["by_teams"]}
    assert ks["queueing only"] > 0.5
    assert ks["with pre-dispatch delay"] < 0.1
    assert v["pre_dispatch"]["fitted_from_idle_calls"] > 1000

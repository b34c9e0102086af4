"""Planning over the real files in ../shared: Durham DPD calls, Lane County MCS records,
the Vera Institute call-type taxonomy."""

from __future__ import annotations

import csv
import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from heart.cli import main
from heart.domain.mapping import load_mapping
from heart.planning.eligibility import analyse
from heart.planning.store import (
    CallTypeTable,
    Timeline,
    TooManyRejects,
    import_calls,
    load_store,
)
from heart.planning.validation import validate

LANE_CSV = "data/lane_county/mcslc_dispatches_2024-08_to_2025-06.csv"
VERA_CSV = "data/call_type_mappings/vera_call_types_5_cities.csv"


@pytest.fixture(scope="module")
def lane_store(shared_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lane")
    mapping = load_mapping("lane-county-mcs")
    summary = import_calls(
        input_path=shared_dir / LANE_CSV,
        mapping=mapping,
        out_dir=out,
        call_types=CallTypeTable.load("lane-county-mcs"),
        timeline=Timeline.builtin_for(mapping),
        allow_rejects=True,
    )
    return summary, load_store(out), out


def test_lane_import_counts(lane_store, shared_dir, tmp_path):
    summary, calls, _ = lane_store
    assert summary.rows_read == 2191
    # 77 rows without a request time are rejected (3.5%: more than the 1% limit, hence
    # --allow-rejects); 76 readable rows without a reason are kept as nature_unknown
    assert (summary.kept, summary.rejected) == (2114, 77)
    assert summary.reject_reasons == {"time": 77}
    assert summary.call_type_status == {"mapped": 2038, "missing": 76}
    assert summary.unmapped_call_types == {}
    assert summary.timezone == "America/Los_Angeles"
    # departures more than 180 min after arrival are slips (the county's columns drop them too)
    assert summary.interval_problems["on_scene"] == 92
    assert calls["on_scene_minutes"].drop_nulls().len() == 2007
    assert calls["on_scene_minutes"].median() == 22.0
    assert calls["city"].value_counts().height >= 4
    with pytest.raises(TooManyRejects, match="77 of 2,191 rows"):
        import_calls(
            input_path=shared_dir / LANE_CSV,
            mapping=load_mapping("lane-county-mcs"),
            out_dir=tmp_path / "refused",
            call_types=CallTypeTable.load("lane-county-mcs"),
        )
    assert not (tmp_path / "refused").exists()


def test_durham_eligibility_2022_vs_2023(shared_dir, tmp_path, durham_2022, durham_2023):
    summary = import_calls(
        input_path=shared_dir / "data/durham/dpd_calls_2021-01_to_09_heart_natures.csv",
        mapping=load_mapping("durham-dpd"),
        out_dir=tmp_path,
    )
    assert (summary.kept, summary.rejected) == (3027, 0)
    calls = load_store(tmp_path)
    # by each call's own date (2021) the program had not started: as heart triage says,
    # program_not_operating for every call, and the totals say why
    own = analyse(durham_2022, calls)
    assert own.totals["eligible"] == 0 and own.totals["team"] == 0
    assert own.totals["program_not_operating"] == 3027
    # replayed under each program's rules of its launch
    old = analyse(durham_2022, calls, rules_as_of=dt.date(2022, 6, 27))
    new = analyse(durham_2023, calls, rules_as_of=dt.date(2023, 10, 23))
    # every call is of an eligible type in a pilot beat: only the hours differ
    assert old.totals["eligible"] == new.totals["eligible"] == 3027
    assert old.totals["team"] == 1017  # weekdays 08:00-17:00
    assert new.totals["team"] == 1820  # daily 08:00-20:00
    assert set(old.by_area["area"].to_list()) == set(durham_2022.areas["pilot"].beats)


def test_lane_in_sample_comparison_runs_and_on_scene_fits(lane_store):
    _, calls, _ = lane_store
    v = validate(calls, team_counts=(1, 2), replications=2)
    assert v["in_sample"] is True
    for row in v["by_teams"]:
        # on-scene minutes are resampled from the same records: near-identical; travel is
        # known to be off (Lane's records have no addresses): a clearly worse fit
        assert row["intervals"]["on_scene"]["ks"] < 0.05
        assert (
            row["intervals"]["dispatch_to_arrival"]["ks"] > 2 * row["intervals"]["on_scene"]["ks"]
        )
    # the best team count is the queueing-only row that fits request -> dispatch best
    queueing = [r for r in v["by_teams"] if r["model"] == "queueing only"]
    assert {r["teams"] for r in queueing} == {1, 2}
    best = min(queueing, key=lambda r: r["intervals"]["request_to_dispatch"]["ks"])
    assert v["best_teams_by_request_to_dispatch"] == best["teams"]


def _independent_test_period(path, fit_until: dt.date) -> tuple[int, int, dict]:
    """From the CSV itself, with the csv module: the calls on each side of the split and
    the test period's intervals (every one >= 0, no cap)."""
    zone = ZoneInfo("America/Los_Angeles")
    steps = {
        "request_to_dispatch": ("Dispatch Request Date & Time", "Dispatch Date & Time"),
        "dispatch_to_arrival": ("Dispatch Date & Time", "Arrival on Scene Date & Time"),
        "arrival_to_departure": ("Arrival on Scene Date & Time", "MCIT Departure Date & Time"),
    }

    def when(text: str) -> dt.datetime | None:
        text = (text or "").strip()
        if not text:
            return None
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)

    fit = test = 0
    intervals: dict[str, list[float]] = {k: [] for k in steps}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            requested = when(row["Dispatch Request Date & Time"])
            if requested is None:
                continue  # rejected at import: no request time
            if requested.date() < fit_until:
                fit += 1
                continue
            test += 1
            for name, (a, b) in steps.items():
                start, end = when(row[a]), when(row[b])
                if start and end and end >= start:
                    intervals[name].append((end - start).total_seconds() / 60)
    return fit, test, intervals


def test_plan_validate_held_out_against_an_independent_computation(
    lane_store, shared_dir, tmp_path, capsys
):
    """Fit before 2025-04-01, test on April-June 2025: the report's real figures equal a
    computation straight from the CSV, and its simulated figures are those of the chosen
    team count in the full report."""
    _, _, store = lane_store
    out = tmp_path / "validation"
    fit_until = dt.date(2025, 4, 1)
    code = main(["plan", "validate", "--store", str(store), "--fit-until", "2025-04-01",
                 "--teams", "2,3", "--replications", "2", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "validation.json").read_text())
    assert set(summary) == {"fit", "test", "teams", "intervals"}
    assert set(summary["intervals"]) == {
        "request_to_dispatch",
        "dispatch_to_arrival",
        "arrival_to_departure",
    }
    fit_n, test_n, real = _independent_test_period(shared_dir / LANE_CSV, fit_until)
    assert summary["fit"] == {"from": "2024-08-18", "until": "2025-04-01", "calls": fit_n}
    assert summary["test"] == {"from": "2025-04-01", "until": "2025-07-01", "calls": test_n}
    report = json.loads((out / "validation_report.json").read_text())
    chosen = next(r for r in report["by_teams"] if r["teams"] == summary["teams"])
    for name, values in real.items():
        got = summary["intervals"][name]
        assert got["real"]["n"] == len(values)
        assert got["real"]["p50"] == pytest.approx(np.percentile(values, 50))
        assert got["real"]["p90"] == pytest.approx(np.percentile(values, 90))
        assert set(got["simulated"]) == {"p50", "p90"} and set(got) == {"real", "simulated", "ks"}
        assert got["simulated"]["p50"] == chosen["intervals"][name]["simulated"]["p50"]
        # the KS is at least the gap between the real distribution (from the CSV) and
        # the simulated one at the simulated median and 90th percentile
        values_sorted = np.sort(values)
        for prob, key in ((0.5, "p50"), (0.9, "p90")):
            real_cdf = np.searchsorted(values_sorted, got["simulated"][key], side="right") / len(
                values
            )
            assert got["ks"] >= abs(real_cdf - prob) - 0.03, (name, key, real_cdf, got["ks"])
    # the report states every cap and drop, and the files of the chosen team count exist
    assert any("no cap" in d for d in report["caps_and_drops"])
    assert (out / f"qq_request_to_dispatch_{summary['teams']}teams.png").exists()
    # plan report uses it and says which figures are in sample
    assert main(["plan", "report", "--validation", str(out), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Held-out validation" in md and "nothing below has been" not in md


def test_vera_recipe_works_on_its_own_file(shared_dir, tmp_path, capsys):
    """The recipe of docs/planning.md: a city's own export through the Vera taxonomy (one
    city's rows), then Vera categories to program natures; blank categories are reported
    as blank, unknown types kept as nature_unknown."""
    calls = tmp_path / "seattle.csv"
    types = [
        "PERSON IN BEHAVIORAL/EMOTIONAL CRISIS",
        "--DISTURBANCE - OTHER",
        "SUSPICIOUS PERSON, VEHICLE OR INCIDENT",
        "A TYPE VERA DOES NOT LIST",
    ]
    with calls.open("w") as fh:
        fh.write("Event Number,Original Time Queued,Initial Call Type,Beat\n")
        for i in range(40):
            when = f"2024-05-{1 + i % 28:02d} {8 + i % 10:02d}:15:00"
            fh.write(f'E{i},{when},"{types[i % 4]}",K1\n')
    mapping = tmp_path / "seattle.toml"
    mapping.write_text(
        '[mapping]\nname = "seattle"\n[columns]\nid = "Event Number"\n'
        'datetime = "Original Time Queued"\ncall_type = "Initial Call Type"\nbeat = "Beat"\n'
        '[time]\nformat = "%Y-%m-%d %H:%M:%S"\ntimezone = "America/Los_Angeles"\n'
    )
    store = tmp_path / "store"
    code = main(["plan", "import", str(calls), "--mapping", str(mapping),
                 "--call-types", str(shared_dir / VERA_CSV),
                 "--call-type-column", "Field 1", "--nature-column", "Category",
                 "--call-type-filter", "City=Seattle", "--then-call-types", "vera-categories",
                 "--out", str(store)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    s = json.loads((store / "import.json").read_text())
    assert (s["rows_read"], s["rejected"], s["kept"]) == (40, 0, 40)
    assert s["call_type_status"] == {"mapped": 30, "not_in_table": 10}
    natures = set(load_store(store)["nature"].to_list())
    assert {"CRISIS", "DISTURBANCE", "SUSPICIOUS PERSON"} <= natures
    out = tmp_path / "out"
    assert main(["plan", "eligibility", str(store), "--program", "durham-heart-2023",
                 "--program-timezone", "America/Los_Angeles", "--out", str(out)]) == 0  # fmt: skip
    totals = json.loads((out / "eligibility.json").read_text())["programs"][0]["totals"]
    assert totals["eligible"] == 20 and totals["nature_unknown"] == 10
    assert totals["eligible_share_of_all_calls"] == 0.5

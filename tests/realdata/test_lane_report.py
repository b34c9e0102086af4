"""Lane County's mobile crisis dispatches, imported through `heart plan import`, give
monthly response and on-scene times equal to a computation made here straight from the
raw CSV with the standard library (none of the program's code).

The rules being checked (docs/metrics.md): a call belongs to the local month of its
request time (America/Los_Angeles); response = arrival - request, on scene = departure -
arrival, in elapsed minutes; an interval below 0 or above the export's limit (180
minutes, the county's own cut-off: lane-county-mcs timeline) is a slip and left out;
p50 is the median and p90 the 90th percentile by linear interpolation (Excel's
PERCENTILE.INC). Rows the importer rejects (no request time, no reason for dispatch)
are left out here too.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

LA = ZoneInfo("America/Los_Angeles")
LIMIT = 180.0
FORMAT = "%Y-%m-%d %H:%M:%S"


def _when(text: str) -> dt.datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        naive = dt.datetime.strptime(text, FORMAT)
    except ValueError:
        return None
    # fold=0: the first of a repeated autumn hour, as the importer reads it
    return naive.replace(tzinfo=LA)


def _minutes(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    m = (b.astimezone(dt.UTC) - a.astimezone(dt.UTC)).total_seconds() / 60
    return m if 0 <= m <= LIMIT else None


def _stats(values: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(values), 2),
        "p50": round(statistics.median(values), 2),
        "p90": round(statistics.quantiles(values, n=10, method="inclusive")[8], 2),
        "n": len(values),
    }


def independent(csv_path: Path, month: str) -> tuple[dict, dict, int]:
    response, on_scene, calls = [], [], 0
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            requested = _when(row["Dispatch Request Date & Time"])
            # a reason not in the call-type table is kept (as an unknown call type, by
            # `plan import`): every dispatch with a request time counts
            if requested is None:
                continue
            if requested.strftime("%Y-%m") != month:
                continue
            calls += 1
            arrived = _when(row["Arrival on Scene Date & Time"])
            departed = _when(row["MCIT Departure Date & Time"])
            if (m := _minutes(requested, arrived)) is not None:
                response.append(m)
            if (m := _minutes(arrived, departed)) is not None:
                on_scene.append(m)
    return _stats(response), _stats(on_scene), calls


@pytest.fixture(scope="module")
def lane_store(shared_dir, tmp_path_factory):
    from heart.cli import main

    store = tmp_path_factory.mktemp("lane") / "store"
    raw = shared_dir / "data" / "lane_county" / "mcslc_dispatches_2024-08_to_2025-06.csv"
    argv = [
        "plan",
        "import",
        str(raw),
        "--mapping",
        "lane-county-mcs",
        "--call-types",
        "lane-county-mcs",
        "--allow-rejects",  # 77 of Lane's 2,191 rows carry no request time (3.5%)
    ]
    assert main([*argv, "--out", str(store), "--quiet"]) == 0
    return raw, store


# the export has no November or December 2024; March 2025 holds the spring DST change
@pytest.mark.parametrize("month", ["2024-09", "2025-03"])
def test_response_and_on_scene_minutes_equal_an_independent_computation(
    lane_store, tmp_path, month
):
    from heart.cli import main

    raw, store = lane_store
    out = tmp_path / month
    assert (
        main(
            [
                "report",
                "--month",
                month,
                "--store",
                str(store),
                "--out",
                str(out),
                "--no-pdf",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    response, on_scene, calls = independent(raw, month)
    assert summary["calls_total"] == calls
    assert summary["response_minutes"] == response
    assert summary["on_scene_minutes"] == on_scene
    assert summary["period"]["timezone"] == "America/Los_Angeles"
    assert summary["basis"] == "responses"

"""A sweep gives the same numbers for the same seed in this process, on local processes
and on a Dask cluster: every replication is seeded by (seed, replication) wherever it runs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from heart.domain.geo import TravelModel
from heart.domain.program import NoTeamFreePolicy
from heart.domain.sim import EmpiricalService, ShiftPlan, SimInputError, TimeOfWeekArrivals
from heart.planning.simulate import PlanInputs, sweep

START = dt.datetime(2024, 3, 4, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(scope="module")
def inputs() -> PlanInputs:
    rng = np.random.default_rng(3)
    types = np.array(["CRISIS", "WELFARE CHECK", "TRESPASS OR UNWANTED"], object)
    arrivals = TimeOfWeekArrivals(
        np.full(168, 0.8),
        rng.uniform(-78.95, -78.85, 300),
        rng.uniform(35.95, 36.05, 300),
        types[rng.integers(0, 3, 300)],
    )
    service = EmpiricalService.fit(list(types) * 25, rng.uniform(10, 80, 75))
    return PlanInputs(
        program="test",
        rules_version="test",
        rules_as_of=None,
        start=START,
        days=21,
        service=service,
        posts=((-78.9, 36.0), (-78.92, 35.98)),
        travel=TravelModel(),
        policy=NoTeamFreePolicy(action="hold", hold_minutes=15),
        route="crt",
        unit_kind="crt",
        arrivals=arrivals,
    )


PLANS = [ShiftPlan.parse("daily 08:00-20:00"), ShiftPlan.parse("24/7")]


def test_local_processes_give_the_in_process_numbers(inputs):
    args = {"team_counts": [1, 2], "hour_plans": PLANS, "replications": 3, "seed": 11}
    one = sweep(inputs, workers=1, **args)
    two = sweep(inputs, workers=2, **args)
    assert one == two
    assert [(r["teams"], r["hours"]) for r in one] == [
        (1, "daily 08:00-20:00"),
        (2, "daily 08:00-20:00"),
        (1, "24/7"),
        (2, "24/7"),
    ]
    assert one[0]["share_reached"]["n"] == 3
    with pytest.raises(SimInputError, match="engine"):
        sweep(inputs, engine="spark", **args)


def test_dask_gives_the_local_numbers(inputs):
    """About 5 s (a LocalCluster of two processes starts); skipped without the extra."""
    pytest.importorskip("dask.distributed", reason="pip install -e '.[distributed]'")
    args = {"team_counts": [1, 2], "hour_plans": PLANS, "replications": 3, "seed": 11}
    local = sweep(inputs, workers=1, **args)
    assert sweep(inputs, workers=2, engine="dask", **args) == local

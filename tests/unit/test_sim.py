"""The staffing simulator on hand-made histories whose answers are known exactly."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from heart.domain.geo import TravelModel
from heart.domain.sim import (
    MISSED_BUSY,
    MISSED_OFF_SHIFT,
    REACHED,
    EmpiricalService,
    FixedService,
    Scenario,
    ShiftPlan,
    SimCalls,
    SimConfig,
    SimInputError,
    TeamSpec,
    TimeOfWeekArrivals,
    ks_statistic,
    make_teams,
    mean_ci,
    run_replications,
    simulate,
    travel_minutes_table,
)

NY = ZoneInfo("America/New_York")
MONDAY = dt.datetime(2024, 1, 1, tzinfo=NY)
POST = (-78.9, 36.0)


def calls_at(minutes, *, lon=POST[0], lat=POST[1], call_type="X") -> SimCalls:
    n = len(minutes)
    return SimCalls.build(minutes, [lon] * n, [lat] * n, [call_type] * n)


def config(teams=1, hours="24/7", *, turnout=0.0, max_wait=1000.0, days=1) -> SimConfig:
    return SimConfig(
        MONDAY,
        days,
        make_teams(teams, ShiftPlan.parse(hours), [POST]),
        travel=TravelModel(turnout_minutes=turnout),
        max_wait_minutes=max_wait,
    )


def test_one_team_deterministic_queue_delays_are_exact():
    # arrivals every 10 min, 15 min of work each: call k waits exactly 5k minutes
    calls = calls_at(np.arange(6) * 10.0)
    r = simulate(calls, np.full(6, 15.0), config(turnout=0.0))
    assert (r.outcome == REACHED).all()
    assert r.wait_minutes.tolist() == [0, 5, 10, 15, 20, 25]
    assert r.cleared.tolist() == [15, 30, 45, 60, 75, 90]
    assert r.busy_minutes.tolist() == [90.0]


def test_travel_time_comes_from_the_travel_model():
    # a call 0.01 deg north of the post: response = TravelModel.minutes exactly
    model = TravelModel(turnout_minutes=2.0)
    calls = calls_at([0.0], lat=POST[1] + 0.01)
    cfg = SimConfig(MONDAY, 1, make_teams(1, ShiftPlan.parse("24/7"), [POST]), travel=model)
    r = simulate(calls, np.array([10.0]), cfg)
    expected = model.minutes(POST[0], POST[1], POST[0], POST[1] + 0.01)
    assert r.response_minutes[0] == pytest.approx(expected, abs=1e-9)
    assert r.cleared[0] == pytest.approx(expected + 10.0)


def test_no_waiting_allowed_every_other_call_is_missed_busy():
    calls = calls_at(np.arange(6) * 10.0)
    r = simulate(calls, np.full(6, 15.0), config(max_wait=0.0))
    assert r.outcome.tolist() == [REACHED, MISSED_BUSY] * 3
    m = r.metrics()
    assert m["share_reached"] == 0.5
    assert m["missed_busy"] == 3


def test_patience_expires_before_the_team_is_free():
    # service 30: the call at 10 waits 20 (> 15 allowed) and is missed; the one at 25 waits 5
    calls = calls_at([0.0, 10.0, 25.0])
    r = simulate(calls, np.full(3, 30.0), config(max_wait=15.0))
    assert r.outcome.tolist() == [REACHED, MISSED_BUSY, REACHED]
    assert r.dispatched[2] == 30.0


def test_two_teams_take_calls_in_parallel_and_the_nearest_goes():
    near = (-78.9, 36.0)
    far = (-78.8, 36.0)
    teams = make_teams(2, ShiftPlan.parse("24/7"), [far, near])
    cfg = SimConfig(MONDAY, 1, teams, travel=TravelModel(turnout_minutes=0.0))
    calls = calls_at([0.0, 1.0])  # at `near`
    r = simulate(calls, np.full(2, 60.0), cfg)
    assert r.team.tolist() == [1, 0]  # team-2 sits at `near`
    assert r.wait_minutes.tolist() == [0, 0]


def test_calls_outside_shift_are_off_shift():
    # Monday 08:00-09:00 only; calls at 07:00, 07:55, 08:30, 10:00
    cfg = config(hours="Mon 08:00-09:00", max_wait=10.0)
    calls = calls_at([420.0, 475.0, 510.0, 600.0])
    r = simulate(calls, np.full(4, 5.0), cfg)
    assert r.outcome.tolist() == [MISSED_OFF_SHIFT, MISSED_OFF_SHIFT, REACHED, MISSED_OFF_SHIFT]
    assert r.scheduled_minutes.tolist() == [60.0]
    m = r.metrics()
    assert m["missed_off_shift"] == 3
    assert m["share_reached_on_shift"] == 1.0


def test_a_waiting_call_is_taken_by_a_team_whose_shift_starts():
    # team-1 (24/7) is busy from 07:50 to 08:50; team-2 starts at 08:00; a call at 07:58 waits 2
    always = TeamSpec("team-1", *POST, shifts=ShiftPlan.parse("24/7"))
    morning = TeamSpec("team-2", *POST, shifts=ShiftPlan.parse("Mon 08:00-17:00"))
    cfg = SimConfig(MONDAY, 1, (always, morning), travel=TravelModel(turnout_minutes=0.0))
    r = simulate(calls_at([470.0, 478.0]), np.array([60.0, 5.0]), cfg)
    assert r.team.tolist() == [0, 1]
    assert r.dispatched.tolist() == [470.0, 480.0]


def test_overnight_shift_crosses_midnight():
    plan = ShiftPlan.parse("Mon 22:00-06:00")
    assert plan.intervals(0, 2) == [(1320.0, 1800.0)]


def test_bad_hours_are_named():
    with pytest.raises(SimInputError, match="hours: 'Mon 8-17'"):
        ShiftPlan.parse("Mon 8-17")
    with pytest.raises(SimInputError, match="teams"):
        make_teams(0, ShiftPlan.parse("24/7"), [POST])


def test_unsorted_calls_are_refused():
    with pytest.raises(SimInputError, match="sorted"):
        SimCalls(np.array([5.0, 1.0]), np.zeros(2), np.zeros(2), np.array(["a", "b"], object))


def test_call_without_location_uses_the_fallback_eta():
    calls = SimCalls.build([0.0], [math.nan], [math.nan], ["X"])
    cfg = config()
    assert travel_minutes_table(calls, [POST], cfg) == [[math.inf]]
    r = simulate(calls, np.array([5.0]), cfg)
    assert r.response_minutes.tolist() == [cfg.unlocated_travel_minutes]


def test_same_seed_same_numbers_and_ci_over_replications():
    rng = np.random.default_rng(0)
    arrivals = TimeOfWeekArrivals(
        np.full(168, 0.5),
        rng.uniform(-78.95, -78.85, 50),
        rng.uniform(35.95, 36.05, 50),
        np.array(["A", "B"] * 25, dtype=object),
    )
    service = EmpiricalService.fit(["A"] * 30 + ["B"] * 30, list(range(10, 40)) * 2)
    scenario = Scenario(
        SimConfig(MONDAY, 14, make_teams(1, ShiftPlan.parse("daily 08:00-20:00"), [POST])),
        service,
        arrivals=arrivals,
    )
    a = run_replications(scenario, replications=5, seed=42)
    b = run_replications(scenario, replications=5, seed=42)
    c = run_replications(scenario, replications=5, seed=43)
    assert a == b
    assert a["runs"] != c["runs"]
    share = a["share_reached"]
    assert share["low"] <= share["mean"] <= share["high"]
    assert 0 < share["mean"] < 1
    assert a["response_minutes"]["p90"]["mean"] >= a["response_minutes"]["p50"]["mean"]
    assert 0 < a["utilisation"]["mean"] < 1


def test_replay_scenario_runs_the_given_calls():
    calls = calls_at(np.arange(4) * 10.0)
    scenario = Scenario(config(), FixedService(15.0), replay=calls)
    s = run_replications(scenario, replications=3, seed=1)
    assert s["calls"]["mean"] == 4
    # deterministic service and replayed arrivals: every replication agrees, zero-width CI
    assert s["response_minutes"]["p50"] == {"mean": 7.5, "low": 7.5, "high": 7.5, "n": 3}


def test_arrival_model_fits_hour_of_week_rates():
    # two weeks of history: 4 calls on Monday 09:xx -> 2 per week in that hour
    arrivals = TimeOfWeekArrivals.fit([0] * 4, [9] * 4, 2.0, [0] * 4, [0] * 4, ["A"] * 4)
    assert arrivals.rate_per_hour[9] == 2.0
    assert arrivals.expected_calls(7) == 2.0
    assert arrivals.scaled_to(10, 7).expected_calls(7) == pytest.approx(10)


def test_empirical_service_pools_rare_types():
    service = EmpiricalService.fit(["A"] * 25 + ["B"] * 2, [10.0] * 25 + [99.0] * 2)
    assert set(service.by_type) == {"A"}
    drawn = service.sample(np.random.default_rng(1), np.array(["A"] * 10, dtype=object))
    assert drawn.tolist() == [10.0] * 10


def test_mean_ci_and_ks():
    assert mean_ci([1.0, 1.0, 1.0]) == {"mean": 1.0, "low": 1.0, "high": 1.0, "n": 3}
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci["low"] == pytest.approx(2 - 4.303 * 1 / math.sqrt(3))
    assert mean_ci([0.0, 0.0, 3.0], lower=0.0)["low"] == 0.0
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_statistic([1, 2], [3, 4]) == 1.0
    assert ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5


def test_utilisation_counts_busy_time_inside_shifts_only():
    # shift 08:00-09:00; a call at 08:30 with 60 min on scene: 30 min on duty, 30 overtime
    r = simulate(calls_at([510.0]), np.array([60.0]), config(hours="Mon 08:00-09:00"))
    m = r.metrics()
    assert m["utilisation"] == 0.5
    assert m["overtime_minutes"] == 30.0


def test_pre_dispatch_delay_holds_each_call_before_the_queue():
    # call 0 at minute 0 needs 50 min of screening; call 1 at minute 10 needs none:
    # call 1 is dispatched first, at 10; call 0 joins at 50 and waits for the team until 25+...
    calls = calls_at([0.0, 10.0])
    r = simulate(calls, np.array([15.0, 15.0]), config(), pre_dispatch=np.array([50.0, 0.0]))
    assert r.dispatched.tolist() == [50.0, 10.0]
    assert r.wait_minutes.tolist() == [50.0, 0.0]  # measured from the call, delay included
    # a delay that meets a busy team adds queueing on top
    r = simulate(calls, np.array([45.0, 15.0]), config(), pre_dispatch=np.array([0.0, 5.0]))
    assert r.dispatched.tolist() == [0.0, 45.0]  # call 1 ready at 15, team free at 45
    with pytest.raises(SimInputError, match="pre_dispatch"):
        simulate(calls, np.array([1.0, 1.0]), config(), pre_dispatch=np.array([1.0]))


def test_scenario_without_delay_keeps_its_numbers():
    calls = calls_at(np.arange(20) * 7.0)
    service = EmpiricalService.fit(["X"] * 30, np.linspace(5, 40, 30))
    base = Scenario(config(), service, replay=calls)
    same = run_replications(base, replications=3, seed=4)
    again = run_replications(Scenario(config(), service, replay=calls), replications=3, seed=4)
    assert same == again
    delayed = Scenario(config(), service, replay=calls, pre_dispatch=FixedService(10.0))
    slower = run_replications(delayed, replications=3, seed=4)
    assert slower["response_minutes"]["p50"]["mean"] > same["response_minutes"]["p50"]["mean"]

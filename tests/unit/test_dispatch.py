"""Unit statuses and the pure recommendation (no database)."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from heart.domain.dispatch import (
    CANCELS,
    NEXT_STATUS,
    TRANSITIONS,
    TransitionError,
    UnitSnapshot,
    UnitState,
    check_transition,
    recommend,
)
from heart.domain.geo import TravelModel

NOW = dt.datetime(2024, 3, 5, 15, 0, tzinfo=dt.UTC)
FULL = frozenset({"clinician", "peer_support", "emt"})
CALL = (-78.90, 35.99)


def unit(uid, lon=None, lat=None, *, status="available", on_shift=True, disc=FULL, age_s=10):
    return UnitSnapshot(
        id=uid,
        kind="crt",
        status=status,
        on_shift=on_shift,
        disciplines=disc,
        lon=lon,
        lat=lat,
        position_at=NOW - dt.timedelta(seconds=age_s) if lon is not None else None,
        label=f"Team {uid}",
    )


def rec(units, **kw):
    return recommend(
        call_lon=kw.pop("lon", CALL[0]),
        call_lat=kw.pop("lat", CALL[1]),
        unit_kind="crt",
        units=units,
        now=NOW,
        required_disciplines=FULL,
        **kw,
    )


def test_every_state_has_a_row_and_a_way_back_to_available():
    assert set(TRANSITIONS) == set(UnitState)
    for state in UnitState:
        seen, todo = set(), [state]
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            todo.extend(TRANSITIONS[s])
        assert UnitState.AVAILABLE in seen, state


@pytest.mark.parametrize(
    ("cur", "new"),
    [
        ("available", "dispatched"),
        ("dispatched", "en_route"),
        ("on_scene", "clearing"),
        ("clearing", "available"),
    ],
)
def test_allowed_transitions(cur, new):
    assert check_transition(cur, new) == UnitState(new)


def test_next_status_is_an_allowed_move_and_cancels_go_back_to_available():
    for state, nxt in NEXT_STATUS.items():
        assert nxt is None or nxt in TRANSITIONS[state], state
    for cur, new in CANCELS:
        assert new in TRANSITIONS[cur] and new is UnitState.AVAILABLE


@pytest.mark.parametrize("cur", ["dispatched", "en_route", "on_scene", "transporting", "clearing"])
def test_no_out_of_service_while_on_a_call(cur):
    with pytest.raises(TransitionError, match="cannot become out_of_service"):
        check_transition(cur, "out_of_service")


@pytest.mark.parametrize(
    ("cur", "new", "words"),
    [
        ("available", "on_scene", "cannot become on_scene"),
        ("on_scene", "available", "allowed: clearing, transporting"),
        ("available", "asleep", "unknown status"),
    ],
)
def test_forbidden_transitions_say_why(cur, new, words):
    with pytest.raises(TransitionError, match=words):
        check_transition(cur, new)


def test_ranks_by_eta_and_explains_the_others():
    units = [
        unit("far", -78.80, 35.99),
        unit("near", -78.905, 35.99),
        unit("busy", -78.90, 35.99, status="on_scene"),
        unit("off", -78.90, 35.99, on_shift=False),
        unit("short", -78.90, 35.99, disc=frozenset({"clinician"})),
    ]
    r = rec(units)
    assert [p.unit_id for p in r.picks] == ["near", "far"]
    assert "about" in r.best.reason and "min away" in r.best.reason
    codes = {s.unit_id: s.code for s in r.shortfalls}
    assert codes == {"busy": "busy", "off": "off_shift", "short": "not_staffed"}
    assert "lacks emt, peer_support" in next(s.reason for s in r.shortfalls if s.unit_id == "short")


def test_no_units_and_why_none():
    r = rec([unit("busy", -78.9, 35.99, status="en_route")])
    assert r.best is None and "busy" in r.why_none()
    assert rec([]).shortfalls[0].code == "no_units"


def test_stale_gps_is_flagged_but_still_ranked():
    r = rec([unit("old", -78.90, 35.99, age_s=3600)], stale_after=dt.timedelta(minutes=5))
    assert r.best.stale_position and "stale" in r.best.reason


def test_no_fix_or_no_call_location_ranks_last():
    r = rec([unit("nofix"), unit("fix", -78.95, 35.99)])
    assert [p.unit_id for p in r.picks] == ["fix", "nofix"]
    assert r.picks[1].stale_position and "no GPS fix" in r.picks[1].reason
    r2 = rec([unit("fix", -78.95, 35.99)], lon=None, lat=None)
    assert "call location unknown" in r2.best.reason


def test_routing_engine_etas_override_the_model():
    units = [unit("a", -78.905, 35.99), unit("b", -78.95, 35.99)]
    r = rec(units, etas={"a": 30.0, "b": 4.0})
    assert [p.unit_id for p in r.picks] == ["b", "a"]
    assert "by road" in r.best.reason


def test_travel_model_is_the_shared_one():
    m = TravelModel(road_factor=1.0, speed_kmh=60, turnout_minutes=0)
    r = rec([unit("a", -78.80, 35.99)], travel=m)
    assert r.best.eta_minutes == pytest.approx(m.minutes(-78.80, 35.99, *CALL))


def test_recommend_ranks_200_teams_nearest_first():
    """200 teams (the live benchmark's size; its speed is measured in bench/, not here)."""
    import random

    rnd = random.Random(1)
    units = [
        unit(str(i), -78.9 + rnd.uniform(-0.1, 0.1), 35.99 + rnd.uniform(-0.1, 0.1))
        for i in range(200)
    ]
    r = rec(units)
    etas = [p.eta_minutes for p in r.picks]
    assert len(etas) == 5 and etas == sorted(etas)
    every = sorted(TravelModel().minutes(u.lon, u.lat, *CALL) for u in units)
    assert etas == pytest.approx(every[:5])


def test_domain_does_not_import_django():
    assert "heart.domain.dispatch" in sys.modules
    import heart.domain.dispatch as d

    assert "django" not in d.__dict__

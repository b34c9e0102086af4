"""One dispatch policy for live and simulation: the program's [no_team_free] setting, read
by live intake and by the simulator, gives the same call-by-call result on a small
deterministic day.

The live side is driven as a dispatcher would: calls arrive through ``receive_call``;
a recommended team is assigned at once; a team goes on scene and clears after its travel
and on-scene minutes and is back at its post; waiting calls are checked by
``check_held_calls`` when a team clears and at their deadlines. The simulator replays
the same calls with the same teams, posts, travel model, on-scene minutes and policy
(teams back at their posts when they clear, as the driver puts them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq

import numpy as np
import pytest

from heart.accounts.actors import SYSTEM
from heart.calls.models import Call
from heart.domain.program import NoTeamFreePolicy
from heart.domain.sim import (
    MISSED_BUSY,
    REACHED,
    ShiftPlan,
    SimCalls,
    SimConfig,
    TeamSpec,
    simulate,
)
from heart.domain.triage import CallInput
from heart.intake.models import HeldCall
from heart.intake.services import check_held_calls, receive_call
from heart.teams.models import Team
from heart.teams.selectors import recommendation_for, travel_model
from heart.teams.services import assign_team, change_status
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db(transaction=False)

POSTS = [(DURHAM[0], DURHAM[1]), (DURHAM[0] + 0.03, DURHAM[1] + 0.01)]
# (minute after 10:00, lon offset, lat offset, priority, on-scene minutes): a busy morning
# for two teams, so some calls find both busy
DAY = [
    (0, 0.000, 0.000, "2", 40),
    (5, 0.020, 0.010, "3", 50),
    (12, 0.005, -0.004, "3", 30),
    (14, 0.030, 0.012, "1", 20),
    (16, -0.010, 0.002, "2", 25),
    (47, 0.012, 0.003, "3", 15),
    (49, 0.001, 0.001, "1", 35),
    (52, 0.025, 0.009, "2", 20),
    (58, 0.002, -0.002, "3", 10),
    (95, 0.015, 0.004, "2", 30),
]


def live_day(program, teams, start):
    """Drive the live services through DAY; per call ('team', index) or ('fell back', route)."""
    events: list[tuple[float, int, str, object]] = []  # (minute, order, kind, payload)
    seq = iter(range(10_000))
    for i, (m, *_rest) in enumerate(DAY):
        heapq.heappush(events, (float(m), next(seq), "call", i))
    calls: dict[int, Call] = {}
    team_index = {t.pk: j for j, t in enumerate(teams)}
    outcome: dict[int, tuple] = {}
    dispatched_at: dict[int, float] = {}

    def at(minute: float) -> dt.datetime:
        return start + dt.timedelta(minutes=minute)

    def assign(i: int, team_id: int, eta: float, minute: float) -> None:
        team = Team.objects.get(pk=team_id)
        assign_team(call=calls[i], team=team, actor=SYSTEM, program=program, now=at(minute))
        outcome[i] = ("team", team_index[team_id])
        dispatched_at[i] = minute
        heapq.heappush(events, (minute + eta + DAY[i][4], next(seq), "clear", team_id))

    def check(minute: float) -> None:
        check_held_calls(now=at(minute), program=program)
        for i, call in calls.items():
            if i in outcome or HeldCall.objects.filter(call=call).exists():
                continue
            call.refresh_from_db()
            rec = call.timeline.filter(kind="recommended").last()
            if call.route != "crt":
                outcome[i] = ("fell back", call.route)
            elif rec is not None:
                # the dispatcher takes the team the check recommended (still free); its
                # exact ETA is the recommendation's (the timeline keeps it rounded)
                team_id = next(p["team_id"] for p in rec.data["picks"] if _free(p["team_id"]))
                exact = recommendation_for(call=call, program=program, now=at(minute))
                eta = next(p.eta_minutes for p in exact.picks if p.team_id == team_id)
                assign(i, team_id, eta, minute)

    while events:
        minute, _, kind, payload = heapq.heappop(events)
        if kind == "call":
            i = payload
            _, dlon, dlat, priority, _on_scene = DAY[i]
            res = receive_call(
                call=CallInput(
                    received_at=at(minute),
                    nature="CRISIS",
                    lon=DURHAM[0] + dlon,
                    lat=DURHAM[1] + dlat,
                    priority=priority,
                ),
                actor=SYSTEM,
                program=program,
                cad_incident_id=f"DAY-{i}",
                now=at(minute),
            )
            calls[i] = res.call
            if res.recommendation is not None and res.recommendation.best is not None:
                best = res.recommendation.best
                assign(i, int(best.unit_id), best.eta_minutes, minute)
            elif res.call.route != "crt":
                outcome[i] = ("fell back", res.call.route)
            else:
                held = HeldCall.objects.get(call=res.call)
                until = (held.until - start).total_seconds() / 60
                heapq.heappush(events, (until, next(seq), "deadline", i))
        elif kind == "clear":
            team = Team.objects.get(pk=payload)
            for status in ("on_scene", "clearing", "available"):
                change_status(team=team, status=status, actor=SYSTEM, now=at(minute))
            post = POSTS[team_index[team.pk]]
            Team.objects.filter(pk=team.pk).update(lon=post[0], lat=post[1], position_at=at(minute))
            check(minute)
        else:  # a waiting call's deadline
            check(minute)
    return outcome, dispatched_at


def _free(team_id: int) -> bool:
    return Team.objects.get(pk=team_id).status == "available"


def simulated_day(program, start, offset):
    minute = np.array([m for m, *_ in DAY], dtype=float) + offset
    lon = np.array([DURHAM[0] + d for _, d, *_ in DAY])
    lat = np.array([DURHAM[1] + d for _, _, d, *_ in DAY])
    calls = SimCalls.build(minute, lon, lat, ["CRISIS"] * len(DAY), [p for *_, p, _ in DAY])
    plan = ShiftPlan.parse("24/7")
    teams = tuple(TeamSpec(str(j), *POSTS[j], shifts=plan, kind="crt") for j in range(2))
    cfg = SimConfig(
        start,
        1,
        teams,
        travel=travel_model(),
        policy=program.no_team_free,
        route="crt",
        unit_kind="crt",
        return_to_post=False,  # the live driver puts a team back at its post as it clears
    )
    r = simulate(calls, np.array([d[4] for d in DAY], dtype=float), cfg)
    out = {}
    for i in range(len(DAY)):
        if r.outcome[i] == REACHED:
            out[i] = ("team", int(r.team[i]))
        else:
            assert r.outcome[i] == MISSED_BUSY
            out[i] = ("fell back", "ccd")
    return out, {i: float(r.dispatched[i]) for i in range(len(DAY)) if r.outcome[i] == REACHED}


POLICIES = {
    "fall back at once (Durham)": None,
    "hold 20 min, first come first served": NoTeamFreePolicy(action="hold", hold_minutes=20),
    "hold by priority": NoTeamFreePolicy(
        action="hold",
        hold_minutes=30,
        hold_minutes_by_priority={"3": 0},
        queue="priority",
        priority_order=("1", "2", "3"),
    ),
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_live_and_simulated_policy_agree_call_by_call(name, durham_2023, staffed_team, on_duty_now):
    program = durham_2023
    if POLICIES[name] is not None:
        program = dataclasses.replace(program, no_team_free=POLICIES[name])
    teams = [staffed_team(f"T{j}", lon, lat, now=on_duty_now) for j, (lon, lat) in enumerate(POSTS)]
    live, live_dispatch = live_day(program, teams, on_duty_now)
    midnight = on_duty_now.replace(hour=0, minute=0)
    offset = (on_duty_now - midnight).total_seconds() / 60
    sim, sim_dispatch = simulated_day(program, midnight, offset)
    assert live == {i: sim[i] for i in range(len(DAY))}
    for i, minute in live_dispatch.items():
        assert sim_dispatch[i] - offset == pytest.approx(minute, abs=1e-6)
    # the day is busy enough to test something: some calls reached, some handed on, and
    # under a hold some reached after waiting
    assert {v[0] for v in live.values()} == {"team", "fell back"}
    waited = [i for i, m in live_dispatch.items() if m > DAY[i][0]]
    assert bool(waited) == (POLICIES[name] is not None), (live, live_dispatch)

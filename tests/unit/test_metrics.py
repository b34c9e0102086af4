"""Every report measure on hand-computed fixtures (heart.domain.metrics).

November 2024 in Durham (America/New_York) holds the end of daylight saving time
(Sunday 3 November, 02:00 EDT -> 01:00 EST) and calls on both month boundaries. The
expected figures below were worked out by hand from the records; the comments show the
working. The time basis: a call belongs to the local month it was *received* in.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from heart.domain.metrics import (
    BackupRecord,
    CallRecord,
    Estimate,
    FirstContactRecord,
    FollowUpRecord,
    OverrideRecord,
    Period,
    ReferralRecord,
    ReportData,
    ReportSettings,
    ShiftRecord,
    compute,
    elapsed_minutes,
    is_eligible,
    local_hour_of_week,
    missed_cause,
    quantile,
    response_bin,
    time_stats,
)
from heart.domain.public_summary import summary

NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def ny(*args, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY, fold=fold)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


ELIGIBLE_CRT = ("nature_eligible", "route_crt")


def call(cid, received, route, codes=ELIGIBLE_CRT, **kw) -> CallRecord:
    return CallRecord(
        call_id=cid,
        received_at=received,
        call_type=kw.pop("call_type", "CRISIS"),
        route=route,
        reason_codes=codes,
        **kw,
    )


# ------------------------------------------------------------------ the November fixture

CALLS = [
    # A: 23:50 EDT on 31 October = 03:50 UTC on 1 November: an OCTOBER call (local time)
    call(
        "A",
        ny(2024, 10, 31, 23, 50),
        "crt",
        team_sent=True,
        reached=True,
        on_scene_at=ny(2024, 11, 1, 0, 20),
        disposition="resolved_on_scene",
    ),
    # B: received 23:55 on 30 November, on scene 00:25 on 1 December: a November call
    # with a 30-minute response (dispatch 3 min, on scene 60 min)
    call(
        "B",
        ny(2024, 11, 30, 23, 55),
        "crt",
        team_sent=True,
        reached=True,
        dispatched_at=ny(2024, 11, 30, 23, 58),
        on_scene_at=ny(2024, 12, 1, 0, 25),
        cleared_at=ny(2024, 12, 1, 1, 25),
        disposition="resolved_on_scene",
    ),
    # C: received 01:30 EDT (first 01:xx) on 3 November, on scene 01:10 EST (second
    # 01:xx): the wall clock says -20 min, elapsed time is 40 min; dispatch 5, scene 30
    call(
        "C",
        ny(2024, 11, 3, 1, 30, fold=0),
        "crt",
        call_type="WELFARE CHECK",
        team_sent=True,
        reached=True,
        dispatched_at=utc(2024, 11, 3, 5, 35),
        on_scene_at=ny(2024, 11, 3, 1, 10, fold=1),
        cleared_at=utc(2024, 11, 3, 6, 40),
        disposition="transported",
    ),
    # D: 01:45 EST (the repeated hour) -> crisis line, team closed: missed, out of hours
    call(
        "D",
        ny(2024, 11, 3, 1, 45, fold=1),
        "ccd",
        ("nature_eligible", "crt_closed_hours", "route_ccd"),
        crisis_line_outcome="resolved_by_phone",
    ),
    # E: a weapon excludes it (not eligible)
    call(
        "E",
        ny(2024, 11, 12, 10, 0),
        "standard",
        ("nature_eligible", "weapon_flag", "route_standard"),
    ),
    # F: a call type the program does not take
    call(
        "F",
        ny(2024, 11, 12, 11, 0),
        "standard",
        ("nature_not_eligible", "route_standard"),
        call_type="ASSAULT",
    ),
    # G: outside the team's area -> crisis line -> handed back
    call(
        "G",
        ny(2024, 11, 13, 9, 0),
        "ccd",
        ("nature_eligible", "crt_outside_area", "route_ccd"),
        crisis_line_outcome="hand_back",
    ),
    # H: routed to the team, then no team free (the fallback's code comes last)
    call(
        "H",
        ny(2024, 11, 14, 14, 0),
        "standard",
        ("nature_eligible", "route_crt", "crt_unavailable"),
    ),
    # I: routed to the team, a team was sent, but a dispatcher overrode the route
    call("I", ny(2024, 11, 15, 15, 0), "crt", team_sent=True),
    # J: reached (a team disposition) but no on-scene time: no response time
    call(
        "J",
        ny(2024, 11, 16, 8, 0),
        "crt",
        team_sent=True,
        reached=True,
        dispatched_at=ny(2024, 11, 16, 8, 5),
        disposition="police_took_over",
    ),
    # K: not eligible (weapon) but a dispatcher's override sent a team: a team response
    call(
        "K",
        ny(2024, 11, 20, 12, 0),
        "standard",
        ("nature_eligible", "weapon_flag", "route_standard"),
        team_sent=True,
        reached=True,
        dispatched_at=ny(2024, 11, 20, 12, 10),
        on_scene_at=ny(2024, 11, 20, 12, 45),
        cleared_at=ny(2024, 11, 20, 13, 45),
        disposition="referred",
    ),
    # L: 20-minute response; cleared two days later: a slip beyond 24 h, no on-scene time
    call(
        "L",
        ny(2024, 11, 22, 13, 0),
        "crt",
        team_sent=True,
        reached=True,
        dispatched_at=ny(2024, 11, 22, 13, 2),
        on_scene_at=ny(2024, 11, 22, 13, 20),
        cleared_at=ny(2024, 11, 24, 13, 20),
        disposition="resolved_on_scene",
    ),
]
BACKUPS = [
    # requested after midnight on 1 December for call B: counted with B (November)
    BackupRecord("B", ny(2024, 11, 30, 23, 55), "CRISIS"),
    BackupRecord("C", ny(2024, 11, 3, 1, 30), "WELFARE CHECK", cause="weapon_seen"),
    BackupRecord("A", ny(2024, 10, 31, 23, 50), "CRISIS"),  # October
]
OVERRIDES = [
    OverrideRecord("I", ny(2024, 11, 15, 15, 0), "crt", team_sent=False),
    OverrideRecord("K", ny(2024, 11, 20, 12, 0), "standard", team_sent=True),
    OverrideRecord("A", ny(2024, 10, 31, 23, 50), "crt", team_sent=False),  # October
]
SHIFTS = [
    # 20:00 EDT on 2 Nov to 08:00 EST on 3 Nov: 13 elapsed hours (the night is an hour longer)
    ShiftRecord("T1", ny(2024, 11, 2, 20, 0), ny(2024, 11, 3, 8, 0), staffed=True),
    # 20:00 on 30 Nov to 08:00 on 1 Dec: 4 hours in November
    ShiftRecord("T1", ny(2024, 11, 30, 20, 0), ny(2024, 12, 1, 8, 0), staffed=True),
    # 22:00 on 31 Oct to 06:00 on 1 Nov: 6 hours in November
    ShiftRecord("T2", ny(2024, 10, 31, 22, 0), ny(2024, 11, 1, 6, 0), staffed=True),
    # not staffed (a discipline missing): never counted
    ShiftRecord("T3", ny(2024, 11, 5, 8, 0), ny(2024, 11, 5, 18, 0), staffed=False),
]
AS_OF = utc(2024, 12, 2, 12, 0)
FOLLOW_UPS = [
    FollowUpRecord(
        ny(2024, 11, 5, 9, 0), utc(2024, 11, 7, 12, 0), utc(2024, 11, 6, 10, 0)
    ),  # within
    FollowUpRecord(
        ny(2024, 11, 10, 9, 0), utc(2024, 11, 12, 12, 0), utc(2024, 11, 13, 9, 0)
    ),  # late
    FollowUpRecord(
        ny(2024, 11, 30, 23, 55), utc(2024, 12, 3, 6, 0), None
    ),  # still inside its window
    FollowUpRecord(ny(2024, 11, 20, 9, 0), utc(2024, 11, 22, 12, 0), None),  # missed
    FollowUpRecord(
        ny(2024, 10, 31, 9, 0), utc(2024, 11, 2, 12, 0), utc(2024, 11, 1, 9, 0)
    ),  # October
]
REFERRALS = [
    ReferralRecord(ny(2024, 11, 2, 10, 0), "completed"),
    ReferralRecord(ny(2024, 11, 5, 10, 0), "sent"),
    ReferralRecord(ny(2024, 11, 30, 23, 0), "accepted"),  # 04:00 UTC on 1 Dec: November
    ReferralRecord(ny(2024, 12, 1, 6, 0), "completed"),  # December
]
FIRST_CONTACTS = [
    FirstContactRecord(ny(2024, 11, 4, 12, 0), calls_before=2, calls_after=1, complete=False),
    FirstContactRecord(ny(2024, 11, 10, 12, 0), calls_before=0, calls_after=0, complete=False),
    FirstContactRecord(ny(2024, 8, 1, 12, 0), calls_before=3, calls_after=1, complete=True),
]
SETTINGS = ReportSettings(
    team_unit="crt",
    team_routes=frozenset({"crt"}),
    police_minutes_per_call=Estimate(45, "city CAD 2023, mean unit time"),
    ems_minutes_per_call=Estimate(30, "county EMS 2023"),
    annual_budget=Estimate(365_000, "adopted budget"),
)
DATA = ReportData(
    basis="live",
    calls=CALLS,
    backups=BACKUPS,
    overrides=OVERRIDES,
    shifts=SHIFTS,
    follow_ups=FOLLOW_UPS,
    referrals=REFERRALS,
    first_contacts=FIRST_CONTACTS,
    as_of=AS_OF,
)
NOV = Period.month(2024, 11, "America/New_York")


@pytest.fixture(scope="module")
def nov():
    return compute(DATA, NOV, SETTINGS)


def test_the_period_is_local_months_in_elapsed_hours():
    assert NOV.start_utc == utc(2024, 11, 1, 4, 0)  # midnight EDT
    assert NOV.end_utc == utc(2024, 12, 1, 5, 0)  # midnight EST
    assert NOV.hours == 30 * 24 + 1  # the autumn night has 25 hours
    march = Period.month(2024, 3, "America/New_York")
    assert march.hours == 31 * 24 - 1
    assert NOV.label == "2024-11"
    assert Period.parse_month("2024-11", "America/New_York") == NOV
    with pytest.raises(ValueError, match="2024-13"):
        Period.parse_month("2024-13", "America/New_York")
    ytd = Period.year_to_date(NOV)
    assert (ytd.first, ytd.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 1))
    assert [m.label for m in ytd.months()][-2:] == ["2024-10", "2024-11"]
    assert len(ytd.months()) == 11


def test_calls_by_route_and_type_by_received_local_time(nov):
    # A (31 Oct 23:50 EDT, already 1 Nov in UTC) is October's; B (30 Nov 23:55) is November's
    assert nov.calls_total == 11
    assert nov.by_route == {"crt": 5, "ccd": 2, "standard": 4}
    assert nov.by_call_type == {"CRISIS": 9, "WELFARE CHECK": 1, "ASSAULT": 1}
    assert nov.by_call_type_route[("CRISIS", "crt")] == 4
    october = compute(DATA, Period.month(2024, 10, "America/New_York"), SETTINGS)
    assert october.calls_total == 1 and october.response_minutes.n == 1
    assert october.response_minutes.mean == 30.0  # 23:50 -> 00:20 across the month's end


def test_eligible_reached_and_missed_by_cause(nov):
    # eligible: B C D G H I J L (E and K have a weapon, F is a type not taken)
    assert nov.eligible == 8
    assert nov.reached == 4  # B C J L
    assert nov.missed_by_cause == {
        "override": 1,  # I
        "no_team_free": 1,  # H (its last code: the fallback)
        "out_of_hours": 1,  # D
        "out_of_area": 1,  # G
        "location_unknown": 0,
        "not_reached": 0,
    }
    assert nov.reached_share == 0.5
    assert nov.team_responses == 5  # B C J K L (K: an override sent a team)


def test_time_figures_in_elapsed_minutes(nov):
    # response (call -> on scene): B 30, C 40 (across the DST change), K 45, L 20
    assert nov.response_minutes.as_dict() == {"mean": 33.75, "p50": 35.0, "p90": 43.5, "n": 4}
    # dispatch: B 3, C 5, J 5, K 10, L 2 -> p90 at position 3.6: 5 + 0.6 * 5
    assert nov.dispatch_minutes.as_dict() == {"mean": 5.0, "p50": 5.0, "p90": 8.0, "n": 5}
    # on scene: B 60, C 30, K 60; L's 2 days is a slip beyond 24 h and left out
    assert nov.on_scene_minutes.as_dict() == {"mean": 50.0, "p50": 60.0, "p90": 60.0, "n": 3}
    assert nov.response_histogram == {"30-45": 2, "45-60": 1, "20-30": 1}


def test_dispositions_crisis_line_backups_overrides(nov):
    assert nov.dispositions == {
        "resolved_on_scene": 2,
        "transported": 1,
        "police_took_over": 1,
        "referred": 1,
    }
    assert nov.crisis_line == {"resolved_by_phone": 1, "hand_back": 1}
    # backups are counted with the call they came from, apart from police calls
    assert nov.backup_requests == 2
    assert nov.backup_share == 0.4
    assert nov.backup_by_cause == {"not_recorded": 1, "weapon_seen": 1}
    assert nov.backup_by_call_type == {"CRISIS": 1, "WELFARE CHECK": 1}
    assert nov.overrides == 2 and nov.overrides_by_route == {"crt": 1, "standard": 1}


def test_hour_of_week_counts_the_repeated_hour_twice(nov):
    sunday, saturday = 6, 5
    assert nov.hour_of_week[(sunday, 1)] == 2  # C at 01:30 EDT and D at 01:45 EST
    assert nov.hour_of_week[(saturday, 23)] == 1  # B
    assert sum(nov.hour_of_week.values()) == 11
    assert local_hour_of_week(utc(2024, 3, 10, 7, 30), NY) == (6, 3)  # 03:30 EDT: no hour 2


def test_follow_ups_referrals_and_repeat_calls(nov):
    # due: attempted, or deadline passed; the one still inside its window waits
    assert (nov.follow_ups_due, nov.follow_ups_within) == (3, 1)
    assert nov.follow_ups_share == 0.3333
    assert (nov.referrals_made, nov.referrals_completed) == (3, 1)
    assert nov.repeat == {
        "people": 2,
        "complete": 0,
        "calls_before": 2,
        "calls_after": 0,
        "mean_before": 1.0,
        "mean_after": None,
        "mean_before_complete": None,
    }


def test_staffing_cost_and_unit_hours(nov):
    assert nov.team_hours == 23.0  # 13 + 4 + 6; the unstaffed shift is not counted
    assert nov.calls_per_team_hour == round(5 / 23, 4)
    assert nov.budget_for_period == round(365_000 * 30 / 366, 2)  # 2024 is a leap year
    assert nov.cost_per_team_response == round(round(365_000 * 30 / 366, 2) / 5, 2)
    assert nov.unit_hours_saved(nov.police_minutes) == 3.8  # 5 responses x 45 min = 3.75 h
    assert nov.unit_hours_saved(nov.ems_minutes) == 2.5


def test_spring_forward_week():
    calls = [
        # 01:50 EST -> on scene 03:10 EDT: 20 minutes, not 80
        call(
            "s1",
            ny(2024, 3, 10, 1, 50),
            "crt",
            team_sent=True,
            reached=True,
            on_scene_at=ny(2024, 3, 10, 3, 10),
            disposition="resolved_on_scene",
        ),
        call(
            "s2",
            ny(2024, 3, 10, 3, 5),
            "crt",
            team_sent=True,
            reached=True,
            on_scene_at=ny(2024, 3, 10, 3, 30),
            disposition="resolved_on_scene",
        ),
    ]
    shifts = [ShiftRecord("T", ny(2024, 3, 10, 0, 0), ny(2024, 3, 10, 12, 0), staffed=True)]
    week = Period(dt.date(2024, 3, 4), dt.date(2024, 3, 11), "America/New_York")
    f = compute(ReportData("live", calls, shifts=shifts, as_of=AS_OF), week, SETTINGS)
    assert week.hours == 7 * 24 - 1
    assert f.response_minutes.as_dict() == {"mean": 22.5, "p50": 22.5, "p90": 24.5, "n": 2}
    assert f.team_hours == 11.0
    assert f.hour_of_week == {(6, 1): 1, (6, 3): 1}


def test_rules_of_single_calls():
    assert is_eligible(call("x", NOV.start_utc, "crt"))
    assert not is_eligible(
        call("x", NOV.start_utc, "crt", ("nature_eligible", "violence_in_narrative"))
    )
    assert is_eligible(call("x", NOV.start_utc, "crt", (), eligible=True))
    c = call("x", NOV.start_utc, "standard", ("nature_eligible", "crt_holiday", "ccd_closed_hours"))
    assert missed_cause(c, team_unit="crt", overridden=False) == "out_of_hours"
    assert missed_cause(c, team_unit="crt", overridden=True) == "override"
    assert (
        missed_cause(call("x", NOV.start_utc, "crt"), team_unit="crt", overridden=False)
        == "not_reached"
    )
    other_unit = call("x", NOV.start_utc, "standard", ("nature_eligible", "van_outside_area"))
    assert missed_cause(other_unit, team_unit="van", overridden=False) == "out_of_area"
    assert elapsed_minutes(ny(2024, 1, 1, 10), ny(2024, 1, 1, 9), limit=60) is None
    assert elapsed_minutes(ny(2024, 1, 1, 10), ny(2024, 1, 1, 12), limit=60) is None
    assert elapsed_minutes(ny(2024, 1, 1, 10), None, limit=60) is None
    assert [response_bin(m) for m in (0, 4.99, 5, 119.9, 120, 999)] == [
        "0-5",
        "0-5",
        "5-10",
        "90-120",
        "120+",
        "120+",
    ]


def test_quantiles_and_means():
    assert quantile([10, 20, 30, 40], 0.5) == 25
    assert quantile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert quantile([7], 0.9) == 7
    assert time_stats([]).as_dict() == {"mean": None, "p50": None, "p90": None, "n": 0}
    assert time_stats([1, 2, 3, 4, 100]).as_dict() == {
        "mean": 22.0,
        "p50": 3.0,
        "p90": 61.6,
        "n": 5,
    }


def test_the_summary_has_every_key_and_is_valid_json(nov):
    s = summary(nov, routes=["crt", "co_response", "ccd", "standard"], threshold=1, program="p")
    for key in (
        "period",
        "calls_total",
        "by_route",
        "eligible",
        "reached",
        "missed_by_cause",
        "response_minutes",
        "on_scene_minutes",
        "dispositions",
        "backup_requests",
        "overrides",
        "follow_ups",
        "police_hours_saved",
        "suppressed_cells",
        "rules_versions",
    ):
        assert key in s, key
    assert set(s["response_minutes"]) == {"mean", "p50", "p90", "n"}
    assert s["follow_ups"]["due"] == 3 and s["follow_ups"]["within_48h"] == 1
    assert s["police_hours_saved"]["hours"] == 3.8 and s["police_hours_saved"]["estimate"] is True
    assert "45 minutes" in s["police_hours_saved"]["assumption"]
    assert s["backup_requests"]["count"] == 2 and s["by_route"]["co_response"] == 0
    assert s["suppressed_cells"] == []
    assert s["hour_of_week"]["calls"][6][1] == 2
    json.loads(json.dumps(s, allow_nan=False))
    assert s["staffing"]["team_hours"] == 23.0


def test_the_columnar_rules_equal_the_single_call_rules():
    """compute() applies is_eligible, missed_cause, elapsed_minutes and response_bin to
    columns; on random calls it agrees with the functions applied call by call."""
    import random

    rng = random.Random(5)
    codes_pool = [
        "nature_eligible",
        "nature_not_eligible",
        "weapon_flag",
        "violence_in_narrative",
        "crt_closed_hours",
        "crt_outside_area",
        "crt_unavailable",
        "crt_holiday",
        "crt_location_unknown",
        "route_crt",
        "route_ccd",
        "ccd_closed_hours",
    ]
    calls, overrides = [], []
    for i in range(400):
        at = NOV.start_utc + dt.timedelta(minutes=97 * i)
        reached = rng.random() < 0.4
        scene = at + dt.timedelta(
            minutes=rng.choice([-5, 0, 4.999, 5, 29.5, 45, 119.99, 120, 2000])
        )
        calls.append(
            call(
                str(i),
                at,
                rng.choice(["crt", "ccd", "standard"]),
                tuple(rng.sample(codes_pool, rng.randint(0, 4))),
                team_sent=reached,
                reached=reached,
                on_scene_at=scene if reached else None,
            )
        )
        if rng.random() < 0.05:
            overrides.append(OverrideRecord(str(i), at, "crt", False))
    f = compute(ReportData("live", calls, overrides=overrides, as_of=AS_OF), NOV, SETTINGS)
    overridden = {o.call_id for o in overrides}
    inside = [c for c in calls if NOV.contains(c.received_at)]
    eligible = [c for c in inside if is_eligible(c)]
    assert f.eligible == len(eligible)
    expected = {c: 0 for c in f.missed_by_cause}
    for c in eligible:
        if not c.reached:
            expected[missed_cause(c, team_unit="crt", overridden=c.call_id in overridden)] += 1
    assert f.missed_by_cause == expected
    minutes = [
        elapsed_minutes(c.received_at, c.on_scene_at, limit=1440) for c in inside if c.reached
    ]
    minutes = [m for m in minutes if m is not None]
    assert f.response_minutes == time_stats(minutes)
    from collections import Counter

    assert f.response_histogram == dict(Counter(map(response_bin, minutes)))

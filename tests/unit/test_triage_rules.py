"""Each triage rule, with the reasons a member of the public would be shown."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from heart.domain.program_file import BUILTIN_DIR, load_program
from heart.domain.triage import CallInput, TriageInputError, decide
from tests.conftest import ny

UTC = dt.UTC


def call(when, nature="CRISIS", **kw) -> CallInput:
    kw.setdefault("beat", "113")  # a pilot beat
    return CallInput(received_at=when, nature=nature, **kw)


TUE_10AM = ny(2022, 10, 4, 10, 0)  # a Tuesday after co-response began


def test_eligible_call_in_pilot_during_hours_goes_to_team(durham_2022):
    d = decide(durham_2022, call(TUE_10AM))
    assert d.route == "crt"
    assert d.codes == ("nature_eligible", "route_crt")
    assert d.rules_version == durham_2022.rules_version
    assert "community response team" in d.reasons[-1].text


def test_outside_pilot_goes_to_call_diversion(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, beat="311"))
    assert d.route == "ccd"
    assert d.codes == ("nature_eligible", "crt_outside_area", "route_ccd")


def test_outside_the_city_is_standard(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, beat="999"))  # Sheriff's county area
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "crt_outside_area", "ccd_outside_area", "route_standard")


def test_after_hours_is_standard(durham_2022):
    d = decide(durham_2022, call(ny(2022, 10, 4, 17, 0)))
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "crt_closed_hours", "ccd_closed_hours", "route_standard")
    assert "weekdays 08:00-17:00" in d.reasons[1].text


def test_weekend_is_standard_in_2022(durham_2022):
    assert decide(durham_2022, call(ny(2022, 10, 8, 10, 0))).route == "standard"


@pytest.mark.parametrize(
    "nature", ["TRESPASS OR UNWANTED", "welfare  check", " Intoxicated Person "]
)
def test_nature_spelling_is_forgiving(durham_2022, nature):
    assert decide(durham_2022, call(TUE_10AM, nature=nature)).route == "crt"


def test_unknown_nature_is_standard_with_reason(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, nature="DRONE SIGHTING"))
    assert d.route == "standard"
    assert d.codes == ("nature_unknown", "route_standard")
    assert "DRONE SIGHTING" in d.reasons[0].text


def test_listed_ineligible_nature_says_why(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, nature="ATTEMPTED SUICIDE"))
    assert d.codes == ("nature_not_eligible", "route_standard")
    assert "EMS" in d.reasons[0].text


def test_missing_nature_is_unknown(durham_2022):
    assert decide(durham_2022, call(TUE_10AM, nature=None)).codes[0] == "nature_unknown"


# -- exclusions ------------------------------------------------------------------------


def test_weapon_flag_excludes(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, nature="TRESPASS OR UNWANTED", weapon_flag=True))
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "weapon_flag", "route_standard")


def test_violence_in_narrative_excludes(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, narrative="caller says he punched his roommate"))
    assert d.route == "standard"
    assert "violence_in_narrative" in d.codes


def test_negated_weapon_does_not_exclude(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, narrative="No weapons seen. Subject is crying."))
    assert d.route == "crt"
    assert d.codes == ("nature_eligible", "mention_negated", "route_crt")


def test_suicide_threat_with_weapon_goes_to_co_response_once_it_operates(durham_2022):
    armed = dict(nature="SUICIDE THREAT", narrative="has a knife, wants to die")
    d = decide(durham_2022, call(TUE_10AM, **armed))
    assert d.route == "co_response"
    assert d.codes == ("nature_eligible", "weapon_in_narrative", "route_co_response")
    before = decide(durham_2022, call(ny(2022, 9, 23, 10, 0), **armed))  # Friday before 09-26
    assert before.route == "standard"
    assert "co_response_not_started" in before.codes


def test_weapon_and_violence_never_co_response(durham_2022):
    d = decide(
        durham_2022,
        call(TUE_10AM, nature="CRISIS", narrative="has a knife and attacked his brother"),
    )
    assert d.route == "standard"
    assert d.codes == (
        "nature_eligible",
        "weapon_in_narrative",
        "violence_in_narrative",
        "route_standard",
    )


def test_trespass_with_weapon_is_standard_not_co_response(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, nature="TRESPASS OR UNWANTED", narrative="has a gun"))
    assert d.route == "standard"


# -- time ------------------------------------------------------------------------------


def test_before_the_program_started(durham_2022):
    d = decide(durham_2022, call(ny(2021, 7, 6, 10, 0)))
    assert d.route == "standard"
    assert d.codes == ("program_not_operating", "route_standard")
    assert "2022-06-27" in d.reasons[0].text


def test_rules_as_of_replays_history(durham_2022):
    d = decide(durham_2022, call(ny(2021, 7, 6, 10, 0)), rules_as_of=dt.date(2022, 7, 1))
    assert d.route == "crt"


def test_time_zone_of_input_does_not_matter(durham_2022):
    # 14:30 UTC is 10:30 in Durham (EDT) and 16:30 UTC is 12:30
    for utc_hour in (14, 16):
        local = decide(durham_2022, call(dt.datetime(2022, 10, 4, utc_hour, 30, tzinfo=UTC)))
        assert local.route == "crt"
    tokyo = dt.datetime(2022, 10, 4, 23, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 10:30 EDT
    assert decide(durham_2022, call(tokyo)).route == "crt"
    late = dt.datetime(2022, 10, 4, 21, 30, tzinfo=UTC)  # 17:30 EDT
    assert decide(durham_2022, call(late)).route == "standard"


def test_naive_time_is_refused(durham_2022):
    with pytest.raises(TriageInputError, match="received_at"):
        decide(durham_2022, call(dt.datetime(2022, 10, 4, 10, 0)))


def test_dst_start_and_end(durham_2022):
    # 2022-11-07 (Monday after DST ended): 12:59 UTC is 07:59 EST, 13:00 UTC is 08:00 EST
    assert (
        decide(durham_2022, call(dt.datetime(2022, 11, 7, 12, 59, tzinfo=UTC))).route == "standard"
    )
    assert decide(durham_2022, call(dt.datetime(2022, 11, 7, 13, 0, tzinfo=UTC))).route == "crt"
    # the Friday before (EDT): 08:00 local is 12:00 UTC
    assert decide(durham_2022, call(dt.datetime(2022, 11, 4, 12, 0, tzinfo=UTC))).route == "crt"
    assert (
        decide(durham_2022, call(dt.datetime(2022, 11, 4, 21, 0, tzinfo=UTC))).route == "standard"
    )
    # 2023-03-13 (Monday after DST began): 08:00 EDT is 12:00 UTC
    assert (
        decide(durham_2022, call(dt.datetime(2023, 3, 13, 11, 59, tzinfo=UTC))).route == "standard"
    )
    assert decide(durham_2022, call(dt.datetime(2023, 3, 13, 12, 0, tzinfo=UTC))).route == "crt"


def test_citywide_switch_on_2023_10_23(durham_2023):
    beat_outside_pilot = "311"
    sunday_before = ny(2023, 10, 22, 10, 0)
    monday_before_close = ny(2023, 10, 20, 18, 0)  # Friday 18:00: pilot hours over
    switch_day = ny(2023, 10, 23, 19, 59)  # Monday 19:59: new hours, whole city
    d = decide(durham_2023, call(sunday_before, beat=beat_outside_pilot))
    assert d.route == "standard" and "crt_closed_hours" in d.codes
    assert decide(durham_2023, call(monday_before_close)).route == "standard"
    assert decide(durham_2023, call(switch_day, beat=beat_outside_pilot)).route == "crt"
    assert decide(durham_2023, call(ny(2023, 10, 23, 20, 0))).route == "standard"
    # before the switch, a non-pilot beat on a weekday goes to call diversion
    d = decide(durham_2023, call(ny(2023, 10, 20, 10, 0), beat=beat_outside_pilot))
    assert d.route == "ccd"
    # 2023 rules replayed onto an old call: as if citywide every day
    d = decide(
        durham_2023,
        call(ny(2021, 7, 4, 19, 0), beat=beat_outside_pilot),
        rules_as_of=dt.date(2024, 1, 1),
    )
    assert d.route == "crt"


def test_2023_program_works_on_holidays(durham_2023):
    christmas = ny(2023, 12, 25, 12, 0)
    assert decide(durham_2023, call(christmas, beat="311")).route == "crt"


def test_holiday_closure_from_the_program_file(tmp_path):
    text = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()
    text = text.replace('outline = "durham/', f'outline = "{BUILTIN_DIR}/durham/')
    text = text.replace(
        '{ from = 2022-06-27, area = "pilot",',
        '{ from = 2022-06-27, closed_on_holidays = true, area = "pilot",',
    )
    path = tmp_path / "holiday.toml"
    path.write_text(text)
    program = load_program(path)
    labor_day = ny(2022, 9, 5, 10, 0)
    d = decide(program, call(labor_day))
    assert "crt_holiday" in d.codes
    assert d.route == "ccd"  # call diversion was not closed that day
    assert decide(program, call(ny(2022, 9, 6, 10, 0))).route == "crt"


# -- place -----------------------------------------------------------------------------


def test_beat_decides_when_given_even_if_point_disagrees(durham_2022):
    pilot = durham_2022.areas["pilot"].geometry
    inside = pilot.representative_point()
    d = decide(durham_2022, call(TUE_10AM, beat="311", lon=inside.x, lat=inside.y))
    assert d.route == "ccd"


def test_point_decides_without_beat(durham_2022):
    pilot = durham_2022.areas["pilot"].geometry
    inside = pilot.representative_point()
    d = decide(durham_2022, call(TUE_10AM, beat=None, lon=inside.x, lat=inside.y))
    assert d.route == "crt"


def test_point_on_and_near_the_edge(durham_2022):
    pilot = durham_2022.areas["pilot"].geometry
    boundary = pilot.geoms[0].exterior if hasattr(pilot, "geoms") else pilot.exterior
    on_edge = boundary.interpolate(0.37, normalized=True)
    assert (
        decide(durham_2022, call(TUE_10AM, beat=None, lon=on_edge.x, lat=on_edge.y)).route == "crt"
    )
    vertex = boundary.coords[3]
    assert (
        decide(durham_2022, call(TUE_10AM, beat=None, lon=vertex[0], lat=vertex[1])).route == "crt"
    )
    # about two metres outside the outline is outside
    ring = pilot.buffer(0.00002).boundary
    just_outside = ring.interpolate(0.37, normalized=True)
    assert not pilot.intersects(just_outside)
    d = decide(durham_2022, call(TUE_10AM, beat=None, lon=just_outside.x, lat=just_outside.y))
    assert d.route == "ccd" and "crt_outside_area" in d.codes
    # and two metres inside is inside
    inner = pilot.buffer(-0.00002).boundary.interpolate(0.37, normalized=True)
    assert decide(durham_2022, call(TUE_10AM, beat=None, lon=inner.x, lat=inner.y)).route == "crt"


def test_no_location_cannot_go_to_team(durham_2022):
    d = decide(durham_2022, call(TUE_10AM, beat=None))
    assert d.route == "standard"
    assert d.codes == (
        "nature_eligible",
        "crt_location_unknown",
        "ccd_location_unknown",
        "route_standard",
    )


def test_beat_spellings(durham_2022):
    for beat in ("113", " 113 ", "113.0"):
        assert decide(durham_2022, call(TUE_10AM, beat=beat)).route == "crt"


# -- live availability (used by dispatch) ----------------------------------------------


def test_unavailable_team_falls_back_along_the_run_card(durham_2022):
    d = decide(durham_2022, call(TUE_10AM), unavailable={"crt": "all 3 teams are busy"})
    assert d.route == "ccd"
    assert d.codes == ("nature_eligible", "crt_unavailable", "route_ccd")
    assert "all 3 teams are busy" in d.reasons[1].text

"""Program files: built-ins load; every mistake names the file, the key and the problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from heart.domain.program import ProgramError
from heart.domain.program_file import BUILTIN_DIR, builtin_program_names, load_program

BASE = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()


def test_builtin_programs_load(durham_2022, durham_2023):
    assert builtin_program_names() == ["durham-heart-2022", "durham-heart-2023"]
    assert durham_2022.areas["pilot"].beats == frozenset(
        ["111", "112", "113", "122", "213", "214", "222", "223", "411", "511", "512", "513"]
    )
    assert "SSA" in durham_2022.areas["city"].beats and "999" not in durham_2022.areas["city"].beats
    assert durham_2023.name == "durham-heart-2023"
    assert durham_2023.natures == durham_2022.natures  # inherited
    assert len(durham_2023.units["crt"].periods) == 2
    assert any("2023-10-23" in s for s in durham_2023.sources)


def test_outlines_are_small(durham_2022):
    import shapely

    for area in durham_2022.areas.values():
        assert shapely.get_num_coordinates(area.geometry) <= 60


def test_rules_version_is_a_content_hash(tmp_path, durham_2022):
    shutil.copytree(BUILTIN_DIR, tmp_path / "programs")
    copy = tmp_path / "programs" / "durham-heart-2022.toml"
    assert load_program(copy).rules_version == durham_2022.rules_version  # same bytes, same version
    copy.write_text(BASE.replace('end = "17:00"', 'end = "17:30"', 1))
    assert load_program(copy).rules_version != durham_2022.rules_version
    copy.write_text(BASE)
    outline = tmp_path / "programs" / "durham" / "pilot-2022.geojson"
    outline.write_text(outline.read_text().replace("78.8", "78.7", 1))  # data counts too
    assert load_program(copy).rules_version != durham_2022.rules_version
    assert re.fullmatch(r"durham-heart-2022@[0-9a-f]{12}", durham_2022.rules_version)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('outline = "durham/', f'outline = "{BUILTIN_DIR}/durham/'))
    return path


@pytest.mark.parametrize(
    "old, new, key, problem",
    [
        (
            'timezone = "America/New_York"',
            'timezone = "Mars/Olympus"',
            "program.timezone",
            "unknown time zone",
        ),
        (
            'category = "welfare_check"',
            'category = "welfare"',
            "natures[4].category",
            "unknown category",
        ),
        (
            'days = "Mon-Fri", start = "08:00"',
            'days = "Mon-Fry", start = "08:00"',
            "units.crt.periods[0].hours[0].days",
            "unknown day",
        ),
        (
            'start = "08:00", end = "17:00" }] },\n]\n\n[units.ccd]',
            'start = "8am", end = "17:00" }] },\n]\n\n[units.ccd]',
            "units.crt.periods[0].hours[0].start/end",
            "not HH:MM",
        ),
        ('area = "pilot"', 'area = "downtown"', "units.crt.periods[0].area", "unknown area"),
        (
            'when = "weapon_without_violence"',
            'when = "sometimes"',
            "run_card[0].when",
            "must be one of",
        ),
        ('unit = "crt"', 'unit = "crt2"', "run_card[1].unit", "unknown unit"),
        ('kind = "team"', 'kind = "van"', "units.crt.kind", "must be one of"),
        (
            '{ from = 2022-06-27, area = "pilot"',
            '{ from = "June", area = "pilot"',
            "units.crt.periods[0].from",
            "must be a date",
        ),
        ("scope = 5", "scope = 50", "exclusions.negation.scope", "between 1 and 12"),
        ("[areas.pilot]", '[areas.pilot]\ncolour = "red"', "areas.pilot.colour", "unknown key"),
        (
            'code = "INDECENT"\ncategory',
            'code = "CRISIS"\ncategory',
            "natures[8].code",
            "listed twice",
        ),
        (
            'outline = "durham/pilot-2022.geojson"',
            'outline = "durham/nowhere.geojson"',
            "areas.pilot.outline",
            "cannot read",
        ),
    ],
)
def test_mistakes_name_file_key_and_problem(tmp_path, old, new, key, problem):
    assert old in BASE, old
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ProgramError) as err:
        load_program(path)
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert f": {key}: " in message, message
    assert problem in message, message


def test_not_toml(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[program\nname=")
    with pytest.raises(ProgramError, match=r"x\.toml: not valid TOML"):
        load_program(path)


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ProgramError, match="built-in: durham-heart-2022, durham-heart-2023"):
        load_program("springfield")


def test_overlapping_periods_are_rejected(tmp_path):
    text = BASE.replace(
        '{ from = 2022-06-27, area = "pilot", hours = [{ days = "Mon-Fri", start = "08:00", end = "17:00" }] },\n]',
        '{ from = 2022-06-27, area = "pilot", hours = [{ days = "Mon-Fri", start = "08:00", end = "17:00" }] },\n'
        '  { from = 2023-01-01, area = "city", hours = [{ days = "daily", start = "08:00", end = "20:00" }] },\n]',
        1,
    )
    with pytest.raises(ProgramError, match=r"units\.crt\.periods: periods overlap"):
        load_program(_write(tmp_path, text))


def test_circular_extends(tmp_path):
    (tmp_path / "a.toml").write_text('[program]\nextends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('[program]\nextends = "a.toml"\n')
    with pytest.raises(ProgramError, match="circular"):
        load_program(tmp_path / "a.toml")


def test_exact_beat_layer(shared_dir, durham_2022):
    layer = shared_dir / "data/durham/police_beats_2022.geojson"
    exact = load_program("durham-heart-2022", beat_layer=layer)
    assert exact.rules_version != durham_2022.rules_version  # the layer is part of the rules
    assert exact.areas["pilot"].source == str(layer.resolve())
    assert exact.areas["pilot"].geometry.area < durham_2022.areas["pilot"].geometry.area * 1.2


@pytest.mark.parametrize("program", ["durham_2022", "durham_2023"])
def test_which_unit_serves_which_route(program, request):
    p = request.getfixturevalue(program)
    assert p.unit_for_route("crt") == "crt"
    assert p.unit_for_route("ccd") == "ccd"
    assert p.unit_for_route("co_response") == "co_response"
    assert p.unit_for_route("standard") is None  # the fallback: no unit of the program
    assert p.team_unit_for_route("crt") == "crt"
    assert p.team_unit_for_route("ccd") is None  # a phone unit
    assert p.team_unit_for_route("co_response") is None  # clinician with police, not a team
    assert p.team_unit_for_route("standard") is None
    assert p.team_unit == "crt"
    assert p.team_route == "crt"
    assert p.field_routes() == frozenset({"crt", "co_response"})


# --- [no_team_free]: the dispatch policy live intake and the simulator share -------------


def _with_policy(tmp_path, body: str):
    import shutil

    from heart.domain.program_file import BUILTIN_DIR, load_program

    folder = tmp_path / "programs"
    if not folder.exists():
        shutil.copytree(BUILTIN_DIR, folder)
    path = folder / "p.toml"
    path.write_text(
        f'[program]\nextends = "durham-heart-2023.toml"\nname = "x"\n\n[no_team_free]\n{body}\n'
    )
    return load_program(path)


def test_no_team_free_policy_is_read_and_checked(tmp_path):
    import pytest

    from heart.domain.program import ProgramError

    p = _with_policy(
        tmp_path,
        'action = "hold"\nhold_minutes = 10\nhold_minutes_by_route = { crt = 15 }\n'
        'hold_minutes_by_priority = { "1" = 0 }\nqueue = "priority"\n'
        'priority_order = ["1", "2", 3]',
    )
    policy = p.no_team_free
    assert policy.hold_for(route="crt", priority="2") == 15
    assert policy.hold_for(route="crt", priority=" 1 ") == 0
    assert policy.hold_for(route="co_response", priority=None) == 10
    assert policy.queue_rank("3") == 2 and policy.queue_rank("9") == 3
    assert "hold up to 10 min" in policy.describe()
    for body, problem in [
        ('action = "wait"', "no_team_free.action: must be one of"),
        ('action = "fall_back"\nhold_minutes = 5', 'action is "fall_back"'),
        ('action = "hold"\nhold_minutes = -1', "hold_minutes: must be a number of minutes"),
        ('action = "hold"\nhold_minutes_by_route = { ccd = 5 }', "not a route served by field"),
        ('action = "hold"\nqueue = "priority"', "needs the priorities"),
        ('action = "hold"\nwhen = 1', "unknown key"),
    ]:
        with pytest.raises(ProgramError, match=problem):
            _with_policy(tmp_path, body)

"""Address parsing and matching on messy input (heart.geocoding): CAD shorthand, punctuation,
spelled-out words, typos, units, a city/state/zip tail, and house numbers the file does
not have (never placed on a neighbour's door)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heart.geocoding import AddressFile, parse_address, query_text

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "address_points.csv"


@pytest.fixture(scope="module")
def points():
    return AddressFile.load(FIXTURE)


@pytest.mark.parametrize(
    ("text", "number", "street", "unit"),
    [
        ("123 W MAIN ST APT 4", "123", "w main st", "apt 4"),
        ("123 w. main street", "123", "w main st", ""),
        ("123 West Main Street, Durham NC 27701", "123", "w main st", ""),
        ("123 W Main St #4", "123", "w main st", "apt 4"),
        ("123 W Main St Unit 4", "123", "w main st", "apt 4"),
        ("  510   HOLLOWAY ST  ", "510", "holloway st", ""),
        ("", "", "", ""),
    ],
)
def test_parse_cad_shorthand(text, number, street, unit):
    p = parse_address(text)
    assert (p.number, p.street, p.unit) == (number, street, unit)


@pytest.mark.parametrize(
    "typed",
    [
        "123 W MAIN ST APT 4",
        "123 w. main street",
        "123 West Main Street, Durham NC 27701",
        "123 W Main St #4",
        "123 w main",  # no street type
    ],
)
def test_messy_spellings_find_the_same_point(points, typed):
    best = points.search(typed)[0]
    assert best.label == "123 W Main St"
    assert (best.lon, best.lat) == (-78.9012, 35.9961)


def test_exact_is_one_and_typo_is_close_but_less(points):
    assert points.search("123 W Main St")[0].score == 1.0
    typo = points.search("123 W Mian St")
    assert typo and typo[0].label == "123 W Main St" and 0.9 <= typo[0].score < 1
    assert points.search("510 Hollowya Street")[0].label == "510 Holloway St"


def test_the_direction_tells_two_streets_apart(points):
    assert points.search("123 E MAIN ST")[0].label == "123 E Main St"
    assert points.search("123 WEST MAIN ST")[0].label == "123 W Main St"


@pytest.mark.parametrize(
    "typed", ["9999 W MAIN ST", "1234 W Main St", "12 W Main St", "124 W Main St"]
)
def test_numbers_out_of_range_find_nothing(points, typed):
    """A house number the file does not have is not placed at a close number."""
    assert points.search(typed) == []


def test_unknown_streets_and_noise_find_nothing(points):
    assert points.search("123 Nowhere Blvd") == []
    assert points.search("!!!") == []
    assert points.search("   ") == []


def test_services_get_the_address_without_its_unit():
    assert query_text("123 W MAIN ST APT 4, Durham NC") == "123 W MAIN ST Durham NC"
    assert query_text("123 W Main St #4") == "123 W Main St"

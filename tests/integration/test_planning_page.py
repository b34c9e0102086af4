"""The analyst page renders the planning report folder and serves only its charts."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

REPORT = {
    "eligibility": {
        "programs": [
            {
                "program": "durham-heart-2023",
                "rules_as_of": "2023-10-23",
                "totals": {"calls": 10, "eligible": 8, "team": 5},
            }
        ]
    },
    "simulate": {
        "teams": 2,
        "hours": "daily 08:00-20:00",
        "share_reached": {"mean": 0.5, "low": 0.45, "high": 0.55, "n": 3},
        "response_minutes": {
            "p50": {"mean": 7.0, "low": 6.5, "high": 7.5, "n": 3},
            "p90": {"mean": 15.0, "low": 14.0, "high": 16.0, "n": 3},
        },
        "utilisation": {"mean": 0.3, "low": 0.25, "high": 0.35, "n": 3},
        "missed_busy": {"mean": 4, "low": 3, "high": 5, "n": 3},
    },
}


@pytest.fixture
def analyst(person):
    client = Client()
    client.force_login(person("analyst"))
    return client


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "eligibility_call_types.png").write_bytes(b"\x89PNG fake")
    with override_settings(HEART_PLAN_REPORT_DIR=str(tmp_path)):
        yield tmp_path


def test_page_shows_tables_and_charts(folder, analyst):
    response = analyst.get("/plan/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "durham-heart-2023" in html
    assert "daily 08:00-20:00" in html
    assert "/plan/charts/eligibility_call_types.png" in html
    chart = analyst.get("/plan/charts/eligibility_call_types.png")
    assert chart.status_code == 200
    assert b"".join(chart.streaming_content).startswith(b"\x89PNG")


def test_only_listed_charts_are_served(folder, analyst):
    assert analyst.get("/plan/charts/report.json").status_code == 404
    assert analyst.get("/plan/charts/..%2Freport.json").status_code == 404


def test_missing_report_says_how_to_make_one(tmp_path, analyst):
    with override_settings(HEART_PLAN_REPORT_DIR=str(tmp_path)):
        response = analyst.get("/plan/")
    assert response.status_code == 200
    assert "heart plan report" in response.content.decode()


@pytest.mark.parametrize("role", ["dispatcher", "responder", "care_navigator", "call_taker"])
def test_only_report_readers_see_the_page(folder, person, role):
    client = Client()
    client.force_login(person(role))
    assert client.get("/plan/").status_code == 403
    assert client.get("/plan/charts/eligibility_call_types.png").status_code == 403


def test_anonymous_is_sent_to_sign_in(folder):
    response = Client().get("/plan/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

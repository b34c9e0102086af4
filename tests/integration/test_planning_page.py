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


def test_missing_report_says_whom_to_ask_without_a_path_or_a_command(tmp_path, analyst):
    # issue 13: the page once told analysts to run `heart plan report … --out <server path>`
    with override_settings(HEART_PLAN_REPORT_DIR=str(tmp_path)):
        response = analyst.get("/plan/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No planning report has been published yet" in html and "administrator" in html
    assert str(tmp_path) not in html and "heart plan" not in html and "--out" not in html


@pytest.mark.parametrize("role", ["dispatcher", "responder", "care_navigator", "call_taker"])
def test_only_report_readers_see_the_page(folder, person, role):
    client = Client()
    client.force_login(person(role))
    assert client.get("/plan/").status_code == 403
    assert client.get("/plan/charts/eligibility_call_types.png").status_code == 403


def test_anonymous_is_sent_to_sign_in(folder):
    response = Client().get("/plan/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_shows_the_held_out_validation_first_and_labels_in_sample(tmp_path, analyst):
    held = {
        "summary": {
            "fit": {"from": "2024-08-18", "until": "2025-04-01", "calls": 772},
            "test": {"from": "2025-04-01", "until": "2025-07-01", "calls": 1342},
            "teams": 3,
        },
        "target": "simulated p50 and p90 within ±15% of the real ones",
        "caps_and_drops": ["real request -> dispatch (test period): no cap"],
        "by_teams": [
            {
                "teams": 3,
                "intervals": {
                    "request_to_dispatch": {
                        "label": "request -> dispatch",
                        "real": {"p50": 12.0, "p90": 58.0, "mean": 25.8, "n": 1309},
                        "simulated": {"p50": 11.0, "p90": 42.9, "mean": 18.8, "n": 9000},
                        "ks": 0.091,
                        "within_target": False,
                    }
                },
            }
        ],
    }
    report = {"held_out_validation": held, "in_sample_validation": {"by_teams": []}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "qq_request_to_dispatch_3teams.png").write_bytes(b"\x89PNG fake")
    with override_settings(HEART_PLAN_REPORT_DIR=str(tmp_path)):
        html = analyst.get("/plan/").content.decode()
    assert html.index("Held-out validation") < html.index("In-sample comparison")
    assert "1342 later calls the fit never saw" in html
    assert "/plan/charts/qq_request_to_dispatch_3teams.png" in html
    assert "no cap" in html


def test_an_unreadable_report_is_logged_not_shown(tmp_path, analyst, caplog):
    (tmp_path / "report.json").write_text("{not json")
    with override_settings(HEART_PLAN_REPORT_DIR=str(tmp_path)):
        html = analyst.get("/plan/").content.decode()
    assert "could not be read" in html and str(tmp_path) not in html
    assert any(str(tmp_path) in r.getMessage() for r in caplog.records)

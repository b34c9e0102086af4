"""Reports from the live database: the records adapter (heart.reports.selectors) gives the
measures the hand-computed figures, the summary API takes a period and counts backups
apart, the staff page and its CSVs are for the reporting roles, `heart report
--database` writes the report folder, and overrides are kept on the event stream."""

from __future__ import annotations

import csv
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from heart.accounts.actors import SYSTEM
from heart.calls.models import Call, CcdOutcome, Disposition, TimelineEvent
from heart.domain.metrics import Period, compute
from heart.events.models import Event
from heart.reports import config
from heart.reports.selectors import live_data

NY = ZoneInfo("America/New_York")
K = TimelineEvent.Kind
pytestmark = pytest.mark.django_db


def ny(*args, fold=0):
    return dt.datetime(*args, tzinfo=NY, fold=fold)


def make_call(
    received,
    route="crt",
    *,
    codes=("nature_eligible", "route_crt"),
    source="cad",
    parent=None,
    **kw,
):
    return Call.objects.create(
        received_at=received,
        nature=kw.pop("nature", "CRISIS"),
        route=route,
        reasons=[{"code": c, "text": c} for c in codes],
        rules_version="durham-heart-2023@test",
        program="durham-heart-2023",
        source=source,
        parent=parent,
        beat=kw.pop("beat", "111"),
        lon=kw.pop("lon", -78.8986),
        lat=kw.pop("lat", 35.9940),
        address=kw.pop("address", ""),
        narrative=kw.pop("narrative", ""),
    )


def timeline(c, kind, at, team=None):
    TimelineEvent.objects.create(call=c, kind=kind, at=at, actor_label="test", team=team, text=kind)


def dispose(c, outcome, at, team=None, **kw):
    Disposition.objects.create(
        call=c, team=team, outcome=outcome, recorded_at=at, recorded_by_label="test", **kw
    )


@pytest.fixture
def november(staffed_team):
    """November 2024 (DST ends on the 3rd) with calls on both month boundaries."""
    team = staffed_team("HEART-R1", now=ny(2024, 11, 20, 12))
    # October 31 23:50 EDT: an October call although it is 1 November in UTC
    a = make_call(ny(2024, 10, 31, 23, 50))
    timeline(a, K.DISPATCHED, ny(2024, 10, 31, 23, 52), team)
    timeline(a, K.ON_SCENE, ny(2024, 11, 1, 0, 20), team)
    dispose(a, "resolved_on_scene", ny(2024, 11, 1, 1, 0), team)
    # B: 30 Nov 23:55, on scene 1 Dec 00:25 (30 min), cleared 01:25 (60 min)
    b = make_call(ny(2024, 11, 30, 23, 55))
    timeline(b, K.DISPATCHED, ny(2024, 11, 30, 23, 58), team)
    timeline(b, K.ON_SCENE, ny(2024, 12, 1, 0, 25), team)
    timeline(b, K.CLEARED, ny(2024, 12, 1, 1, 25), team)
    dispose(b, "resolved_on_scene", ny(2024, 12, 1, 1, 25), team)
    # C: 01:30 EDT -> on scene 01:10 EST: 40 elapsed minutes
    c = make_call(ny(2024, 11, 3, 1, 30, fold=0), nature="WELFARE CHECK")
    timeline(c, K.DISPATCHED, ny(2024, 11, 3, 1, 35, fold=0), team)
    timeline(c, K.ON_SCENE, ny(2024, 11, 3, 1, 10, fold=1), team)
    timeline(c, K.CLEARED, ny(2024, 11, 3, 1, 40, fold=1), team)
    dispose(c, "transported", ny(2024, 11, 3, 1, 40, fold=1), team)
    # D: crisis line (team closed): resolved by phone
    d = make_call(
        ny(2024, 11, 3, 1, 45, fold=1),
        "ccd",
        codes=("nature_eligible", "crt_closed_hours", "route_ccd"),
    )
    CcdOutcome.objects.create(
        call=d, outcome="resolved_by_phone", recorded_at=ny(2024, 11, 3, 2, 0)
    )
    # E: weapon: not eligible
    make_call(
        ny(2024, 11, 12, 10), "standard", codes=("nature_eligible", "weapon_flag", "route_standard")
    )
    # H: no team free (fallback appended its code)
    make_call(
        ny(2024, 11, 14, 14), "standard", codes=("nature_eligible", "route_crt", "crt_unavailable")
    )
    # I: overridden by a dispatcher
    i = make_call(ny(2024, 11, 15, 15))
    Event.objects.create(
        name="dispatch.override",
        at=ny(2024, 11, 15, 15, 2),
        call_id=i.pk,
        payload={"call_id": i.pk, "team_id": None, "route": "crt"},
    )
    # backups: one on B after midnight (counted with B, in November), one on A (October)
    make_call(
        ny(2024, 12, 1, 0, 40),
        "standard",
        codes=("backup_request",),
        source="backup",
        parent=b,
        nature="POLICE BACKUP REQUEST",
    )
    make_call(
        ny(2024, 11, 1, 0, 30),
        "standard",
        codes=("backup_request",),
        source="backup",
        parent=a,
        nature="POLICE BACKUP REQUEST",
    )
    return {"team": team, "calls": {"a": a, "b": b, "c": c, "d": d, "i": i}}


def test_the_database_gives_the_hand_computed_figures(november, program):
    period = Period.month(2024, 11, "America/New_York")
    data = live_data(period, program, now=ny(2024, 12, 5))
    f = compute(data, period, config.settings_for_program())
    assert f.calls_total == 6  # B C D E H I (A is October's; backups are apart)
    assert f.by_route == {"crt": 3, "ccd": 1, "standard": 2}
    assert f.eligible == 5 and f.reached == 2  # B C
    assert f.missed_by_cause["out_of_hours"] == 1  # D
    assert f.missed_by_cause["no_team_free"] == 1  # H
    assert f.missed_by_cause["override"] == 1  # I
    assert f.response_minutes.as_dict() == {"mean": 35.0, "p50": 35.0, "p90": 39.0, "n": 2}
    assert f.on_scene_minutes.as_dict() == {"mean": 45.0, "p50": 45.0, "p90": 57.0, "n": 2}
    assert f.dispositions == {"resolved_on_scene": 1, "transported": 1}
    assert f.crisis_line == {"resolved_by_phone": 1}
    assert f.backup_requests == 1 and f.backup_share == 0.5
    assert f.overrides == 1
    assert f.hour_of_week[(6, 1)] == 2
    # the staffed shift of the fixture: 20 Nov 10:00 to 20:00 (10 h)
    assert f.team_hours == 10.0
    # no personal data in any record: areas are H3 cells, never points
    assert all(a and len(a) == 15 for a in data.calls.get_column("area").to_list())


def test_summary_api_takes_a_period_and_counts_backups_apart(november, person):
    client = Client()
    client.force_login(person("analyst"))
    r = client.get("/api/reports/summary?month=2024-11")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["calls_total"] == 6 and body["backup_requests"] == 1
    assert body["by_route"] == {"crt": 3, "ccd": 1, "standard": 2}  # no backup in "standard"
    assert body["period"]["label"] == "2024-11"
    r = client.get("/api/reports/summary?from=2024-10-31&to=2024-10-31")
    assert r.json()["calls_total"] == 1 and r.json()["backup_requests"] == 1
    # old callers: no period = all time, with the keys they read
    everything = client.get("/api/reports/summary").json()
    assert everything["calls_total"] == 7 and everything["backup_requests"] == 2
    assert {"by_route", "by_state", "dispositions"} <= set(everything)
    for bad, field in (
        ("month=2024-13", "month"),
        ("from=2024-11-01", "to"),
        ("from=2024-11-02&to=2024-11-01", "to"),
    ):
        r = client.get(f"/api/reports/summary?{bad}")
        assert r.status_code == 422 and field in r.content.decode(), bad


def test_staff_reports_page_and_csv_for_reporting_roles(november, person):
    anonymous = Client().get("/staff/reports/?month=2024-11")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
    dispatcher = Client()
    dispatcher.force_login(person("dispatcher"))
    assert dispatcher.get("/staff/reports/?month=2024-11").status_code == 403
    for role in ("analyst", "supervisor"):
        client = Client()
        client.force_login(person(role))
        page = client.get("/staff/reports/?from=2024-11-01&to=2024-11-30")
        assert page.status_code == 200
        text = page.content.decode()
        assert "Reports" in text and "35.0" in text  # the median response
    client = Client()
    client.force_login(person("analyst"))
    r = client.get("/staff/reports/data/calls_by_route.csv?month=2024-11")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(r.content.decode().splitlines()))
    assert {row["route"]: row["calls"] for row in rows}["crt"] == "3"
    published = client.get("/staff/reports/data/calls_by_route.csv?month=2024-11&public=1")
    rows = list(csv.DictReader(published.content.decode().splitlines()))
    assert {row["route"]: row["note"] for row in rows}["crt"] == "suppressed"
    assert client.get("/staff/reports/?from=nope").status_code == 422
    assert client.get("/staff/reports/data/nope.csv?month=2024-11").status_code == 404


def test_heart_report_from_the_database_writes_the_folder(november, tmp_path, settings):
    from heart.cli import main

    out = tmp_path / "2024-11"
    assert (
        main(
            [
                "report",
                "--month",
                "2024-11",
                "--database",
                "--out",
                str(out),
                "--no-pdf",
                "--police-minutes",
                "40",
                "--police-minutes-source",
                "test estimate",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["period"]["label"] == "2024-11"
    assert summary["calls_total"] is None  # 6 calls: below 10, hidden
    assert summary["police_hours_saved"]["minutes_per_call"] == 40.0
    assert (out / "report.html").exists() and (out / "ytd.json").exists()
    assert (out / "data" / "calls_by_hour_of_week.csv").exists()
    assert main(["report", "--month", "2024-99", "--database", "--out", str(out)]) == 2


def test_overrides_are_kept_on_the_event_stream(db):
    from django.db import transaction

    from heart.events.bus import emit

    with transaction.atomic():
        stored = emit(
            "dispatch.override",
            {"call_id": 7, "team_id": 3, "route": "standard"},
            actor=SYSTEM,
            call_id=7,
        )
    assert stored is not None  # the reports app subscribes, so the event is stored
    assert Event.objects.filter(name="dispatch.override", call_id=7).exists()

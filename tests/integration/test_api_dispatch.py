"""Dispatch over HTTP: EIDO in -> recommended team assigned -> statuses -> backup ->
cleared with a disposition; conflicts are 409 with a message; AVL batches."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.roles import RESPONDER
from heart.calls.models import Call
from heart.teams.models import Position
from tests.integration.conftest import DURHAM
from tests.integration.test_api_intake import eido

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def crew(person, staffed_team):
    """A staffed team whose clinician is `me`, plus a dispatcher; both signed in."""
    me = person(RESPONDER, "clinician")
    members = [
        (me, "clinician"),
        (person(RESPONDER, "peer_support"), "peer_support"),
        (person(RESPONDER, "emt"), "emt"),
    ]
    team = staffed_team("HEART-1", DURHAM[0] + 0.01, DURHAM[1], members=members)
    responder, dispatcher = Client(), Client()
    responder.force_login(me)
    dispatcher.force_login(person("dispatcher"))
    return team, responder, dispatcher


def test_full_flow_over_http(crew):
    team, responder, dispatcher = crew
    # a call at a time HEART operates, so it is routed crt and a team is recommended
    call = post(
        dispatcher,
        "/api/calls",
        {
            "cad_incident_id": "CAD-77",
            "received_at": "2024-03-05T10:00:00-05:00",
            "nature": "CRISIS",
            "lon": DURHAM[0],
            "lat": DURHAM[1],
        },
    ).json()
    assert call["route"] == "crt", call
    assert call["recommended"]["team_id"] == team.pk

    rec = dispatcher.get(f"/api/calls/{call['id']}/recommendation").json()
    assert rec["picks"][0]["team_id"] == team.pk and rec["picks"][0]["team"] == "HEART-1"

    r = post(dispatcher, f"/api/calls/{call['id']}/assign", {"team_id": team.pk})
    assert r.status_code == 200, r.content
    again = post(dispatcher, f"/api/calls/{call['id']}/assign", {"team_id": team.pk})
    assert again.status_code == 409 and "already assigned to HEART-1" in again.json()["detail"]

    me = responder.get("/api/me").json()
    assert me["call_id"] == call["id"] and me["team"]["status"] == "dispatched"
    assert responder.get(f"/api/calls/{call['id']}").status_code == 200

    bad = post(responder, f"/api/teams/{team.pk}/status", {"status": "clearing"})
    assert bad.status_code == 409 and "cannot become clearing" in bad.json()["detail"]
    for s in ("en_route", "on_scene"):
        r = post(responder, f"/api/teams/{team.pk}/status", {"status": s})
        assert r.status_code == 200 and r.json()["status"] == s

    b = post(responder, f"/api/teams/{team.pk}/backup", {"note": "escalating"})
    assert b.status_code == 201, b.content
    backup = Call.objects.get(pk=b.json()["backup_call_id"])
    assert backup.parent_id == call["id"] and backup.priority == "1"

    missing = post(responder, f"/api/teams/{team.pk}/clear", {"outcome": "referred"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["path"] == "referred_to"
    done = post(
        responder,
        f"/api/teams/{team.pk}/clear",
        {
            "outcome": "resolved_on_scene",
            "consent_follow_up": True,
            "contact_phone": "919-555-0199",
        },
    )
    assert done.status_code == 200, done.content

    detail = dispatcher.get(f"/api/calls/{call['id']}").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == [
        "received",
        "triaged",
        "recommended",
        "dispatched",
        "en_route",
        "on_scene",
        "backup_requested",
        "clearing",
        "disposition",
        "cleared",
        "closed",
    ]
    assert detail["state"] == "closed"
    assert dispatcher.get("/api/teams").json()["items"][0]["status"] == "available"


def test_avl_batch_over_http(crew):
    team, responder, _ = crew
    now = timezone.now()
    fixes = [
        {"lon": DURHAM[0], "lat": DURHAM[1] + i * 0.001, "recorded_at": now.isoformat()}
        for i in range(3)
    ]
    r = post(responder, "/api/avl", {"fixes": fixes})
    assert r.status_code == 200 and r.json() == {"team_id": team.pk, "stored": 3}
    assert Position.objects.filter(team=team).count() == 3
    bad = post(responder, "/api/avl", {"fixes": [{**fixes[0], "lat": 91}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "fixes[0].lat"
    naive = post(
        responder, "/api/avl", {"fixes": [{**fixes[0], "recorded_at": "2024-03-05T10:00"}]}
    )
    assert naive.status_code == 422
    assert Position.objects.filter(team=team).count() == 3


def test_avl_client_token_needs_team(crew):
    from heart.accounts.services import clear_token_cache, create_api_client

    team, _, _ = crew
    clear_token_cache()
    _, token = create_api_client(name="avl-gw", scopes=["avl"])
    gw = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    fix = {"lon": DURHAM[0], "lat": DURHAM[1], "recorded_at": timezone.now().isoformat()}
    assert post(gw, "/api/avl", {"fixes": [fix]}).status_code == 422
    assert post(gw, "/api/avl", {"team_id": team.pk, "fixes": [fix]}).status_code == 200
    # an AVL-only client cannot deliver calls
    assert post(gw, "/api/calls/eido", eido()).status_code == 403


def test_ccd_queue_and_outcome_over_http(person):
    clin = Client()
    clin.force_login(person("crisis_clinician"))
    c = Call.objects.create(
        received_at=timezone.now(), nature="CRISIS", route="ccd", rules_version="v", program="p"
    )
    q = clin.get("/api/ccd/queue").json()
    assert [x["id"] for x in q["items"]] == [c.pk] and q["total"] == 1
    bad = post(clin, f"/api/calls/{c.pk}/ccd-outcome", {"outcome": "nap"})
    assert bad.status_code == 422 and "outcome" in bad.json()["detail"]
    ok = post(clin, f"/api/calls/{c.pk}/ccd-outcome", {"outcome": "resolved_by_phone"})
    assert ok.status_code == 200 and ok.json()["state"] == "closed"
    assert clin.get("/api/ccd/queue").json()["items"] == []
    assert post(clin, f"/api/calls/{c.pk}/ccd-outcome", {"outcome": "hand_back"}).status_code == 409


def test_unknown_ids_are_404(person):
    d = Client()
    d.force_login(person("dispatcher"))
    assert d.get("/api/calls/999999").status_code == 404
    assert post(d, "/api/calls/999999/assign", {"team_id": 1}).status_code == 404
    assert post(d, "/api/teams/999999/status", {"status": "available"}).status_code == 404


def test_session_writes_need_csrf(person):
    c = Client(enforce_csrf_checks=True)
    c.force_login(person("dispatcher"))
    r = post(c, "/api/calls", {"received_at": "2024-03-05T10:00:00-05:00", "nature": "CRISIS"})
    assert r.status_code == 403
    assert Call.objects.count() == 0

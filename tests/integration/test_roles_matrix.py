"""Every role against every endpoint (the matrix in docs/roles.md).

Allowed: the response is neither 401 nor 403 (it may still be 409/422 for the state
the fixture leaves things in). Denied: 403 for a signed-in person, 401 without one.
Who is allowed is read from the one table (tests/integration/endpoints.py), which
tests/integration/test_endpoint_table.py checks against the URL configuration.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.accounts.roles import (
    ADMIN,
    CRISIS_CLINICIAN,
    DISPATCHER,
    RESPONDER,
    ROLES,
    SUPERVISOR,
)
from heart.calls.models import Call
from heart.teams.services import assign_team, change_status
from tests.integration.conftest import DURHAM
from tests.integration.endpoints import access_for

pytestmark = pytest.mark.django_db

DISPATCH = {DISPATCHER, SUPERVISOR, ADMIN}

REASON = "Keeping the team: police asked for them and the scene is safe."
NOW = "2024-03-05T10:00:00-05:00"
CALL = {"received_at": NOW, "nature": "CRISIS", "lon": DURHAM[0], "lat": DURHAM[1]}

# (name, method, url template, body); the roles allowed come from the one table,
# tests/integration/endpoints.py (MATRIX below adds them)
ROWS = [
    (
        "intake eido",
        "post",
        "/api/calls/eido",
        "EIDO",
    ),
    (
        "intake json",
        "post",
        "/api/calls",
        CALL,
    ),
    # another source's call: only update_any_call (the owner's own case: test_call_sources)
    ("correct call", "put", "/api/calls/{c4}", CALL),
    (
        "list calls",
        "get",
        "/api/calls",
        None,
    ),
    (
        "call detail",
        "get",
        "/api/calls/{c1}",
        None,
    ),
    (
        "recommendation",
        "get",
        "/api/calls/{c4}/recommendation",
        None,
    ),
    (
        "assign",
        "post",
        "/api/calls/{c4}/assign",
        {"team_id": "{t2}"},
    ),
    (
        "co-response",
        "post",
        "/api/calls/{c3}/co-response",
        {"team_id": "{cr}", "police_call_sign": "D1-1"},
    ),
    ("keep team", "post", "/api/calls/{c1}/keep-team", {"override_reason": REASON}),
    ("release team", "post", "/api/calls/{c1}/release", {}),
    ("close call", "post", "/api/calls/{c4}/close", {"disposition": "duplicate"}),
    ("call note", "post", "/api/calls/{c1}/notes", {"text": "Caller called back: calmer now."}),
    ("acknowledge backup", "post", "/api/backups/{b1}/ack", {}),
    ("backup acknowledgement", "get", "/api/backups/{b1}/ack", None),
    ("call overrides", "get", "/api/calls/{c1}/overrides", None),
    ("override report", "get", "/api/reports/overrides", None),
    (
        "ccd queue",
        "get",
        "/api/ccd/queue",
        None,
    ),
    ("ccd claim", "post", "/api/calls/{c2}/ccd-claim", {}),
    ("ccd release", "post", "/api/calls/{c2}/ccd-release", {}),
    (
        "ccd outcome",
        "post",
        "/api/calls/{c2}/ccd-outcome",
        {"outcome": "hand_back"},
    ),
    ("address lookup", "get", "/api/geocode?q=101+City+Hall+Plaza", None),
    (
        "follow-ups",
        "get",
        "/api/follow-ups",
        None,
    ),
    (
        "reports",
        "get",
        "/api/reports/summary",
        None,
    ),
    (
        "teams",
        "get",
        "/api/teams",
        None,
    ),
    (
        "create team",
        "post",
        "/api/teams",
        {"name": "New team"},
    ),
    (
        "create shift",
        "post",
        "/api/teams/{t2}/shifts",
        {
            "starts_at": "{soon_start}",
            "ends_at": "{soon_end}",
            "members": [{"username": "{free}", "discipline": "clinician"}],
        },
    ),
    ("shifts", "get", "/api/shifts", None),
    ("end shift", "post", "/api/shifts/{s2}/end", {}),
    ("training", "get", "/api/training", None),
    (
        "training record",
        "post",
        "/api/training/records",
        {"username": "{free}", "training": "de_escalation", "completed_on": "2024-01-02"},
    ),
    ("staffing page", "get", "/staff/", None),
    (
        "team status",
        "post",
        "/api/teams/{t1}/status",
        {"status": "en_route"},
    ),
    (
        "backup",
        "post",
        "/api/teams/{t1}/backup",
        {},
    ),
    (
        "clear",
        "post",
        "/api/teams/{t1}/clear",
        {"outcome": "refused"},
    ),
    (
        "me",
        "get",
        "/api/me",
        None,
    ),
    (
        "avl",
        "post",
        "/api/avl",
        {"fixes": [{"lon": DURHAM[0], "lat": DURHAM[1], "recorded_at": "{now}"}]},
    ),
    (
        "call-taker form",
        "get",
        "/calls/new",
        None,
    ),
]


MATRIX = [(*row, access_for(row[1], row[2])) for row in ROWS]

# what an allowed role gets, with the state PREPARE leaves: allowed must also mean works
SUCCESS = {
    "intake eido": 201,
    "intake json": 201,
    "create team": 201,
    "create shift": 201,
    "training record": 201,
    "backup": 201,
    "end shift": 204,  # the shift had not started: cancelled
    "call note": 201,
}


def _retriaged(ids):  # c1's route changes under team 1: keeping it needs an override
    Call.objects.filter(pk=ids["c1"]).update(route="standard")


def _on_scene(ids):
    from heart.teams.models import Team

    team = Team.objects.get(pk=ids["t1"])
    for status in ("en_route", "on_scene"):
        team = change_status(team=team, status=status, actor=SYSTEM)


def _backup(ids, *, acknowledged=False):  # team 1 asks for police backup on c1
    from heart.accounts.actors import Actor
    from heart.accounts.services import create_user
    from heart.teams.models import Team
    from heart.teams.services import acknowledge_backup, request_backup

    _on_scene(ids)
    backup = request_backup(team=Team.objects.get(pk=ids["t1"]), actor=SYSTEM)
    ids["b1"] = backup.pk
    if acknowledged:
        seer = create_user(username="ack-dispatcher", password="pw-test-123", role=DISPATCHER)
        acknowledge_backup(backup_call_id=backup.pk, actor=Actor.for_user(seer))


PREPARE = {
    "keep team": _retriaged,
    "clear": _on_scene,
    "acknowledge backup": _backup,
    "backup acknowledgement": lambda ids: _backup(ids, acknowledged=True),
}


@pytest.fixture
def world(person, staffed_team, co_response_unit):
    """Two teams on shift, a call on team 1, a ccd, a co_response and an open crt call, a
    co-response unit on shift, a trained responder on no shift, a shift not started."""

    def make(user):
        now = timezone.now()
        members = None
        if user is not None and user.groups.filter(name=RESPONDER).exists():
            members = [
                (user, "clinician"),
                (person(RESPONDER, "peer_support"), "peer_support"),
                (person(RESPONDER, "emt"), "emt"),
            ]
        t1 = staffed_team("T1", now=now, members=members)
        t2 = staffed_team("T2", now=now)

        def call(route, **kw):
            return Call.objects.create(
                received_at=now, nature="CRISIS", route=route, rules_version="v", program="p", **kw
            )

        c1, c2, c3, c4 = call("crt"), call("ccd"), call("co_response"), call("crt")
        from heart.program_in_force import current_program

        assign_team(call=c1, team=t1, actor=SYSTEM, program=current_program(), now=now)
        clin = person(CRISIS_CLINICIAN)
        cr, _ = co_response_unit("CR", now=now)
        free = person(RESPONDER, "clinician")  # trained, on no shift
        later = staffed_team("T3", now=now + dt.timedelta(days=2))  # its shift starts later
        soon = now + dt.timedelta(days=1)
        return {
            "c1": c1.pk,
            "c2": c2.pk,
            "c3": c3.pk,
            "c4": c4.pk,
            "b1": c1.pk,  # a backup request's call once PREPARE makes one
            "t1": t1.pk,
            "t2": t2.pk,
            "s2": later.shifts.get().pk,
            "cr": cr.pk,
            "free": free.username,
            "soon_start": soon.isoformat(),
            "soon_end": (soon + dt.timedelta(hours=10)).isoformat(),
            "clin": clin.username,
            "now": now.isoformat(),
        }

    return make


def _fill(value, ids):
    if isinstance(value, str):
        out = value
        for k, v in ids.items():
            out = out.replace("{" + k + "}", str(v))
        return int(out) if value in ("{t2}", "{cr}") else out
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _request(client, method, url, body, ids):
    url = _fill(url, ids)
    if body == "EIDO":
        from tests.integration.test_api_intake import eido

        body = eido()
    if method == "get":
        return client.get(url)
    return getattr(client, method)(
        url, data=json.dumps(_fill(body, ids) or {}), content_type="application/json"
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "allowed"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_role_endpoint(role, name, method, url, body, allowed, person, world):
    user = person(role)
    ids = world(user)
    client = Client()
    client.force_login(user)
    if name in PREPARE:  # every role: a denied one is refused in the same state
        PREPARE[name](ids)
    r = _request(client, method, url, body, ids)
    if role in allowed:
        expected = SUCCESS.get(name, 200)
        assert r.status_code == expected, (role, name, r.status_code, r.content[:300])
    else:
        assert r.status_code == 403, (role, name, r.status_code, r.content[:300])


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "allowed"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_anonymous_is_refused(name, method, url, body, allowed, world):
    ids = world(None)
    r = _request(Client(), method, url, body, ids)
    assert r.status_code in (401, 302), (name, r.status_code)  # 302: the form's sign-in


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "allowed"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_intake_client_token_only_intakes(name, method, url, body, allowed, world):
    from heart.accounts.services import clear_token_cache, create_api_client

    clear_token_cache()
    _, token = create_api_client(name="cad", scopes=["intake"])
    ids = world(None)
    r = _request(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), method, url, body, ids)
    if name in ("intake eido", "intake json"):
        assert r.status_code in (200, 201), r.content
    elif name in ("call-taker form", "staffing page"):
        assert r.status_code == 302  # HTML pages need a person
    else:
        assert r.status_code == 403, (name, r.status_code)


def test_responder_cannot_act_for_another_team(person, world):
    user = person(RESPONDER)
    ids = world(user)
    client = Client()
    client.force_login(user)
    r = client.post(
        f"/api/teams/{ids['t2']}/status",
        data=json.dumps({"status": "out_of_service"}),
        content_type="application/json",
    )
    assert r.status_code == 403 and "not on shift with T2" in r.json()["detail"]
    r = client.get(f"/api/calls/{ids['c4']}")
    assert r.status_code == 403

"""/api/care endpoints and /care pages: role x endpoint, audit on every person read,
bad input -> 422 naming the field, nothing changed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.accounts.roles import (
    CARE_NAVIGATOR,
    DISPATCHER,
    RESPONDER,
    ROLES,
    SUPERVISOR,
)
from heart.care import services
from heart.care.models import Person, PersonAudit, Referral
from heart.teams.services import assign_team
from tests.integration.endpoints import access_for
from tests.integration.test_care_support import actor, disposition, make_call

pytestmark = pytest.mark.django_db


# (name, method, url, body, reads a person); the roles allowed come from the one table,
# tests/integration/endpoints.py
ROWS = [
    ("queue", "get", "/api/care/queue", None, True),
    ("task", "get", "/api/care/tasks/{task}", None, True),
    ("take", "post", "/api/care/tasks/{task}/take", {}, True),
    (
        "attempt",
        "post",
        "/api/care/tasks/{task}/attempts",
        {"channel": "phone", "outcome": "unable_to_reach"},
        True,
    ),
    ("consent", "post", "/api/care/encounters/{enc}/consent", {"share": True}, False),
    ("link", "post", "/api/care/encounters/{enc}/person", {"person_id": "{person}"}, False),
    ("search", "get", "/api/care/people?q=maria", None, True),
    ("create person", "post", "/api/care/people", {"name": "New Person"}, False),
    ("person", "get", "/api/care/people/{person}", None, True),
    ("update person", "patch", "/api/care/people/{person}", {"notes": "n"}, False),
    ("timeline", "get", "/api/care/people/{person}/timeline", None, True),
    ("duplicates", "get", "/api/care/people/{person}/duplicates", None, True),
    ("merge", "post", "/api/care/people/{person}/merge", {"duplicate_id": "{dup}"}, False),
    ("audit", "get", "/api/care/people/{person}/audit", None, True),
    ("export", "get", "/api/care/people/{person}/export", None, True),
    ("fhir", "get", "/api/care/people/{person}/fhir", None, True),
    ("erase", "post", "/api/care/people/{dup}/erase", {"legal_basis": "court order"}, False),
    ("providers", "get", "/api/care/providers", None, False),
    (
        "create provider",
        "post",
        "/api/care/providers",
        {"name": "Food Bank", "services": ["food"]},
        False,
    ),
    (
        "referral",
        "post",
        "/api/care/referrals",
        {"provider_id": "{provider}", "service": "mental_health", "person_id": "{person}"},
        False,
    ),
    (
        "referral status",
        "post",
        "/api/care/referrals/{referral}/status",
        {"status": "accepted"},
        False,
    ),
    ("call repeat", "get", "/api/care/calls/{call}/repeat", None, False),
    ("call people", "get", "/api/care/calls/{call}/people", None, True),
    ("sla", "get", "/api/care/reports/sla", None, False),
    (
        "before-after",
        "get",
        "/api/care/reports/before-after",
        None,
        False,
    ),
    ("queue page", "get", "/care/queue", None, True),
    ("task page", "get", "/care/tasks/{task}", None, True),
    ("person page", "get", "/care/people/{person}", None, True),
    ("audit page", "get", "/care/people/{person}/audit", None, True),
    ("fhir download", "get", "/care/people/{person}/fhir", None, True),
    ("provider directory", "get", "/care/providers", None, False),
    ("provider page", "get", "/care/providers/{provider}", None, False),
]


MATRIX = [(*row[:4], access_for(row[1], row[2]), row[4]) for row in ROWS]


@pytest.fixture
def world(person, staffed_team):
    def make(user):
        now = timezone.now()
        nav = actor(person(CARE_NAVIGATOR))
        enc = disposition(at=now - dt.timedelta(hours=2))
        dup = services.create_person(actor=nav, name="Maria Lopez", phone="919 555 0101")
        services.record_consent(encounter_id=enc.pk, actor=nav, share=True)
        prov = services.create_provider(actor=nav, name="Clinic", services=["mental_health"])
        ref = services.create_referral(
            actor=nav, person_id=enc.person_id, provider_id=prov.pk, service="mental_health"
        )
        # a live call with a phone encounter linked to the person (crisis line, then team)
        call = make_call(at=now)
        from heart.calls.models import CcdOutcome

        o = CcdOutcome.objects.create(call=call, outcome="send_team", recorded_at=now)
        e2 = services.record_encounter_from_ccd_outcome(ccd_outcome=o, actor=SYSTEM)
        services.link_encounter(encounter_id=e2.pk, person_id=enc.person_id, actor=nav)
        members = None
        if user is not None and user.groups.filter(name=RESPONDER).exists():
            members = [
                (user, "clinician"),
                (person(RESPONDER, "peer_support"), "peer_support"),
                (person(RESPONDER, "emt"), "emt"),
            ]
        team = staffed_team("T1", now=now, members=members)
        from heart.program_in_force import current_program

        assign_team(call=call, team=team, actor=SYSTEM, program=current_program(), now=now)
        dup2 = services.create_person(actor=nav, name="M Lopez", phone="919 555 0177")
        merge = services.merge_people(survivor_id=dup.pk, duplicate_id=dup2.pk, actor=nav)
        return {
            "merge": merge.pk,
            "task": enc.follow_up.pk,
            "enc": enc.pk,
            "person": enc.person_id,
            "dup": dup.pk,
            "provider": prov.pk,
            "referral": ref.pk,
            "call": call.pk,
        }

    return make


def _fill(v, ids):
    if isinstance(v, str):
        for k, x in ids.items():
            if v == "{" + k + "}":
                return x
            v = v.replace("{" + k + "}", str(x))
        return v
    if isinstance(v, dict):
        return {k: _fill(x, ids) for k, x in v.items()}
    return v


def _do(client, method, url, body, ids):
    url = _fill(url, ids)
    if method == "get":
        return client.get(url, REMOTE_ADDR="10.1.2.3")
    return getattr(client, method)(
        url,
        data=json.dumps(_fill(body, ids) or {}),
        content_type="application/json",
        REMOTE_ADDR="10.1.2.3",
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "allowed", "reads"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_role_endpoint(role, name, method, url, body, allowed, reads, person, world):
    user = person(role)
    ids = world(user)
    client = Client()
    client.force_login(user)
    before = PersonAudit.objects.filter(person_id=ids["person"]).count()
    r = _do(client, method, url, body, ids)
    if role in allowed:
        assert r.status_code < 400, (role, name, r.status_code, r.content[:300])
        if reads:  # every read of a person record leaves an audit row, with the IP
            rows = PersonAudit.objects.filter(person_id=ids["person"], actor=user)
            assert (
                rows.count() > 0
                and PersonAudit.objects.filter(person_id=ids["person"]).count() > before
            ), (role, name)
            assert rows.filter(ip="10.1.2.3").exists()
    else:
        assert r.status_code == 403, (role, name, r.status_code, r.content[:300])


@pytest.mark.parametrize(
    ("name", "method", "url", "body", "allowed", "reads"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_anonymous_and_api_clients_are_refused(name, method, url, body, allowed, reads, world):
    from heart.accounts.services import clear_token_cache, create_api_client

    ids = world(None)
    r = _do(Client(), method, url, body, ids)
    assert r.status_code in (401, 302), (name, r.status_code)
    clear_token_cache()
    _, token = create_api_client(name="cad", scopes=["intake", "avl"])
    r = _do(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), method, url, body, ids)
    assert r.status_code in (302, 403), (name, r.status_code)


def test_responder_sees_only_the_person_on_their_current_call(person, world, staffed_team):
    user = person(RESPONDER)
    ids = world(user)
    client = Client()
    client.force_login(user)
    r = client.get(f"/api/care/calls/{ids['call']}/people")
    assert r.status_code == 200 and [p["id"] for p in r.json()] == [ids["person"]]
    other = make_call(at=timezone.now())
    assert client.get(f"/api/care/calls/{other.pk}/people").status_code == 403
    assert client.get(f"/api/care/people/{ids['person']}").status_code == 403


@pytest.mark.parametrize(
    ("method", "url", "body", "path"),
    [
        ("post", "/api/care/people", {"name": "A", "date_of_birth": "2023-02-30"}, "date_of_birth"),
        ("patch", "/api/care/people/{person}", {"date_of_birth": "1990-13-40"}, "date_of_birth"),
        (
            "post",
            "/api/care/referrals",
            {"provider_id": 99999, "service": "food", "person_id": "{person}"},
            "provider_id",
        ),
        (
            "post",
            "/api/care/tasks/{task}/attempts",
            {"channel": "phone", "outcome": "declined", "note": "x" * 5000},
            "note",
        ),
        (
            "post",
            "/api/care/tasks/{task}/attempts",
            {"channel": "fax", "outcome": "declined"},
            "channel",
        ),
        ("post", "/api/care/people/{person}/erase", {"legal_basis": ""}, "legal_basis"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(person, world, method, url, body, path):
    user = person(SUPERVISOR)
    ids = world(None)
    client = Client()
    client.force_login(user)
    snapshot = (
        list(Person.objects.order_by("pk").values()),
        Referral.objects.count(),
        list(Person.objects.get(pk=ids["person"]).encounters.values("consent_share")),
    )
    from heart.care.models import FollowUpAttempt

    attempts = FollowUpAttempt.objects.count()
    r = _do(client, method, url, body, ids)
    assert r.status_code == 422, r.content
    data = r.json()
    assert data["errors"][0]["path"] == path and path in data["detail"]
    assert snapshot == (
        list(Person.objects.order_by("pk").values()),
        Referral.objects.count(),
        list(Person.objects.get(pk=ids["person"]).encounters.values("consent_share")),
    )
    assert FollowUpAttempt.objects.count() == attempts


def test_page_form_errors_are_shown_and_change_nothing(person, world):
    user = person(CARE_NAVIGATOR)
    ids = world(None)
    client = Client()
    client.force_login(user)
    r = client.post(
        f"/care/tasks/{ids['task']}",
        {"op": "attempt", "channel": "phone", "outcome": "declined", "note": "x" * 2001},
    )
    assert r.status_code == 422 and b"note: 2001 characters" in r.content
    r = client.post(
        f"/care/tasks/{ids['task']}", {"op": "referral", "provider_id": "99999", "service": "food"}
    )
    assert r.status_code == 422 and b"provider_id: no provider 99999" in r.content
    from heart.care.models import FollowUpAttempt

    assert FollowUpAttempt.objects.count() == 0 and Referral.objects.count() == 1


def test_supervisor_lists_who_looked(person, world):
    ids = world(None)
    nav_user, sup_user = person(CARE_NAVIGATOR), person(SUPERVISOR)
    c = Client()
    c.force_login(nav_user)
    c.get(f"/care/people/{ids['person']}", REMOTE_ADDR="10.9.9.9")
    s = Client()
    s.force_login(sup_user)
    rows = s.get(f"/api/care/people/{ids['person']}/audit").json()["items"]
    assert any(
        r["who"] == f"user:{nav_user.username}"
        and r["what"] == "page:person"
        and r["ip"] == "10.9.9.9"
        for r in rows
    )


def test_dispatcher_repeat_summary_has_no_personal_data(person, world):
    ids = world(None)
    c = Client()
    c.force_login(person(DISPATCHER))
    r = c.get(f"/api/care/calls/{ids['call']}/repeat").json()
    assert r["calls"] == 2 and "Maria" not in json.dumps(r)
    assert r["text"].startswith("2 calls in 30 days; last handled by a team today")

"""The API answers bad input with JSON, never an HTML page or a 500 (issue 11, item 8):
deep nesting -> 400, oversize bodies -> 413, no or a bad token -> 401 (a signed-in
session still needs its CSRF token), NUL refused on every database, every list and text
bounded, HTML in EIDO notes stored as text, revoked tokens refused at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.test import Client

from heart.accounts.actors import SYSTEM
from heart.accounts.services import clear_token_cache, create_api_client, revoke_api_client
from heart.calls.models import Call
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CALL = {
    "received_at": "2024-03-05T10:00:00-05:00",
    "nature": "CRISIS",
    "lon": DURHAM[0],
    "lat": DURHAM[1],
}


@pytest.fixture
def cad():
    clear_token_cache()
    _, token = create_api_client(name="cad-hardening", scopes=["intake"])
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}"), token


def _json_error(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.content[:300])
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    body = r.json()
    assert body["detail"]
    return body


def test_json_nested_a_thousand_deep_is_400(cad):
    client, _ = cad
    for depth in (1_000, 100_000):
        deep = "[" * depth + "]" * depth
        body = _json_error(
            client.post("/api/calls", data=deep, content_type="application/json"), 400
        )
        assert "nested too deeply" in body["detail"]
    deep_obj = '{"a":' * 5_000 + "1" + "}" * 5_000
    body = _json_error(
        client.post("/api/calls/eido", data=deep_obj, content_type="application/json"), 400
    )
    assert body["errors"][0]["path"] == "body"
    assert Call.objects.count() == 0


def test_a_20_mb_body_is_413_json(cad, settings):
    client, _ = cad
    big = json.dumps({**CALL, "narrative": "x" * (20 * 1024 * 1024)})
    body = _json_error(client.post("/api/calls", data=big, content_type="application/json"), 413)
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}" in body["detail"]
    assert Call.objects.count() == 0


def test_missing_or_bad_token_is_401_not_a_csrf_403():
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer heart_not-a-real-token"}):
        client = Client(enforce_csrf_checks=True, **headers)
        for url in ("/api/calls", "/api/calls/eido", "/api/avl", "/api/care/people"):
            r = client.post(url, data=json.dumps(CALL), content_type="application/json")
            _json_error(r, 401)
        _json_error(client.get("/api/calls"), 401)


def test_a_signed_in_session_still_needs_its_csrf_token(person):
    user = person("call_taker")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    r = client.post("/api/calls", data=json.dumps(CALL), content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    client.get("/calls/new")  # a page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    r = client.post(
        "/api/calls", data=json.dumps(CALL), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert r.status_code == 201, r.content


def test_nul_is_refused_naming_the_field(cad, person):
    client, _ = cad
    body = _json_error(
        client.post(
            "/api/calls",
            data=json.dumps({**CALL, "narrative": "a\x00b"}),
            content_type="application/json",
        ),
        422,
    )
    assert body["errors"][0]["path"] == "narrative"
    nav = Client()
    nav.force_login(person("care_navigator"))
    for payload, path in (
        ({"name": "Ann\x00"}, "name"),
        ({"address": "1 Main\x00St"}, "address"),
        ({"languages": ["en", "e\x00s"]}, "languages[1]"),
    ):
        body = _json_error(
            nav.post("/api/care/people", data=json.dumps(payload), content_type="application/json"),
            422,
        )
        assert body["errors"][0]["path"] == path, body
    from heart.care.models import Person

    assert Person.objects.count() == 0


def test_lists_and_texts_are_bounded(cad, person):
    client, _ = cad
    nav = Client()
    nav.force_login(person("care_navigator"))
    r = nav.post(
        "/api/care/people",
        data=json.dumps({"name": "Ann", "languages": ["en"] * 100_000}),
        content_type="application/json",
    )
    body = _json_error(r, 422)
    assert body["errors"][0]["path"] == "languages"
    r = nav.post(
        "/api/care/people",
        data=json.dumps({"name": "A" * 10_000}),
        content_type="application/json",
    )
    assert _json_error(r, 422)["errors"][0]["path"] == "name"
    from tests.integration.test_api_intake import eido

    doc = eido(notes="<p>a note</p>")
    doc["notesComponent"] = doc["notesComponent"] * 500
    r = client.post("/api/calls/eido", data=json.dumps(doc), content_type="application/json")
    assert _json_error(r, 422)["errors"][0]["path"] == "notesComponent"


def test_html_in_eido_notes_is_stored_as_text(cad):
    from tests.integration.test_api_intake import eido

    client, _ = cad
    doc = eido(
        notes="<p>Caller says &lt;img src=x onerror=alert(1)&gt; &amp; SBP &lt; 90</p>"
        "<script>alert(2)</script>"
    )
    r = client.post("/api/calls/eido", data=json.dumps(doc), content_type="application/json")
    assert r.status_code == 201, r.content
    narrative = Call.objects.get(pk=r.json()["id"]).narrative
    assert "<img" not in narrative and "<script" not in narrative and "alert(2)" not in narrative
    assert "\u2039img src=x onerror=alert(1)>" in narrative
    assert "& SBP < 90" in narrative


def test_a_revoked_token_is_refused_at_once(cad):
    client, _ = cad
    assert (
        client.post(
            "/api/calls", data=json.dumps(CALL), content_type="application/json"
        ).status_code
        == 201
    )
    revoke_api_client(name="cad-hardening", actor=SYSTEM)
    r = client.post("/api/calls", data=json.dumps(CALL), content_type="application/json")
    _json_error(r, 401)


CHILD = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from heart.accounts import services
    from heart.live.broadcast import get_backend

    backend = get_backend()
    backend.start_listening()
    assert backend.ready.wait(20), "LISTEN did not start"
    token = sys.argv[1]
    assert services.client_for_token(token) is not None
    assert services._cache, "the token is cached while this process listens"
    print("ready", flush=True)
    sys.stdin.readline()  # the parent has revoked the token
    t0 = time.monotonic()
    while services.client_for_token(token) is not None and time.monotonic() - t0 < 5:
        time.sleep(0.005)
    took = time.monotonic() - t0
    print("refused" if services.client_for_token(token) is None else "accepted", took, flush=True)
    """
)


@pytest.mark.django_db(transaction=True)
def test_a_revocation_reaches_another_server_process_at_once(postgres_only):
    """Two processes on PostgreSQL: the other one had the token cached; it refuses it
    within moments of the revocation (LISTEN/NOTIFY), not after its cache expires."""
    from django.db import connection

    clear_token_cache()
    _, token = create_api_client(name="cad-two-processes", scopes=["intake"])
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")}
    env.pop("HEART_TEST_DB_NAME", None)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, token],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "ready", line + child.stderr.read()
        revoke_api_client(name="cad-two-processes", actor=SYSTEM)
        child.stdin.write("go\n")
        child.stdin.flush()
        verdict, took = child.stdout.readline().split()
        assert verdict == "refused", child.stderr.read()
        assert float(took) < 2.0
    finally:
        child.kill()
        child.wait(10)
        time.sleep(0.1)

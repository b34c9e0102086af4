"""Signing in (issue 11, item 3): throttling and lockout by user and address with
back-off (django-axes), each lockout audited and liftable by a supervisor; an idle
session timeout per role; TOTP second factor (django-otp), required per role when
HEART_REQUIRE_OTP=1. API bearer tokens are unaffected by all of it."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from heart.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "pw-test-123"  # tests/integration/conftest.py


def _login(username: str, password: str, ip: str = "10.1.2.3", client: Client | None = None):
    client = client or Client(REMOTE_ADDR=ip)
    r = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )
    return client, r


def _signed_in(r) -> bool:
    return r.status_code == 302 and "/accounts/login" not in r["Location"]


def test_five_wrong_passwords_lock_that_user_at_that_address(person, settings):
    user = person("dispatcher")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _, r = _login(user.username, "wrong")
        assert r.status_code == 200  # the form again, with its message
    _, r = _login(user.username, "wrong")
    assert r.status_code == 429 and "Too many failed sign-ins" in r.content.decode()
    assert int(r["Retry-After"]) >= 60
    _, r = _login(user.username, PASSWORD)  # the right password no longer helps
    assert r.status_code == 429
    # audited: who, from where; never the password
    entry = AuditEntry.objects.get(action="login.locked_out")
    assert entry.data["username"] == user.username and entry.data["ip"] == "10.1.2.3"
    assert PASSWORD not in json.dumps(entry.data) and "wrong" not in json.dumps(entry.data)
    # the same person from another desk, and a colleague at the same address, still sign in
    assert _signed_in(_login(user.username, PASSWORD, ip="10.9.9.9")[1])
    assert _signed_in(_login(person("dispatcher").username, PASSWORD)[1])


def test_the_wait_doubles_with_every_further_try(person, settings):
    from django.test import RequestFactory

    from heart.accounts.lockout import cool_off

    user = person("dispatcher")
    waits = []
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        _login(user.username, "wrong")
        request = RequestFactory().post("/accounts/login/", {"username": user.username})
        request.axes_ip_address = "10.1.2.3"
        waits.append(cool_off(request).total_seconds() / 60)
    base = settings.HEART_LOGIN_COOLOFF_MINUTES
    assert waits[settings.AXES_FAILURE_LIMIT - 1] == base
    assert waits[-1] == base * 8  # three more tries: 2 x 2 x 2
    settings.HEART_LOGIN_COOLOFF_MAX_MINUTES = base * 4
    request = RequestFactory().post("/accounts/login/", {"username": user.username})
    request.axes_ip_address = "10.1.2.3"
    assert cool_off(request).total_seconds() / 60 == base * 4


def test_an_address_guessing_many_users_is_locked(person, settings):
    settings.HEART_LOGIN_ADDRESS_FAILURE_LIMIT = 12
    for i in range(12):
        _login(f"nobody{i}", "wrong", ip="10.6.6.6")
    _, r = _login(person("dispatcher").username, PASSWORD, ip="10.6.6.6")
    assert r.status_code == 429
    assert _signed_in(_login(person("dispatcher").username, PASSWORD, ip="10.7.7.7")[1])


def test_a_supervisor_sees_and_lifts_a_lockout(person, settings):
    user = person("dispatcher")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(user.username, "wrong")
    sup = Client()
    sup.force_login(person("supervisor"))
    page = sup.get("/accounts/security")
    assert page.status_code == 200 and user.username in page.content.decode()
    attempt_id = page.context["locked"][0]["id"]
    r = sup.post("/accounts/security", {"attempt_id": attempt_id})
    assert r.status_code == 302
    assert _signed_in(_login(user.username, PASSWORD)[1])
    assert AuditEntry.objects.filter(action="login.unlocked").count() == 1
    nav = Client()
    nav.force_login(person("care_navigator"))
    assert nav.get("/accounts/security").status_code == 403


def test_bearer_tokens_are_not_sign_ins(person, settings):
    from heart.accounts.services import clear_token_cache, create_api_client

    clear_token_cache()
    _, token = create_api_client(name="cad-axes", scopes=["intake"])
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        r = Client(HTTP_AUTHORIZATION="Bearer heart_wrong", REMOTE_ADDR="10.1.2.3").get(
            "/api/calls"
        )
        assert r.status_code == 401
    good = Client(HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="10.1.2.3")
    body = {"received_at": "2024-03-05T10:00:00-05:00", "nature": "CRISIS"}
    r = good.post("/api/calls", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 201
    assert not AuditEntry.objects.filter(action="login.locked_out").exists()


# ------------------------------------------------------------------ idle timeout


def _age_session(client: Client, seconds: float) -> None:
    session = client.session
    session["heart_seen"] = time.time() - seconds
    session.save()


def test_an_idle_desk_session_is_signed_out(person, settings):
    client = Client()
    client.force_login(person("dispatcher"))
    assert client.get("/board/").status_code == 200
    _age_session(client, settings.HEART_IDLE_MINUTES * 60 - 30)
    assert client.get("/board/").status_code == 200  # still inside the limit
    _age_session(client, settings.HEART_IDLE_MINUTES * 60 + 5)
    r = client.get("/board/")
    assert (
        r.status_code == 302 and "/accounts/login/" in r["Location"] and "idle=30" in r["Location"]
    )
    assert client.get("/board/").status_code == 302  # really signed out
    page = client.get(r["Location"])
    assert "without use" in page.content.decode()


def test_an_idle_api_session_gets_401_json(person, settings):
    client = Client()
    client.force_login(person("dispatcher"))
    assert client.get("/api/calls").status_code == 200
    _age_session(client, settings.HEART_IDLE_MINUTES * 60 + 5)
    r = client.get("/api/calls")
    assert r.status_code == 401 and "without use" in r.json()["detail"]


def test_responders_get_longer(person, settings):
    client = Client()
    client.force_login(person("responder", "emt"))
    client.get("/responder/")
    _age_session(client, settings.HEART_IDLE_MINUTES * 60 + 5)
    assert client.get("/responder/").status_code == 200
    _age_session(client, settings.HEART_RESPONDER_IDLE_MINUTES * 60 + 5)
    assert client.get("/responder/").status_code == 302


def test_the_live_pages_keep_alive_and_no_session_outlives_a_shift(person, settings):
    client = Client()
    client.force_login(person("dispatcher"))
    assert client.get("/accounts/alive").status_code == 204
    session = client.session
    session["heart_since"] = time.time() - settings.SESSION_COOKIE_AGE - 1
    session.save()
    assert client.get("/accounts/alive").status_code == 302
    assert Client().get("/accounts/alive").status_code == 401


# ------------------------------------------------------------------ second factor


def _no_wait(device) -> None:
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()


def _code(device) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_supervisor_must_enrol_then_give_a_code(person, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.HEART_REQUIRE_OTP = True
    sup = person("supervisor")
    client, r = _login(sup.username, PASSWORD)
    r = client.get("/board/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/?")
    r = client.get("/api/calls")
    assert r.status_code == 401 and "second factor" in r.json()["detail"]
    page = client.get("/accounts/otp/")
    assert page.status_code == 200 and "otp-secret" in page.content.decode()
    assert client.get("/accounts/otp/qr.svg")["Content-Type"] == "image/svg+xml"
    device = TOTPDevice.objects.get(user=sup, confirmed=False)
    assert client.post("/accounts/otp/", {"token": "000000"}).status_code == 422
    _no_wait(device)  # a wrong code makes the next one wait a moment
    r = client.post("/accounts/otp/", {"token": _code(device)})
    assert r.status_code == 200 and "otp-done" in r.content.decode()
    assert client.get("/board/").status_code == 200
    assert AuditEntry.objects.filter(action="otp.enrolled", object_id=str(sup.pk)).exists()

    # the next sign-in asks for a code before anything else
    client.post("/accounts/logout/")
    client, _ = _login(sup.username, PASSWORD, client=Client())
    r = client.get("/board/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/verify")
    device.refresh_from_db()
    device.last_t = -1  # a fresh time step for the test's second code
    device.save()
    assert client.post("/accounts/otp/verify", {"token": "123"}).status_code == 422
    _no_wait(device)
    r = client.post("/accounts/otp/verify", {"token": _code(device), "next": "/board/"})
    assert r.status_code == 302 and r["Location"] == "/board/"
    assert client.get("/board/").status_code == 200


def test_other_roles_are_not_asked_unless_they_enrolled(person, settings):
    settings.HEART_REQUIRE_OTP = True
    client, _ = _login(person("dispatcher").username, PASSWORD)
    assert client.get("/board/").status_code == 200
    settings.HEART_REQUIRE_OTP = False
    client, _ = _login(person("supervisor").username, PASSWORD)
    assert client.get("/board/").status_code == 200

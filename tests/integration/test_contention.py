"""Intake never refuses a call for contention (issue 11, item 6): the retry policy and
the 503 + Retry-After when the retries run out."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, IntegrityError, OperationalError
from django.test import Client

from heart.calls import contention
from heart.calls.contention import retry_on_contention, transient


class PgError(Exception):
    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def django_error(sqlstate, cls=OperationalError):
    exc = cls(f"failed ({sqlstate})")
    exc.__cause__ = PgError(sqlstate) if sqlstate else Exception("server closed the connection")
    return exc


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("40001", "contention"),  # serialization failure
        ("40P01", "contention"),  # deadlock
        ("55P03", "contention"),  # lock not available (lock_timeout)
        ("57P01", "connection"),  # admin shutdown (PostgreSQL restarting)
        ("08006", "connection"),
        ("23505", None),  # a unique violation is not contention
        ("22P02", None),
    ],
)
def test_which_failures_are_retried(sqlstate, kind):
    assert transient(django_error(sqlstate)) == kind


def test_retries_until_it_works_then_gives_up(monkeypatch):
    monkeypatch.setattr(contention.time, "sleep", lambda s: None)
    monkeypatch.setattr(contention, "_drop_connection", lambda: None)
    failures = [django_error("40P01"), django_error(None)]

    def flaky():
        if failures:
            raise failures.pop(0)
        return "stored"

    assert retry_on_contention(flaky) == "stored"

    calls = []

    def always_busy():
        calls.append(1)
        raise django_error("40001")

    with pytest.raises(OperationalError):
        retry_on_contention(always_busy)
    assert len(calls) == contention.MAX_ATTEMPTS

    def broken():
        calls.append(1)
        raise django_error("23505", IntegrityError)

    calls.clear()
    with pytest.raises(IntegrityError):
        retry_on_contention(broken)
    assert calls == [1]  # not contention: no second attempt


def test_retries_stay_within_the_time_budget(monkeypatch, settings):
    settings.HEART_RETRY_BUDGET_SECONDS = 0.0
    calls = []

    def busy():
        calls.append(1)
        raise django_error("40001")

    with pytest.raises(OperationalError):
        retry_on_contention(busy)
    assert calls == [1]


@pytest.mark.django_db
def test_busy_database_answers_503_with_retry_after(monkeypatch):
    from heart.accounts.services import clear_token_cache, create_api_client
    from heart.intake import api

    clear_token_cache()
    _, token = create_api_client(name="cad")

    def busy(**kw):
        raise DatabaseError("could not obtain lock")

    monkeypatch.setattr(api, "receive_call", busy)
    r = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        "/api/calls",
        data=json.dumps(
            {"received_at": "2024-03-05T10:00:00-05:00", "nature": "CRISIS", "cad_incident_id": "B"}
        ),
        content_type="application/json",
    )
    assert r.status_code == 503 and r["Retry-After"] == "1"
    assert "retry" in r.json()["detail"]

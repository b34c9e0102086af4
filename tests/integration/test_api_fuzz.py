"""Property-based fuzzing of the whole JSON API from its own OpenAPI document.

Every operation gets generated (mostly invalid) input from schemathesis, signed in as a
supervisor (the broadest staff role) with a CSRF token, against a database holding a
staffed team, an open call and a follow-up. The only property checked: the server never
answers with a 5xx. Bad input must be a clear 4xx, never a crash.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings

from heart.web.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

# real commits: a failed statement must not poison a wrapping test transaction on PostgreSQL
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def session_headers(person, staffed_team):
    from django.utils import timezone

    from heart.accounts.actors import SYSTEM
    from heart.domain.triage import CallInput
    from heart.intake.services import receive_call
    from tests.integration.conftest import DURHAM

    staffed_team("Fuzz team")
    receive_call(
        call=CallInput(received_at=timezone.now(), nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1]),
        actor=SYSTEM,
        cad_incident_id="FUZZ-1",
    )
    client = Client()
    client.force_login(person("supervisor"))
    client.get("/accounts/login/")  # sets the CSRF cookie
    cookies = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
    return {
        "Cookie": cookies,
        "X-CSRFToken": client.cookies["csrftoken"].value,
        "Referer": "http://testserver/",
    }


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure is reproducible
)
def test_no_server_errors(case, session_headers):
    response = case.call(headers=session_headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )

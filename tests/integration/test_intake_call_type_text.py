"""The call type's own description (EIDO incidentTypeInternalText) is read by triage.

A CAD can send an eligible code with a description that says violence ("DISTURBANCE"
coded, "MAJOR DISTURBANCE (VIOLENCE)" described): the call must never reach the team,
the phone clinician, or a recommendation; re-triage of the stored call (fallback, CAD
update) reads the same description.
"""

from __future__ import annotations

import pytest

from heart.calls.models import Call
from heart.calls.services import call_input_from
from heart.domain.triage import decide
from heart.program_in_force import current_program
from tests.integration.conftest import DURHAM
from tests.integration.test_api_intake import cad, eido, post  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text, code, route",
    [
        ("MAJOR DISTURBANCE (VIOLENCE)", "violence_in_call_type", "standard"),
        ("ONE DOWN/DRUG OD", "medical_in_call_type", "standard"),
        ("Person in crisis", None, "crt"),
    ],
)
def test_eido_type_text_can_exclude_an_eligible_code(cad, staffed_team, text, code, route):  # noqa: F811
    team = staffed_team()  # a team on shift and free: only the type text keeps it away
    doc = eido("DISTURBANCE", point=DURHAM)
    doc["incidentComponent"]["incidentTypeInternalText"] = text
    r = post(cad, "/api/calls/eido", doc)
    assert r.status_code == 201, r.content
    body = r.json()
    codes = [x["code"] for x in body["reasons"]]
    assert body["route"] == route, codes
    if code:
        assert code in codes
        assert body["recommended"] is None
    else:
        assert body["recommended"]["team_id"] == team.pk
    call = Call.objects.get(pk=body["id"])
    assert call.incident_type_text == text
    # the stored call decides the same way again (fallback and re-triage read it back)
    again = decide(current_program(), call_input_from(call))
    assert (code in again.codes) if code else again.route in ("crt", "ccd")

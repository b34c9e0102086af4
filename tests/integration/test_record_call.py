"""Calls are triaged on arrival and stored idempotently (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from heart.calls.models import Call
from heart.calls.services import record_call
from heart.domain.triage import CallInput
from tests.conftest import ny

pytestmark = pytest.mark.django_db


def test_call_is_stored_with_its_decision(durham_2022):
    call = CallInput(received_at=ny(2022, 7, 5, 10, 0), nature="CRISIS", beat="113")
    recorded = record_call(call=call, program=durham_2022, cad_incident_id="CAD-1")
    stored, created = recorded.call, recorded.created
    assert created
    stored.refresh_from_db()
    assert stored.route == "crt"
    assert stored.reason_codes == ["nature_eligible", "route_crt"]
    assert stored.rules_version == durham_2022.rules_version
    assert all(r["text"] for r in stored.reasons)


def test_repeated_delivery_updates_instead_of_duplicating(durham_2022):
    first = CallInput(received_at=ny(2022, 7, 5, 10, 0), nature="CRISIS", beat="113")
    record_call(call=first, program=durham_2022, cad_incident_id="CAD-2")
    again = CallInput(
        received_at=ny(2022, 7, 5, 10, 0), nature="CRISIS", beat="113", narrative="he has a gun"
    )
    recorded = record_call(call=again, program=durham_2022, cad_incident_id="CAD-2")
    stored, created = recorded.call, recorded.created
    assert not created
    assert Call.objects.filter(cad_incident_id="CAD-2").count() == 1
    assert stored.route == "standard"  # co-response had not started on 2022-07-05
    assert "weapon_in_narrative" in stored.reason_codes


def test_unknown_nature_is_stored_as_standard(durham_2022):
    call = CallInput(received_at=ny(2022, 7, 5, 10, 0), nature="NEW CODE 2030", beat="113")
    stored = record_call(call=call, program=durham_2022).call
    assert stored.route == "standard"
    assert stored.reason_codes[0] == "nature_unknown"

"""The write-back to the CAD (heart.cad): outbox written with the change, delivered at
least once, in order per call, signed, retried with back-off, dead letters replayable;
against a real HTTP server that fails (tests/integration/fake_cad.py)."""

from __future__ import annotations

import json
import time

import pytest
from django.db import transaction
from django.utils import timezone

from heart.accounts.actors import SYSTEM
from heart.accounts.roles import ADMIN, SUPERVISOR
from heart.cad.delivery import deliver_due
from heart.cad.models import OutboxMessage
from heart.events.bus import emit
from heart.teams.models import Team
from heart.teams.services import assign_team, change_status, clear_call, request_backup
from tests.integration.conftest import actor_of, open_call
from tests.integration.fake_cad import FakeCad

pytestmark = pytest.mark.django_db
S = OutboxMessage.State


def cad_settings(settings, url, **kw):
    settings.HEART_CAD = {
        "url": url,
        "secret": "s3cret",
        "format": kw.pop("format", "webhook"),
        "timeout": kw.pop("timeout", 0.3),
        "backoff_base": kw.pop("backoff_base", 0.005),
        "backoff_cap": kw.pop("backoff_cap", 0.02),
        "max_attempts": kw.pop("max_attempts", 50),
        "agency": "heart.durham.test",
        **kw,
    }


def drain(until_empty_within: float = 60.0) -> int:
    """Run the delivery function until nothing is pending (a safety bound, no timing
    assertion); the number of runs."""
    runs = 0
    limit = time.monotonic() + until_empty_within
    while OutboxMessage.objects.filter(state=S.PENDING).exists():
        assert time.monotonic() < limit, "the outbox did not drain"
        deliver_due(budget_seconds=5)
        runs += 1
        time.sleep(0.005)
    return runs


def status_events(calls, per_call: int, teams) -> list[OutboxMessage]:
    """``per_call`` status messages for each call, interleaved across calls."""
    order = ["dispatched", "en_route", "on_scene", "clearing", "available"]
    for i in range(per_call):
        for c, t in zip(calls, teams, strict=True):
            with transaction.atomic():
                emit(
                    "team.status",
                    {
                        "team_id": t.pk,
                        "status": order[i % 5],
                        "previous": order[(i - 1) % 5],
                        "call_id": c.pk,
                        "at": timezone.now().isoformat(),
                    },
                    actor=SYSTEM,
                    call_id=c.pk,
                )
    return list(OutboxMessage.objects.order_by("pk"))


def assert_all_in_order(cad: FakeCad, messages: list[OutboxMessage]) -> None:
    keys = {str(m.key) for m in messages}
    assert set(cad.taken) == keys, "a message was lost (or one nobody wrote arrived)"
    by_stream: dict[str, list[str]] = {}
    for m in messages:
        by_stream.setdefault(m.stream, []).append(str(m.key))
    for stream, wanted in by_stream.items():
        assert cad.order[stream] == wanted, f"{stream}: out of order"
    for m in messages:  # the same body under a key, however often it came
        bodies = [a["body"] for a in cad.arrivals if a["key"] == str(m.key)]
        assert all(b == m.body for b in bodies)
    assert cad.bad_signatures == 0


def teams(n):
    return [Team.objects.create(name=f"CAD-{i}") for i in range(n)]


def test_nothing_is_written_when_the_write_back_is_off(settings):
    settings.HEART_CAD = {}
    c = open_call("crt")
    t = teams(1)
    status_events([c], 2, t)
    assert OutboxMessage.objects.count() == 0


def test_the_outbox_row_commits_and_rolls_back_with_the_change(settings, staffed_team, program):
    cad_settings(settings, "http://127.0.0.1:9/never")
    team = staffed_team()
    call = open_call("crt", cad_incident_id="DUR-2025-000123")
    assign_team(call=call, team=team, actor=SYSTEM, program=program)
    m = OutboxMessage.objects.get(stream=f"call:{call.pk}")
    assert (m.kind, m.stream, m.body["status"]) == ("unit_status", f"call:{call.pk}", "dispatched")
    assert m.body["cad_incident_id"] == "DUR-2025-000123"
    assert m.body["unit"]["name"] == team.name

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        change_status(team=team, status="en_route", actor=SYSTEM)
        raise Boom
    team.refresh_from_db()
    assert team.status == "dispatched"
    assert OutboxMessage.objects.filter(stream=f"call:{call.pk}").count() == 1


def test_every_kind_is_written_and_a_backup_is_a_new_top_priority_incident(
    settings, staffed_team, program
):
    cad_settings(settings, "http://127.0.0.1:9/never")
    team = staffed_team()
    call = open_call("crt", cad_incident_id="DUR-2025-000777")
    assign_team(call=call, team=team, actor=SYSTEM, program=program)
    change_status(team=team, status="en_route", actor=SYSTEM)
    change_status(team=team, status="on_scene", actor=SYSTEM)
    request_backup(team=team, actor=SYSTEM)
    from heart.teams.services import DispositionInput

    clear_call(team=team, disposition=DispositionInput(outcome="resolved_on_scene"), actor=SYSTEM)
    kinds = list(
        OutboxMessage.objects.filter(stream=f"call:{call.pk}")
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert "backup_request" in kinds and "disposition" in kinds
    assert kinds[:3] == ["unit_status"] * 3
    backup = OutboxMessage.objects.get(kind="backup_request").body
    assert backup["priority"] == 1 and backup["linked_cad_incident_id"] == "DUR-2025-000777"
    assert backup["heart_backup_call_id"] != call.pk
    closed = OutboxMessage.objects.get(kind="disposition").body
    assert closed["outcome"] == "resolved_on_scene" and closed["call_closed"] is True
    # no personal data: contact fields of the disposition never leave
    text = json.dumps([m.body for m in OutboxMessage.objects.all()])
    assert "contact" not in text
    # one stream for the whole call, in the order of the changes
    off_call = f"team:{team.pk}"  # the team's "available" before the call
    assert set(OutboxMessage.objects.values_list("stream", flat=True)) == {
        f"call:{call.pk}",
        off_call,
    }


def test_route_override_is_written(settings, staffed_team, program, person):
    cad_settings(settings, "http://127.0.0.1:9/never")
    team = staffed_team()
    call = open_call("standard", cad_incident_id="DUR-9")
    sup = actor_of(person(SUPERVISOR))
    assign_team(
        call=call,
        team=team,
        actor=sup,
        program=program,
        override_reason="Caller asked for the crisis team; officer agrees on the radio",
    )
    kinds = set(OutboxMessage.objects.values_list("kind", flat=True))
    assert "route_override" in kinds


def test_eido_backup_is_a_linked_incident_heart_itself_can_read(settings, staffed_team, program):
    from heart.intake.eido import EidoDocument, to_call

    cad_settings(settings, "http://127.0.0.1:9/never", format="eido")
    team = staffed_team()
    call = open_call("crt", cad_incident_id="urn:emergency:uid:incidentid:77:durham.test")
    assign_team(call=call, team=team, actor=SYSTEM, program=program)
    change_status(team=team, status="en_route", actor=SYSTEM)
    change_status(team=team, status="on_scene", actor=SYSTEM)
    request_backup(team=team, actor=SYSTEM)
    doc = OutboxMessage.objects.get(kind="backup_request").body
    assert doc["linkComponent"][0]["incidentTrackingIdentifier"] == call.cad_incident_id
    assert doc["linkComponent"][0]["linkDirectionCode"] == "PARENT"
    assert doc["$id"] != call.cad_incident_id
    parsed = to_call(EidoDocument.model_validate(doc))
    assert parsed.call.priority == "1"
    assert parsed.call.lon == pytest.approx(team.lon, abs=1e-5)
    status = OutboxMessage.objects.filter(kind="unit_status").last().body
    assert status["$id"] == call.cad_incident_id
    assert status["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"] == "OnScene"


def test_eido_documents_have_what_the_schema_requires(settings, staffed_team, program):
    import yaml

    schema = yaml.safe_load(open_schema())["components"]["schemas"]

    def required(name):
        out = set(schema["PrologueType"]["required"]) if name != "PrologueType" else set()
        for part in schema[name].get("allOf", [schema[name]]):
            out |= set(part.get("required", []))
        return out

    cad_settings(settings, "http://127.0.0.1:9/never", format="eido")
    team = staffed_team()
    call = open_call("crt", cad_incident_id="X-1")
    assign_team(call=call, team=team, actor=SYSTEM, program=program)
    change_status(team=team, status="en_route", actor=SYSTEM)
    change_status(team=team, status="on_scene", actor=SYSTEM)
    request_backup(team=team, actor=SYSTEM)
    parts = {
        "agencyComponent": "AgencyType",
        "agentComponent": "AgentType",
        "emergencyResourceComponent": "EmergencyResourceType",
        "linkComponent": "LinkInformationType",
        "locationComponent": "LocationInformationType",
    }
    for m in OutboxMessage.objects.all():
        doc = m.body
        assert required("EmergencyIncidentDataObjectType") <= set(doc)
        assert required("IncidentInformationType") <= set(doc["incidentComponent"])
        for field, type_name in parts.items():
            for component in doc.get(field, []):
                missing = required(type_name) - set(component)
                assert not missing, f"{m.kind} {field}: missing {missing}"


def open_schema():
    from pathlib import Path

    return (
        Path(__file__).resolve().parents[2]
        / ".."
        / "shared"
        / "standards"
        / "eido"
        / "eido_openapi.yaml"
    ).read_text()


def test_thirty_percent_failures_lose_nothing_and_keep_each_calls_order(settings):
    with FakeCad(fail_rate=0.3, late_rate=0.05, drop_rate=0.05, late_seconds=0.5) as cad:
        cad_settings(settings, cad.url)
        calls = [open_call("crt") for _ in range(6)]
        messages = status_events(calls, 8, teams(6))
        assert len(messages) == 48
        drain()
        assert_all_in_order(cad, messages)
        assert cad.answers["503"] > 0 and cad.answers["late"] > 0 and cad.answers["drop"] > 0
        repeated = len(cad.arrivals) - len(cad.taken)
        assert repeated >= cad.answers["late"] - 1  # each late answer was sent again
        assert OutboxMessage.objects.filter(state=S.SENT).count() == 48


def test_a_dead_letter_holds_its_call_only_and_replay_sends_it_again(settings, client, person):
    with FakeCad() as cad:
        cad_settings(settings, cad.url)
        c1, c2 = open_call("crt"), open_call("crt")
        status_events([c1, c2], 3, teams(2))
        first_of_c1 = OutboxMessage.objects.filter(stream=f"call:{c1.pk}").order_by("pk").first()
        cad.refuse.add(str(first_of_c1.key))
        deliver_due()
        first_of_c1.refresh_from_db()
        assert first_of_c1.state == S.DEAD and first_of_c1.last_status == 400
        assert first_of_c1.attempts == 1  # a 400 is not retried
        assert cad.order.get(f"call:{c1.pk}") is None  # the rest of call 1 waits
        assert len(cad.order[f"call:{c2.pk}"]) == 3  # call 2 went on

        # an admin sees it (page and API) and replays it
        client.force_login(person(ADMIN))
        page = client.get("/staff/cad/")
        assert page.status_code == 200 and f'data-message-id="{first_of_c1.pk}"' in page.text
        api = client.get("/api/cad/dead-letters").json()
        assert [d["id"] for d in api["items"]] == [first_of_c1.pk]
        assert api["items"][0]["waiting"] == 2
        cad.refuse.clear()
        r = client.post(f"/api/cad/dead-letters/{first_of_c1.pk}/replay")
        assert r.status_code == 200 and r.json()["state"] == "pending"
        again = client.post(f"/api/cad/dead-letters/{first_of_c1.pk}/replay")
        assert again.status_code == 409 and "not a dead letter" in again.json()["detail"]
        drain()
        assert_all_in_order(cad, list(OutboxMessage.objects.order_by("pk")))


def test_retries_give_up_after_max_attempts(settings):
    with FakeCad(fail_rate=1.0) as cad:
        cad_settings(settings, cad.url, max_attempts=3)
        status_events([open_call("crt")], 1, teams(1))
        drain()
        m = OutboxMessage.objects.get()
        assert (m.state, m.attempts, m.last_status) == (S.DEAD, 3, 503)
        assert cad.answers["503"] == 3


def test_supervisors_may_not_replay(client, person, settings):
    client.force_login(person(SUPERVISOR))
    assert client.get("/staff/cad/").status_code == 403
    assert client.get("/api/cad/dead-letters").status_code == 403


def test_the_page_replays_and_discards(settings, client, person):
    with FakeCad() as cad:
        cad_settings(settings, cad.url)
        c = open_call("crt")
        status_events([c], 2, teams(1))
        first = OutboxMessage.objects.order_by("pk").first()
        cad.refuse.add(str(first.key))
        deliver_due()
        client.force_login(person(ADMIN))
        r = client.post(f"/staff/cad/{first.pk}/discard", follow=True)
        assert r.status_code == 200 and "discarded" in r.text
        first.refresh_from_db()
        assert first.state == S.DISCARDED
        deliver_due()
        assert len(cad.order[f"call:{c.pk}"]) == 1  # the one behind it went on
        r = client.post("/staff/cad/999999/replay", follow=True)
        assert "no message 999999" in r.text


def test_the_settings_are_checked(settings):
    from heart.cad import config

    settings.HEART_CAD = {"url": "http://cad.test/x", "secret": "s", "cron": "* * * * * */5"}
    assert config.enabled() and config.cron() == "* * * * * */5"
    for bad, field in [
        ({"format": "xml"}, "format"),
        ({"secret": ""}, "secret"),
        ({"url": "ftp://cad.test/x"}, "url"),
        ({"timeout": "soon"}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
    ]:
        settings.HEART_CAD = {"url": "http://cad.test/x", "secret": "s", **bad}
        with pytest.raises(ValueError, match=f"HEART_CAD {field}"):
            config.cad()


def test_a_message_that_cannot_be_built_never_blocks_the_change(
    settings, monkeypatch, client, person
):
    """The status change goes through; its message waits as a dead letter naming the
    problem, and is built again when an admin replays it."""
    from heart.cad import messages

    cad_settings(settings, "http://127.0.0.1:9/never")
    c = open_call("crt")
    real = messages.facts
    monkeypatch.setattr(messages, "facts", lambda event: 1 / 0)
    status_events([c], 1, teams(1))
    m = OutboxMessage.objects.get()
    assert m.state == S.DEAD and m.body == {} and "ZeroDivisionError" in m.last_error
    client.force_login(person(ADMIN))
    refused = client.post(f"/api/cad/dead-letters/{m.pk}/replay")
    assert refused.status_code == 409 and "still cannot be built" in refused.json()["detail"]
    monkeypatch.setattr(messages, "facts", real)
    ok = client.post(f"/api/cad/dead-letters/{m.pk}/replay")
    assert ok.status_code == 200 and ok.json()["body"]["type"] == "unit_status"
    assert ok.json()["body"]["message_id"] == str(m.key)

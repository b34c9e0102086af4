"""Calls belong to their source (issue 11, item 2).

The idempotency key is (source, CAD incident id): a repeat by the same API client or
person updates its call, another source's id is a new call; once a call has a version,
a versionless update is refused (409 naming updated_at); changing another source's call
needs update_any_call (supervisors, admins) and goes through PUT /api/calls/{id}.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.services import clear_token_cache, create_api_client
from heart.calls.models import Call, TimelineEvent
from heart.domain.triage import CallInput
from heart.errors import Conflict
from heart.intake.services import receive_call
from heart.live import broadcast
from heart.teams.services import assign_team
from tests.conftest import ny
from tests.integration.conftest import DURHAM, race

pytestmark = pytest.mark.django_db

T0 = "2024-03-05T10:00:00-05:00"


def body(cad_id="CAD-1", *, narrative="man pacing, no weapons seen", updated_at=None, **kw):
    out = {
        "cad_incident_id": cad_id,
        "received_at": T0,
        "nature": "CRISIS",
        "lon": DURHAM[0],
        "lat": DURHAM[1],
        "narrative": narrative,
        **kw,
    }
    if updated_at:
        out["updated_at"] = updated_at
    return out


def post(client, url, data, method="post"):
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


@pytest.fixture
def clients():
    clear_token_cache()
    _, a = create_api_client(name="cad-a")
    _, b = create_api_client(name="cad-b")
    return Client(HTTP_AUTHORIZATION=f"Bearer {a}"), Client(HTTP_AUTHORIZATION=f"Bearer {b}")


def test_another_clients_incident_id_is_a_new_call(clients):
    a, b = clients
    first = post(a, "/api/calls", body())
    again = post(a, "/api/calls", body())
    other = post(b, "/api/calls", body(narrative="he has a gun and shot at people"))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    mine = Call.objects.get(pk=first.json()["id"])
    assert mine.route != "standard" and "gun" not in mine.narrative  # untouched by cad-b
    assert Call.objects.filter(cad_incident_id="CAD-1").count() == 2


def test_a_call_taker_cannot_rewrite_a_cad_call_with_a_team_on_it(
    clients, person, staffed_team, program, django_capture_on_commit_callbacks
):
    """The attack from the issue: a call taker posts the CAD id of a live call with a
    team on scene as SHOTS FIRED. It is a new call of theirs; the CAD's call, its team
    and the board are untouched (no re-route alarm)."""
    a, _ = clients
    team = staffed_team("T1")
    cad_call = Call.objects.get(pk=post(a, "/api/calls", body("LIVE-9")).json()["id"])
    assign_team(call=cad_call, team=team, actor=SYSTEM, program=program)
    taker = Client()
    taker.force_login(person("call_taker"))
    got = []
    unsub = broadcast.subscribe(lambda n, p: got.append(n))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = post(taker, "/api/calls", body("LIVE-9", nature="SHOTS FIRED"))
    finally:
        unsub()
    assert r.status_code == 201 and r.json()["created"] is True
    cad_call.refresh_from_db()
    assert cad_call.nature == "CRISIS" and cad_call.route == "crt"
    assert not cad_call.timeline.filter(kind="rerouted").exists()
    assert "call.rerouted" not in got
    assert Call.objects.get(pk=r.json()["id"]).source_key.startswith("user:")


def test_versionless_update_of_a_versioned_call_is_refused(clients):
    a, _ = clients
    v1 = post(a, "/api/calls", body("V-1", updated_at="2024-03-05T10:01:00-05:00"))
    assert v1.status_code == 201
    bare = post(a, "/api/calls", body("V-1", narrative="he has a knife"))
    assert bare.status_code == 409, bare.content
    err = bare.json()
    assert err["errors"][0]["path"] == "updated_at" and "version" in err["detail"]
    stored = Call.objects.get(pk=v1.json()["id"])
    assert "knife" not in stored.narrative
    assert stored.timeline.filter(kind="updated").count() == 0
    older = post(
        a, "/api/calls", body("V-1", narrative="knife", updated_at="2024-03-05T10:00:30-05:00")
    )
    assert older.status_code == 200 and older.json()["created"] is False
    assert "knife" not in Call.objects.get(pk=v1.json()["id"]).narrative
    newer = post(
        a, "/api/calls", body("V-1", narrative="knife", updated_at="2024-03-05T10:02:00-05:00")
    )
    assert newer.status_code == 200 and "knife" in Call.objects.get(pk=v1.json()["id"]).narrative


def test_the_intake_answer_matches_its_documented_schema(clients, staffed_team):
    from heart.intake.api import IntakeOut

    a, _ = clients
    staffed_team("T1")
    for r in (post(a, "/api/calls", body("S-1")), post(a, "/api/calls", body("S-1"))):
        assert r["Content-Type"] == "application/json"
        out = IntakeOut.model_validate(r.json())
        assert out.model_dump(mode="json") == r.json()
    assert r.json()["created"] is False


def test_a_versionless_call_accepts_updates_with_or_without_a_version(clients):
    a, _ = clients
    first = post(a, "/api/calls", body("NV-1"))
    assert post(a, "/api/calls", body("NV-1", narrative="calmer")).status_code == 200
    assert post(a, "/api/calls", body("NV-1", updated_at=T0)).status_code == 200
    assert Call.objects.get(pk=first.json()["id"]).source_updated_at is not None


def test_correcting_a_call_needs_its_source_or_update_any_call(clients, person):
    a, b = clients
    cid = post(a, "/api/calls", body("C-1", updated_at=T0)).json()["id"]
    correction = body(narrative="he has a gun", updated_at="2024-03-05T10:03:00-05:00")
    correction.pop("cad_incident_id")
    denied = post(b, f"/api/calls/{cid}", correction, method="put")
    assert denied.status_code == 403 and "update_any_call" in denied.json()["detail"]
    taker = Client()
    taker.force_login(person("call_taker"))
    assert post(taker, f"/api/calls/{cid}", correction, method="put").status_code == 403
    assert "gun" not in Call.objects.get(pk=cid).narrative
    sup = Client()
    sup.force_login(person("supervisor"))
    versionless = {k: v for k, v in correction.items() if k != "updated_at"}
    assert post(sup, f"/api/calls/{cid}", versionless, method="put").status_code == 409
    ok = post(sup, f"/api/calls/{cid}", correction, method="put")
    assert ok.status_code == 200, ok.content
    stored = Call.objects.get(pk=cid)
    assert "gun" in stored.narrative and ok.json()["route"] == stored.route != "crt"
    assert "weapon_in_narrative" in stored.reason_codes
    assert stored.source_key.startswith("client:")  # still the CAD's call
    line = stored.timeline.get(kind="updated")
    assert line.actor_label.startswith("user:supervisor")
    # the owner corrects its own call; a missing call is 404
    again = dict(correction, updated_at="2024-03-05T10:04:00-05:00", narrative="calm")
    assert post(a, f"/api/calls/{cid}", again, method="put").status_code == 200
    assert post(sup, "/api/calls/999999", correction, method="put").status_code == 404


def test_a_call_taker_corrects_a_call_they_typed_in(person):
    taker = person("call_taker")
    c = Client()
    c.force_login(taker)
    r = c.post("/calls/new", {"nature": "CRISIS", "lon": DURHAM[0], "lat": DURHAM[1]})
    call = Call.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"?saved={call.pk}")
    assert call.cad_incident_id is None and call.source_key == f"user:{taker.pk}"
    fix = body(nature="WELFARE CHECK")
    fix.pop("cad_incident_id")
    assert post(c, f"/api/calls/{call.pk}", fix, method="put").status_code == 200
    assert Call.objects.get().nature == "WELFARE CHECK"
    other = Client()
    other.force_login(person("call_taker"))
    assert post(other, f"/api/calls/{call.pk}", fix, method="put").status_code == 403


def test_service_scopes_the_key_by_actor(program):
    def deliver(actor, narrative):
        return receive_call(
            call=CallInput(received_at=ny(2024, 3, 5, 10, 0), nature="CRISIS", narrative=narrative),
            actor=actor,
            program=program,
            cad_incident_id="S-1",
            source_updated_at=ny(2024, 3, 5, 10, 1),
        )

    one = deliver(Actor("system"), "calm")
    two = deliver(Actor("cli"), "calm")
    assert one.call.pk != two.call.pk and one.created and two.created
    with pytest.raises(Conflict) as exc:
        receive_call(
            call=CallInput(received_at=ny(2024, 3, 5, 10, 0), nature="CRISIS"),
            actor=Actor("system"),
            program=program,
            cad_incident_id="S-1",
        )
    assert exc.value.path == "updated_at"


def test_previous_route_is_read_in_the_same_write(program, staffed_team, on_duty_now):
    """The re-route alarm still fires for the call's own source (one round trip on
    PostgreSQL: the old route comes back from the upsert)."""
    team = staffed_team("T9", now=on_duty_now)
    kw = dict(actor=SYSTEM, program=program, cad_incident_id="R-1", now=on_duty_now)
    call = receive_call(
        call=CallInput(received_at=on_duty_now, nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1]),
        **kw,
    ).call
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=on_duty_now)
    receive_call(
        call=CallInput(
            received_at=on_duty_now,
            nature="CRISIS",
            lon=DURHAM[0],
            lat=DURHAM[1],
            narrative="he has a gun and is shooting at people",
        ),
        **kw,
    )
    line = TimelineEvent.objects.get(call=call, kind="rerouted")
    assert line.data["from"] == "crt" and line.data["to"] == "standard"


# ------------------------------------------------------------------ concurrency (PostgreSQL)

N = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_by_one_client_make_one_call(postgres_only, program):
    client, _ = create_api_client(name="cad-race")
    actor = Actor.for_client(client)
    call = CallInput(
        received_at=ny(2024, 3, 5, 10, 0), nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1]
    )
    jobs = [
        (
            lambda: receive_call(
                call=call, actor=actor, program=program, cad_incident_id="RACE-1", source="eido"
            )
        )
        for _ in range(N)
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == [] and conflicts == []
    assert len(wins) == N and sum(w.created for w in wins) == 1
    assert len({w.call.pk for w in wins}) == 1
    assert Call.objects.filter(cad_incident_id="RACE-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_by_two_clients_make_two_calls(postgres_only, program):
    actors = [Actor.for_client(create_api_client(name=f"cad-{i}")[0]) for i in range(2)]
    call = CallInput(
        received_at=ny(2024, 3, 5, 10, 0), nature="CRISIS", lon=DURHAM[0], lat=DURHAM[1]
    )
    jobs = [
        (
            lambda a=actors[i % 2]: receive_call(
                call=call, actor=a, program=program, cad_incident_id="RACE-2", source="eido"
            )
        )
        for i in range(N)
    ]
    wins, conflicts, errors = race(jobs)
    assert errors == [] and conflicts == []
    assert sum(w.created for w in wins) == 2
    rows = Call.objects.filter(cad_incident_id="RACE-2")
    assert rows.count() == 2
    assert {r.source_key for r in rows} == {a.source_key for a in actors}

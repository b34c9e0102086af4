"""Fuzzing the whole JSON API from its own OpenAPI document, signed in for real.

For every operation the schema lists:

1. one request that must work (WORKS below: the state it needs is prepared first) is
   sent and must answer 2xx: proof the operation's handler is reached and serves;
2. schemathesis generates requests (valid and invalid bodies, query strings, path ids);
   half of them get the ids of real rows in their path (the schema has no links, so
   this stands in for stateful sequences), and every one is sent through Django's test
   client signed in as a supervisor with the CSRF token the browser would send (the
   session cookie stays in the client's jar, so it is never lost);
3. the property: never a 5xx.

schemathesis also sends each operation's path a method it does not take (405); for an
operation with no input at all (GET /api/me) that is the only 4xx it can give.

The status codes met are counted per operation; the last test prints the histogram and
fails unless every operation met at least one 2xx and one 4xx other than 401/403 (a run
that only reaches the authentication layer fails) and no 5xx. An operation added to the
API without a WORKS row fails too. ``test_each_role_never_5xx`` sends each WORKS
request as every role and as an anonymous visitor: allowed or refused, never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.roles import (
    ADMIN,
    CARE_NAVIGATOR,
    CRISIS_CLINICIAN,
    RESPONDER,
    ROLES,
    SUPERVISOR,
)
from heart.calls.models import Call
from heart.care import services as care
from heart.program_in_force import current_program
from heart.teams.services import assign_team, change_status
from heart.web.wsgi import application
from tests.integration.conftest import DURHAM
from tests.integration.test_care_support import disposition

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

# real commits: a failed statement must not poison a wrapping test transaction on PostgreSQL
pytestmark = pytest.mark.django_db(transaction=True)

# "METHOD /path" -> status code -> count, over the whole run
HISTOGRAM: dict[str, Counter] = defaultdict(Counter)


def _signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/accounts/login/")  # the CSRF cookie, as a browser gets it
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


@dataclass
class World:
    """Rows every operation can be pointed at, and clients signed in as people."""

    now: dt.datetime
    ids: dict[str, int | str]
    clients: dict[str, Client]
    person: Callable
    team: Callable
    extra: dict = field(default_factory=dict)

    def id_for(self, name: str) -> int | None:
        """A real row id for a path parameter name (call_id -> an open call …)."""
        key = {
            "call_id": "call",
            "team_id": "team",
            "task_id": "task",
            "encounter_id": "encounter",
            "person_id": "person",
            "merge_id": "merge",
            "referral_id": "referral",
            "shift_id": "shift",
            "message_id": "message",
        }.get(name)
        value = self.ids.get(key) if key else None
        return value if isinstance(value, int) else None


@pytest.fixture
def world(person, staffed_team, co_response_unit) -> World:
    now = timezone.now()
    responder = person(RESPONDER, "clinician")
    members = [
        (responder, "clinician"),
        (person(RESPONDER, "peer_support"), "peer_support"),
        (person(RESPONDER, "emt"), "emt"),
    ]
    t1 = staffed_team("Fuzz 1", now=now, members=members)
    t2 = staffed_team("Fuzz 2", now=now)

    def call(route: str) -> Call:
        return Call.objects.create(
            received_at=now,
            nature="CRISIS",
            route=route,
            rules_version="v",
            program="p",
            lon=DURHAM[0],
            lat=DURHAM[1],
        )

    on_t1, ccd, co, open_crt = call("crt"), call("ccd"), call("co_response"), call("crt")
    assign_team(call=on_t1, team=t1, actor=SYSTEM, program=current_program(), now=now)
    nav_user = person(CARE_NAVIGATOR)
    nav = Actor.for_user(nav_user)
    enc = disposition(at=now - dt.timedelta(hours=1))
    care.record_consent(encounter_id=enc.pk, actor=nav, share=True)
    dup = care.create_person(actor=nav, name="Maria Lopes", phone="919 555 0102")
    provider = care.create_provider(actor=nav, name="Clinic", services=["mental_health"])
    referral = care.create_referral(
        actor=nav, person_id=enc.person_id, provider_id=provider.pk, service="mental_health"
    )
    supervisor = person(SUPERVISOR)
    clinician = person(CRISIS_CLINICIAN)
    co_unit, _ = co_response_unit("Fuzz CR", now=now)
    free_responder = person(RESPONDER, "clinician")  # trained, on no shift
    from heart.teams.models import Shift

    return World(
        now=now,
        ids={
            "call": open_crt.pk,
            "on_t1": on_t1.pk,
            "ccd": ccd.pk,
            "co": co.pk,
            "team": t2.pk,
            "t1": t1.pk,
            "task": enc.follow_up.pk,
            "encounter": enc.pk,
            "person": enc.person_id,
            "dup": dup.pk,
            "provider": provider.pk,
            "referral": referral.pk,
            "clinician": clinician.username,
            "supervisor_user": supervisor.pk,
            "co_unit": co_unit.pk,
            "free_responder": free_responder.username,
            "shift": Shift.objects.filter(team=t2).values_list("pk", flat=True).first(),
            "soon_start": (now + dt.timedelta(days=1)).isoformat(),
            "soon_end": (now + dt.timedelta(days=1, hours=10)).isoformat(),
            "today": timezone.localdate(now).isoformat(),  # the program's own day
        },
        clients={
            "supervisor": _signed_in(supervisor),
            "responder": _signed_in(responder),
            "admin": _signed_in(person(ADMIN)),
        },
        person=person,
        team=staffed_team,
    )


def send(client: Client, method: str, path: str, *, query=None, body=None) -> int:
    kwargs = {"QUERY_STRING": _query(query)} if query else {}
    if method == "GET":
        r = client.get(path, **kwargs)
    else:
        data = body if isinstance(body, str | bytes) else json.dumps(body if body else {})
        r = client.generic(method, path, data=data, content_type="application/json", **kwargs)
    return r.status_code


def _query(query: dict) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)


def _on_scene(w: World) -> None:
    """Team 1 on scene at a call, whatever earlier requests did to it."""
    from heart.teams.models import Team

    team = Team.objects.get(pk=w.ids["t1"])
    if team.status == "available":
        call = Call.objects.create(
            received_at=timezone.now(), nature="CRISIS", route="crt", rules_version="v", program="p"
        )
        assign_team(call=call, team=team, actor=SYSTEM, program=current_program())
        team.refresh_from_db()
    for status in ("en_route", "on_scene"):
        if team.status in ("dispatched", "en_route") and team.status != status:
            team = change_status(team=team, status=status, actor=SYSTEM)


def _merged(w: World) -> int:
    nav = Actor.for_user(w.person(CARE_NAVIGATOR))
    return care.merge_people(survivor_id=w.ids["person"], duplicate_id=w.ids["dup"], actor=nav).pk


def _eido(w: World) -> dict:
    from tests.integration.test_api_intake import eido

    return eido(incident_id="urn:emergency:uid:callid:fuzz-works")


def _dead_letter(w: World) -> dict:
    """A CAD write-back message the CAD refused (heart.cad): a dead letter to replay."""
    from heart.cad.models import OutboxMessage
    from heart.events.models import Event

    event = Event.objects.create(name="team.status", at=timezone.now(), payload={})
    m = OutboxMessage.objects.create(
        event=event,
        stream="call:1",
        kind="unit_status",
        format="webhook",
        body={"type": "unit_status"},
        state=OutboxMessage.State.DEAD,
        next_attempt_at=timezone.now(),
    )
    w.ids["message"] = m.pk
    return {"message": m.pk}


def _backup(w: World, *, acknowledged: bool = False) -> dict:
    """Team 1 asks for police backup (and a dispatcher saw it, if asked)."""
    from heart.teams.models import Team
    from heart.teams.services import acknowledge_backup, request_backup

    _on_scene(w)
    b = request_backup(team=Team.objects.get(pk=w.ids["t1"]), actor=SYSTEM)
    if acknowledged:
        acknowledge_backup(backup_call_id=b.pk, actor=Actor.for_user(w.person(SUPERVISOR)))
    return {"backup": b.pk}


def _free_call(w: World) -> dict:
    """An open police call no team is on."""
    c = Call.objects.create(
        received_at=timezone.now(),
        nature="ASSAULT",
        route="standard",
        rules_version="v",
        program="p",
    )
    return {"free": c.pk}


_NOW = "{now}"
# "METHOD /api/path" -> (who, prepare(world) -> None | extra ids, path, body)
# who: "supervisor" | "responder"; ids in the path/body as {name} from World.ids
WORKS: dict[str, tuple] = {
    "POST /api/calls/eido": ("supervisor", None, "/api/calls/eido", _eido),
    "POST /api/calls": (
        "supervisor",
        None,
        "/api/calls",
        {"received_at": _NOW, "nature": "CRISIS", "lon": DURHAM[0], "lat": DURHAM[1]},
    ),
    "PUT /api/calls/{call_id}": (
        "supervisor",  # holds update_any_call: corrects a call another source delivered
        None,
        "/api/calls/{call}",
        {"received_at": _NOW, "nature": "WELFARE CHECK", "lon": DURHAM[0], "lat": DURHAM[1]},
    ),
    "GET /api/calls": ("supervisor", None, "/api/calls", None),
    "GET /api/calls/{call_id}": ("supervisor", None, "/api/calls/{call}", None),
    "GET /api/ccd/queue": ("supervisor", None, "/api/ccd/queue", None),
    "POST /api/calls/{call_id}/ccd-outcome": (
        "supervisor",
        None,
        "/api/calls/{ccd}/ccd-outcome",
        {"outcome": "resolved_by_phone"},
    ),
    "POST /api/calls/{call_id}/ccd-claim": ("supervisor", None, "/api/calls/{ccd}/ccd-claim", {}),
    "POST /api/calls/{call_id}/ccd-release": (
        "supervisor",
        None,
        "/api/calls/{ccd}/ccd-release",
        {},
    ),
    "GET /api/geocode": ("supervisor", None, "/api/geocode?q=101%20City%20Hall%20Plaza", None),
    "GET /api/follow-ups": ("supervisor", None, "/api/follow-ups", None),
    "GET /api/reports/summary": ("supervisor", None, "/api/reports/summary", None),
    "GET /api/calls/{call_id}/recommendation": (
        "supervisor",
        None,
        "/api/calls/{call}/recommendation",
        None,
    ),
    "POST /api/calls/{call_id}/assign": (
        "supervisor",
        None,
        "/api/calls/{call}/assign",
        {"team_id": "{team}"},
    ),
    "POST /api/calls/{call_id}/co-response": (
        "supervisor",
        None,
        "/api/calls/{co}/co-response",
        {"team_id": "{co_unit}", "police_call_sign": "D1-7"},
    ),
    "POST /api/calls/{call_id}/keep-team": (
        "supervisor",
        lambda w: Call.objects.filter(pk=w.ids["on_t1"]).update(route="standard") and None,
        "/api/calls/{on_t1}/keep-team",
        {"override_reason": "the team is already with the person and it is calm"},
    ),
    "POST /api/calls/{call_id}/release": ("supervisor", None, "/api/calls/{on_t1}/release", {}),
    "GET /api/calls/{call_id}/overrides": (
        "supervisor",
        None,
        "/api/calls/{on_t1}/overrides",
        None,
    ),
    "GET /api/reports/overrides": ("supervisor", None, "/api/reports/overrides", None),
    "GET /api/shifts": ("supervisor", None, "/api/shifts", None),
    "POST /api/shifts/{shift_id}/end": ("supervisor", None, "/api/shifts/{shift}/end", {}),
    "GET /api/training": ("supervisor", None, "/api/training", None),
    # the CAD write-back's dead letters: admins only
    "GET /api/cad/dead-letters": ("admin", _dead_letter, "/api/cad/dead-letters", None),
    "POST /api/cad/dead-letters/{message_id}/replay": (
        "admin",
        _dead_letter,
        "/api/cad/dead-letters/{message}/replay",
        {},
    ),
    "POST /api/cad/dead-letters/{message_id}/discard": (
        "admin",
        _dead_letter,
        "/api/cad/dead-letters/{message}/discard",
        {},
    ),
    "POST /api/training/records": (
        "supervisor",
        None,
        "/api/training/records",
        {"username": "{free_responder}", "training": "de_escalation", "completed_on": "{today}"},
    ),
    "GET /api/teams": ("supervisor", None, "/api/teams", None),
    "POST /api/teams": ("supervisor", None, "/api/teams", {"name": "Fuzz new team"}),
    "POST /api/teams/{team_id}/shifts": (
        "supervisor",
        None,
        "/api/teams/{team}/shifts",
        {
            "starts_at": "{soon_start}",
            "ends_at": "{soon_end}",
            "members": [{"username": "{free_responder}", "discipline": "clinician"}],
        },
    ),
    "POST /api/teams/{team_id}/status": (
        "supervisor",
        None,
        "/api/teams/{t1}/status",
        {"status": "en_route"},
    ),
    "POST /api/teams/{team_id}/backup": ("supervisor", None, "/api/teams/{t1}/backup", {}),
    "POST /api/backups/{backup_call_id}/ack": (
        "supervisor",
        _backup,
        "/api/backups/{backup}/ack",
        {},
    ),
    "GET /api/backups/{backup_call_id}/ack": (
        "supervisor",
        lambda w: _backup(w, acknowledged=True),
        "/api/backups/{backup}/ack",
        None,
    ),
    "POST /api/calls/{call_id}/close": (
        "supervisor",
        _free_call,
        "/api/calls/{free}/close",
        {"disposition": "duplicate"},
    ),
    "POST /api/calls/{call_id}/notes": (
        "supervisor",
        _free_call,
        "/api/calls/{free}/notes",
        {"text": "Second caller: both left on foot."},
    ),
    "POST /api/teams/{team_id}/clear": (
        "supervisor",
        _on_scene,
        "/api/teams/{t1}/clear",
        {"outcome": "resolved_on_scene"},
    ),
    "GET /api/me": ("responder", None, "/api/me", None),
    "POST /api/avl": (
        "responder",
        None,
        "/api/avl",
        {"fixes": [{"lon": DURHAM[0], "lat": DURHAM[1], "recorded_at": _NOW}]},
    ),
    "GET /api/care/queue": ("supervisor", None, "/api/care/queue", None),
    "GET /api/care/tasks/{task_id}": ("supervisor", None, "/api/care/tasks/{task}", None),
    "POST /api/care/tasks/{task_id}/take": (
        "supervisor",
        None,
        "/api/care/tasks/{task}/take",
        {},
    ),
    "POST /api/care/tasks/{task_id}/release": (
        "supervisor",
        None,
        "/api/care/tasks/{task}/release",
        {},
    ),
    "POST /api/care/tasks/{task_id}/attempts": (
        "supervisor",
        None,
        "/api/care/tasks/{task}/attempts",
        {"channel": "phone", "outcome": "left_message"},
    ),
    "POST /api/care/encounters/{encounter_id}/consent": (
        "supervisor",
        None,
        "/api/care/encounters/{encounter}/consent",
        {"follow_up": True},
    ),
    "POST /api/care/encounters/{encounter_id}/person": (
        "supervisor",
        None,
        "/api/care/encounters/{encounter}/person",
        {"person_id": "{dup}"},
    ),
    "GET /api/care/people": ("supervisor", None, "/api/care/people?q=Maria", None),
    "POST /api/care/people": ("supervisor", None, "/api/care/people", {"name": "Ana Diaz"}),
    "GET /api/care/people/{person_id}": ("supervisor", None, "/api/care/people/{person}", None),
    "PATCH /api/care/people/{person_id}": (
        "supervisor",
        None,
        "/api/care/people/{person}",
        {"notes": "prefers texts"},
    ),
    "GET /api/care/people/{person_id}/timeline": (
        "supervisor",
        None,
        "/api/care/people/{person}/timeline",
        None,
    ),
    "GET /api/care/people/{person_id}/duplicates": (
        "supervisor",
        None,
        "/api/care/people/{person}/duplicates",
        None,
    ),
    "POST /api/care/people/{person_id}/merge": (
        "supervisor",
        None,
        "/api/care/people/{person}/merge",
        {"duplicate_id": "{dup}"},
    ),
    "POST /api/care/merges/{merge_id}/undo": (
        "supervisor",
        lambda w: {"merge": _merged(w)},
        "/api/care/merges/{merge}/undo",
        {},
    ),
    "GET /api/care/people/{person_id}/audit": (
        "supervisor",
        None,
        "/api/care/people/{person}/audit",
        None,
    ),
    "GET /api/care/people/{person_id}/export": (
        "supervisor",
        None,
        "/api/care/people/{person}/export",
        None,
    ),
    "POST /api/care/people/{person_id}/erase": (
        "supervisor",
        None,
        "/api/care/people/{person}/erase",
        {"legal_basis": "a written request under the state privacy law"},
    ),
    "GET /api/care/people/{person_id}/fhir": (
        "supervisor",
        None,
        "/api/care/people/{person}/fhir",
        None,
    ),
    "GET /api/care/providers": ("supervisor", None, "/api/care/providers", None),
    "POST /api/care/providers": (
        "supervisor",
        None,
        "/api/care/providers",
        {"name": "Walk-in Center", "services": ["mental_health"]},
    ),
    "POST /api/care/referrals": (
        "supervisor",
        None,
        "/api/care/referrals",
        {"provider_id": "{provider}", "service": "mental_health", "person_id": "{person}"},
    ),
    "POST /api/care/referrals/{referral_id}/status": (
        "supervisor",
        None,
        "/api/care/referrals/{referral}/status",
        {"status": "accepted"},
    ),
    "GET /api/care/calls/{call_id}/repeat": (
        "supervisor",
        None,
        "/api/care/calls/{on_t1}/repeat",
        None,
    ),
    "GET /api/care/calls/{call_id}/people": (
        "supervisor",
        None,
        "/api/care/calls/{on_t1}/people",
        None,
    ),
    "GET /api/care/reports/sla": ("supervisor", None, "/api/care/reports/sla", None),
    "GET /api/care/reports/before-after": (
        "supervisor",
        None,
        "/api/care/reports/before-after",
        None,
    ),
}


def _fill(value, ids: dict):
    if isinstance(value, str):
        for k, v in ids.items():
            if value == "{" + k + "}":
                return v
            value = value.replace("{" + k + "}", str(v))
        return value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def works_request(w: World, key: str) -> tuple[str, str, str, object]:
    """(who, method, path, body) of the operation's known-good request, state prepared."""
    if key not in WORKS:
        pytest.fail(f"{key}: a new API operation needs a WORKS row in this test")
    who, prepare, path, body = WORKS[key]
    extra = prepare(w) if prepare else None
    ids = {**w.ids, **(extra or {}), "now": timezone.now().isoformat()}
    if callable(body):
        body = body(w)
    return who, key.split(" ", 1)[0], _fill(path, ids), _fill(body, ids)


def _operation_keys() -> list[str]:
    return [
        f"{op.ok().method.upper()} {op.ok().path}"
        for op in schema.get_all_operations()
        if hasattr(op, "ok")
    ]


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors(case, world):
    # schemathesis also probes methods the operation does not take (TRACE …): count
    # those under the operation they were aimed at
    key = f"{case.operation.method.upper()} {case.operation.path}"
    counts = HISTOGRAM[key]
    if not world.extra.get("worked"):
        # the operation serves: its known-good request answers 2xx (fresh state per test)
        who, method, path, body = works_request(world, key)
        status = send(world.clients[who], method, path, body=body)
        counts[status] += 1
        assert 200 <= status < 300, f"{key}: the known-good request got {status}"
        world.extra["worked"] = True
    rng = random.Random(repr((case.path_parameters, case.query, case.body)))
    params = {
        name: (real if (real := world.id_for(name)) is not None and rng.random() < 0.5 else value)
        for name, value in (case.path_parameters or {}).items()
    }
    path = case.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", str(value))
    body = None if isinstance(case.body, NotSet) else case.body
    # as the supervisor, or as an admin for the operations only admins may use
    who = "admin" if WORKS.get(key, ("supervisor",))[0] == "admin" else "supervisor"
    status = send(world.clients[who], case.method.upper(), path, query=case.query, body=body)
    counts[status] += 1
    assert status < 500, f"{case.method} {path} -> {status} (body {str(body)[:300]})"


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_each_role_never_5xx(role, world):
    """Every known-good request as every role (and signed out): allowed or refused,
    never a crash, and the refusals are 401/403, not a 404 leak of the row."""
    client = Client(enforce_csrf_checks=False)
    if role != "anonymous":
        client.force_login(world.person(role))
    for key in sorted(WORKS):
        _, method, path, body = works_request(world, key)
        status = send(client, method, path, body=body)
        assert status < 500, f"{role}: {key} -> {status}"
        if role == "anonymous":
            assert status in (401, 403), f"anonymous: {key} -> {status}"


def test_every_operation_reached_its_handler(capsys):
    """Runs after the fuzzing above (same module, file order): prints the histogram and
    checks it. Run alone it fails, since nothing was counted."""
    keys = _operation_keys()
    rows = []
    missing = []
    for key in keys:
        counts = HISTOGRAM.get(key, Counter())
        ok = sum(n for s, n in counts.items() if 200 <= s < 300)
        client_errors = sum(n for s, n in counts.items() if 400 <= s < 500 and s not in (401, 403))
        server_errors = sum(n for s, n in counts.items() if s >= 500)
        rows.append(f"{key:<55} " + " ".join(f"{s}:{n}" for s, n in sorted(counts.items())))
        if not ok or not client_errors or server_errors:
            missing.append(
                f"{key}: 2xx {ok}, 4xx (not 401/403) {client_errors}, 5xx {server_errors}"
            )
    with capsys.disabled():
        print("\nAPI fuzz: status codes per operation")
        print("\n".join(rows))
    assert keys, "no operations found"
    assert not missing, "operations not reached or failing:\n" + "\n".join(missing)


def test_an_id_beyond_64_bits_is_a_422_not_a_500(world):
    """Found by this fuzzing: merging with an id beyond 64 bits made SQLite's driver raise
    OverflowError (a 500; PostgreSQL says DataError). Unknown ids are a 404, and any
    other out-of-range value a 422."""
    huge = 2**70
    client = world.clients["supervisor"]
    for path in (f"/api/calls/{huge}", f"/api/care/people/{huge}/audit", f"/api/care/tasks/{huge}"):
        assert send(client, "GET", path) in (404, 422), path
    call = world.ids["call"]
    assert send(client, "POST", f"/api/calls/{call}/assign", body={"team_id": huge}) in (404, 422)
    body = {"person_id": huge}
    assert send(
        client, "POST", f"/api/care/encounters/{world.ids['encounter']}/person", body=body
    ) in (404, 422)

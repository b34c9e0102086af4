"""Intake API: EIDO and plain JSON, tokens, idempotency, malformed input, OpenAPI."""

from __future__ import annotations

import copy
import functools
import json

import pytest
from django.test import Client

from heart.accounts.services import clear_token_cache, create_api_client
from heart.calls.models import Call
from tests.conftest import shared_path
from tests.integration.conftest import DURHAM

pytestmark = pytest.mark.django_db


@functools.cache
def nena_sample() -> dict:
    """The NENA EIDO sample, read from ../shared (never copied into the repository)."""
    return json.loads((shared_path() / "standards/eido/sample_call_transfer_eido.json").read_text())


PIDF_POINT = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.com">'
    '<dm:device id="d1"><gp:geopriv><gp:location-info>'
    '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{lat} {lon}</gml:pos></gml:Point>'
    "</gp:location-info></gp:geopriv></dm:device></presence>"
)


def eido(nature="CRISIS", *, incident_id=None, updated=None, notes=None, point=DURHAM):
    """The NENA sample plus an incident component, a geodetic point in Durham and a note."""
    doc = copy.deepcopy(nena_sample())
    if incident_id:
        doc["$id"] = incident_id
    # during HEART hours (Tuesday 10:00 Durham time)
    doc["callComponent"][0]["callStartTimestamp"] = "2024-03-05T10:00:00-05:00"
    doc["lastUpdateTimeStamp"] = updated or "2024-03-05T10:01:00-05:00"
    doc["incidentComponent"] = {
        "$id": "urn:emergency:uid:incidentid:heart-test:durham",
        "lastUpdateTimeStamp": "2024-03-05T10:01:00-05:00",
        "updatedByAgencyReference": {"$ref": "state.pa.us"},
        "incidentTypeCommonRegistryText": "Mental Health",
        "incidentTypeInternalCode": nature,
        "incidentTypeInternalText": "Person in crisis",
        "locationReference": [{"$ref": "heart-point"}],
    }
    if point is not None:
        doc["locationComponent"].append(
            {
                "$id": "heart-point",
                "lastUpdateTimeStamp": "2024-03-05T10:00:00-05:00",
                "updatedByAgencyReference": {"$ref": "state.pa.us"},
                "locationTypeDescriptionRegistryText": "Caller",
                "locationByValue": PIDF_POINT.format(lon=point[0], lat=point[1]),
            }
        )
    if notes:
        doc["notesComponent"] = [
            {
                "$id": "n1",
                "lastUpdateTimeStamp": "2024-03-05T10:01:00-05:00",
                "updatedByAgencyReference": {"$ref": "state.pa.us"},
                "notesActionComments": notes,
            }
        ]
    return doc


@pytest.fixture
def cad():
    clear_token_cache()
    _, token = create_api_client(name="cad")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(client, url, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


def test_openapi_is_generated(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/calls/eido" in paths and "/api/calls" in paths


def test_eido_sample_with_incident_is_triaged(cad):
    r = post(cad, "/api/calls/eido", eido(notes="<p>Man talking to himself, no weapons</p>"))
    assert r.status_code == 201, r.content
    body = r.json()
    call = Call.objects.get(pk=body["id"])
    assert body["cad_incident_id"] == nena_sample()["$id"]
    # no teams exist: crt falls back to the crisis line, with the reason
    assert body["route"] == "ccd"
    assert "crt_unavailable" in [x["code"] for x in body["reasons"]]
    assert (round(call.lon, 4), round(call.lat, 4)) == (round(DURHAM[0], 4), round(DURHAM[1], 4))
    assert call.address.startswith("42 W Cellular Street")
    assert call.nature == "CRISIS" and "no weapons" in call.narrative
    assert call.received_at.isoformat().startswith("2024-03-05T15:00")


def test_eido_repeat_and_update_never_duplicate(cad):
    first = post(cad, "/api/calls/eido", eido())
    again = post(cad, "/api/calls/eido", eido())
    updated = post(
        cad,
        "/api/calls/eido",
        eido(notes="he has a knife and hit his brother", updated="2024-03-05T10:05:00-05:00"),
    )
    assert first.status_code == 201 and again.status_code == 200 and updated.status_code == 200
    assert first.json()["id"] == again.json()["id"] == updated.json()["id"]
    assert Call.objects.count() == 1
    assert updated.json()["route"] == "standard"


def test_sample_without_incident_component_is_standard(cad):
    r = post(cad, "/api/calls/eido", nena_sample())
    assert r.status_code == 201, r.content
    assert r.json()["route"] == "standard"
    # the sample is from 2021, before HEART: standard, with the reason
    assert "program_not_operating" in [x["code"] for x in r.json()["reasons"]]


def test_unknown_nature_is_stored_as_standard_with_reason(cad):
    r = post(cad, "/api/calls/eido", eido("ALIEN LANDING"))
    assert r.status_code == 201
    assert r.json()["route"] == "standard"
    assert r.json()["reasons"][0]["code"] == "nature_unknown"
    assert Call.objects.count() == 1


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d.pop("$id"), "$id", "required"),
        (lambda d: d.update(lastUpdateTimeStamp="yesterday"), "lastUpdateTimeStamp", "datetime"),
        (
            lambda d: d["callComponent"][0].update(callStartTimestamp="2024-03-05T10:00:00"),
            "callComponent[0].callStartTimestamp",
            "timezone",
        ),
        (
            lambda d: d["locationComponent"][2].update(locationByValue="<presence><oops"),
            "locationComponent[2].locationByValue",
            "well-formed",
        ),
        (
            lambda d: d["locationComponent"][2].update(
                locationByValue=PIDF_POINT.format(lon=-78.9, lat=123.0)
            ),
            "locationComponent[2].locationByValue",
            "out of range",
        ),
        (lambda d: d.update(callComponent={"a": 1}), "callComponent", "list"),
        (
            lambda d: d["notesComponent"][0].update(notesActionComments="a\u0000b"),
            "notesComponent[0].notesActionComments",
            "NUL",
        ),
        (
            lambda d: d["callComponent"][0].update(callStartTimestamp="9999-12-31T23:00:00-05:00"),
            "callComponent[0].callStartTimestamp",
            "range",
        ),
        (
            lambda d: d["incidentComponent"].update(incidentTypeInternalCode=["CRISIS"]),
            "incidentComponent",
            "string",
        ),
    ],
)
def test_malformed_eido_is_rejected_naming_the_field(cad, mutate, path, words):
    doc = eido(notes="fine")
    mutate(doc)
    r = post(cad, "/api/calls/eido", doc)
    assert r.status_code == 422, r.content
    body = r.json()
    assert any(e["path"].startswith(path) for e in body["errors"]), body
    assert words.lower() in body["detail"].lower(), body
    assert Call.objects.count() == 0


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", '"text"', "\xff\xfe"])
def test_unparseable_body_is_4xx(cad, raw):
    r = post(cad, "/api/calls/eido", raw)
    assert 400 <= r.status_code < 500
    assert r.json()["detail"]
    assert Call.objects.count() == 0


def test_plain_json_call_and_idempotency(cad):
    body = {
        "cad_incident_id": "DPD-2024-1",
        "received_at": "2024-03-05T10:00:00-05:00",
        "nature": "welfare check",
        "lon": DURHAM[0],
        "lat": DURHAM[1],
        "narrative": "elderly man confused at bus stop",
    }
    a = post(cad, "/api/calls", body)
    b = post(cad, "/api/calls", body)
    assert a.status_code == 201 and b.status_code == 200
    assert a.json()["id"] == b.json()["id"]
    assert a.json()["route"] in ("crt", "ccd")
    assert a.json()["reasons"] and a.json()["rules_version"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"received_at": "2024-03-05T10:00:00"}, "received_at"),
        ({"nature": ""}, "nature"),
        ({"lat": 95.0}, "lat"),
        ({"lat": None}, "body"),
        ({"weapon_flag": "maybe"}, "weapon_flag"),
        ({"received_at": "9999-12-31T23:59:59-05:00"}, "received_at"),
        ({"received_at": "1970-01-01T00:00:00+00:00"}, "received_at"),
        ({"nature": "CRI\u0000SIS"}, "nature"),
        ({"cad_incident_id": "a\u0000b"}, "cad_incident_id"),
    ],
)
def test_malformed_plain_call(cad, change, path):
    body = {
        "received_at": "2024-03-05T10:00:00-05:00",
        "nature": "CRISIS",
        "lon": DURHAM[0],
        "lat": DURHAM[1],
        **change,
    }
    r = post(cad, "/api/calls", body)
    assert r.status_code == 422, r.content
    assert any(e["path"] == path for e in r.json()["errors"]), r.json()
    assert Call.objects.count() == 0


def test_missing_or_bad_token_is_401(client):
    r = post(client, "/api/calls/eido", eido())
    assert r.status_code == 401
    bad = Client(HTTP_AUTHORIZATION="Bearer heart_nope")
    assert post(bad, "/api/calls/eido", eido()).status_code == 401
    assert Call.objects.count() == 0


def test_token_is_stored_hashed():
    from heart.accounts.models import ApiClient

    client, token = create_api_client(name="x")
    assert token not in ApiClient.objects.get(pk=client.pk).token_hash
    assert len(ApiClient.objects.get(pk=client.pk).token_hash) == 64


def test_call_taker_form(client, person):
    taker = person("call_taker")
    client.force_login(taker)
    r = client.get("/calls/new")
    assert r.status_code == 200 and b"csrfmiddlewaretoken" in r.content
    r = client.post(
        "/calls/new",
        {
            "nature": "CRISIS",
            "received_at": "2024-03-05 10:00",
            "lon": DURHAM[0],
            "lat": DURHAM[1],
        },
    )
    # saved: the browser is sent to the page that shows the saved call (a reload never
    # enters it twice)
    c = Call.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"?saved={c.pk}")
    assert c.source == "call_taker" and c.timeline.filter(kind="received").exists()
    shown = client.get(r["Location"])
    assert shown.status_code == 200 and c.get_route_display().encode() in shown.content
    bad = client.post("/calls/new", {"nature": "", "lon": 1})
    assert bad.status_code == 422 and Call.objects.count() == 1
    analyst = person("analyst")
    client.force_login(analyst)
    assert client.get("/calls/new").status_code == 403


def test_form_enforces_csrf(person):
    c = Client(enforce_csrf_checks=True)
    c.force_login(person("call_taker"))
    assert c.post("/calls/new", {"nature": "CRISIS"}).status_code == 403
    assert Call.objects.count() == 0

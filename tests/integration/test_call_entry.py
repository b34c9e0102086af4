"""Call entry (the call-taker form and its address lookup), EIDO calls with only a civic
address, and the crisis line's claims and closed-call messages.

The geocoder is a small address-point file written for these tests
(tests/fixtures/address_points.csv), configured through settings.HEART_GEOCODER."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import pytest
from django.test import Client

from heart.calls.models import Call, TimelineEvent
from heart.intake import locate
from heart.intake.models import CcdClaim
from tests.integration.test_api_intake import eido
from tests.integration.test_care_support import make_call

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "address_points.csv"
IN_HOURS = "2024-03-05 10:00"  # a Tuesday morning: the team is on


@pytest.fixture
def address_file(settings):
    settings.HEART_GEOCODER = {"kind": "file", "path": str(FIXTURE)}
    return settings


@pytest.fixture
def taker(person):
    c = Client()
    c.force_login(person("call_taker"))
    return c


def codes(call: Call) -> list[str]:
    return [r["code"] for r in call.reasons]


# ------------------------------------------------------------------ the form


def test_the_form_offers_the_programs_call_types_and_priorities(taker):
    r = taker.get("/calls/new")
    html = r.content.decode()
    assert r.status_code == 200
    assert '<datalist id="call-types">' in html and 'value="WELFARE CHECK"' in html
    assert 'list="call-types"' in html
    for p in ("1", "2", "3", "4", "5"):
        assert f'<option value="{p}">{p}</option>' in html
    assert 'type="tel"' in html and 'name="callback"' in html
    assert 'href="/board/"' in html  # the app's navigation


def test_a_call_type_not_in_the_list_is_refused_beside_the_field(taker):
    r = taker.post("/calls/new", {"nature": "something odd", "received_at": IN_HOURS})
    assert r.status_code == 422 and Call.objects.count() == 0
    assert "Choose a call type from the program" in r.content.decode()
    # any case and spacing of a listed type is the type; OTHER is a known unknown
    r = taker.post("/calls/new", {"nature": "  welfare   check ", "received_at": IN_HOURS})
    assert r.status_code == 302 and Call.objects.get().nature == "WELFARE CHECK"
    r = taker.post("/calls/new", {"nature": "other", "received_at": IN_HOURS})
    assert r.status_code == 302
    assert "nature_unknown" in codes(Call.objects.get(nature="OTHER"))


def test_a_bad_callback_number_is_refused(taker):
    r = taker.post(
        "/calls/new", {"nature": "CRISIS", "callback": "call me maybe", "received_at": IN_HOURS}
    )
    assert r.status_code == 422 and "phone number" in r.content.decode()
    r = taker.post(
        "/calls/new",
        {"nature": "CRISIS", "callback": "(919) 555-0142", "received_at": IN_HOURS},
    )
    assert r.status_code == 302 and Call.objects.get().callback == "(919) 555-0142"


def test_an_address_without_coordinates_is_placed_by_the_geocoder(taker, address_file):
    r = taker.post(
        "/calls/new",
        {"nature": "CRISIS", "address": "123 w. main street apt 4", "received_at": IN_HOURS},
    )
    c = Call.objects.get()
    assert r.status_code == 302
    assert (c.lon, c.lat) == (-78.9012, 35.9961)
    # placed in the team's area: no team is on shift here, so the crisis line takes it
    assert c.route == "ccd" and "crt_location_unknown" not in codes(c)
    assert codes(c)[-1] == "location_geocoded"
    said = c.reasons[-1]["text"]
    assert "address_points.csv" in said and "123 W Main St" in said and "1.00" in said


def test_the_forms_lookup_and_map_say_where_the_point_came_from(taker):
    base = {"nature": "CRISIS", "received_at": IN_HOURS, "lat": 35.9961, "lon": -78.9012}
    taker.post(
        "/calls/new",
        {
            **base,
            "address": "123 W Main St",
            "location_how": "geocoder",
            "location_label": "123 W Main St",
            "location_source": "address file address_points.csv",
            "location_score": "0.97",
        },
    )
    taker.post("/calls/new", {**base, "location_how": "map"})
    first, second = Call.objects.order_by("id")
    assert first.reasons[-1]["code"] == "location_geocoded" and "0.97" in first.reasons[-1]["text"]
    assert second.reasons[-1] == {
        "code": "location_from_map",
        "text": "The point was placed on the map by the call taker.",
    }


def test_an_address_the_geocoder_does_not_know_goes_to_police_and_says_why(taker, address_file):
    r = taker.post(
        "/calls/new", {"nature": "CRISIS", "address": "9999 W Main St", "received_at": IN_HOURS}
    )
    c = Call.objects.get()
    assert c.lon is None and c.route == "standard"
    assert "crt_location_unknown" in codes(c) and codes(c)[-1] == "location_not_found"
    page = taker.get(r["Location"]).content.decode()
    assert "Standard police response" in page
    assert "no usable beat or coordinates" in page and "found no match" in page


def test_after_saving_the_call_stays_on_screen_with_its_route_and_reasons(taker, person):
    r = taker.post(
        "/calls/new",
        {"nature": "CRISIS", "received_at": IN_HOURS, "lat": 35.994, "lon": -78.8986},
    )
    c = Call.objects.get()
    page = taker.get(r["Location"]).content.decode()
    assert f"Call #{c.pk} saved" in page and c.get_route_display() in page
    for reason in c.reasons:
        assert reason["text"].replace("'", "&#x27;") in page
    assert "The form below is empty for the next call." in page
    # another call taker's ?saved= does not show someone else's call
    other = Client()
    other.force_login(person("call_taker"))
    assert f"Call #{c.pk} saved" not in other.get(r["Location"]).content.decode()


# ------------------------------------------------------------------ the lookup API


def test_lookup_answers_best_first(taker, address_file):
    r = taker.get("/api/geocode", {"q": "123 W MAIN ST APT 4"})
    body = r.json()
    assert r.status_code == 200 and body["configured"] is True
    assert body["matches"][0] == {
        "lon": -78.9012,
        "lat": 35.9961,
        "label": "123 W Main St",
        "score": 1.0,
        "source": "address file address_points.csv",
    }
    typo = taker.get("/api/geocode", {"q": "123 W Mian St"}).json()["matches"]
    assert typo[0]["label"] == "123 W Main St" and typo[0]["score"] < 1
    assert taker.get("/api/geocode", {"q": "9999 W Main St"}).json()["matches"] == []
    bad = taker.get("/api/geocode", {"q": "x" * 301})
    assert bad.status_code == 422 and "q" in bad.content.decode()


def test_lookup_without_a_geocoder_says_so(taker, settings):
    settings.HEART_GEOCODER = {}
    assert taker.get("/api/geocode", {"q": "123 W Main St"}).json() == {
        "configured": False,
        "matches": [],
    }


class Slow:
    name = "slow"

    def __init__(self):
        self.release = threading.Event()

    def search(self, text, *, limit=5):
        self.release.wait(5)
        return []


@pytest.fixture
def slow_geocoder(monkeypatch, settings):
    settings.HEART_INTAKE_GEOCODE = {"timeout": 0.2}
    settings.HEART_GEOCODER = {"kind": "file", "path": str(FIXTURE)}
    slow = Slow()
    monkeypatch.setattr(locate, "geocoder", lambda: slow)
    yield slow
    slow.release.set()


def test_a_slow_lookup_is_a_503_that_says_to_use_the_map(taker, slow_geocoder):
    r = taker.get("/api/geocode", {"q": "123 W Main St"})
    assert r.status_code == 503 and "place the point on the map" in r.json()["detail"]


# ------------------------------------------------------------------ EIDO


def civic_only(number="42", street="Cellular", suffix="Street"):
    """The NENA sample's civic address (42 W Cellular Street), no geodetic point."""
    doc = eido(point=None)
    doc = copy.deepcopy(doc)
    return doc


def post_eido(client, doc):
    return client.post("/api/calls/eido", data=json.dumps(doc), content_type="application/json")


def test_an_eido_call_with_only_a_civic_address_gets_the_geocoders_point(cad, address_file):
    r = post_eido(cad, civic_only())
    assert r.status_code == 201, r.content
    c = Call.objects.get()
    assert c.address.startswith("42 W Cellular Street")
    assert (c.lon, c.lat) == (-78.9001, 35.9952) and c.route == "ccd"
    assert "crt_location_unknown" not in codes(c)
    assert c.reasons[-1]["code"] == "location_geocoded"
    assert "address_points.csv" in c.reasons[-1]["text"] and "score" in c.reasons[-1]["text"]
    assert c.callback == "8195551212"  # the sample's callbackComponent tel: URI


def test_a_slow_geocoder_never_blocks_eido_intake(cad, slow_geocoder):
    r = post_eido(cad, civic_only())
    assert r.status_code == 201, r.content
    c = Call.objects.get()
    assert c.lon is None and c.route == "standard"
    assert "crt_location_unknown" in codes(c)
    assert codes(c)[-1] == "geocoder_unavailable" and "0.2 s" in c.reasons[-1]["text"]


def test_eido_without_a_geocoder_is_as_before(cad, settings):
    settings.HEART_GEOCODER = {}
    post_eido(cad, civic_only())
    c = Call.objects.get()
    assert c.lon is None and not any(
        code.startswith(("location_g", "geocoder")) for code in codes(c)
    )


@pytest.fixture
def cad():
    from heart.accounts.services import clear_token_cache, create_api_client

    clear_token_cache()
    _, token = create_api_client(name="cad")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


# ------------------------------------------------------------------ crisis line


def _clinician(person):
    user = person("crisis_clinician")
    c = Client()
    c.force_login(user)
    return user, c


def test_one_clinician_at_a_time_and_the_second_hears_who(person):
    call = make_call(at=__import__("django.utils.timezone").utils.timezone.now(), route="ccd")
    ana, a = _clinician(person)
    ben, b = _clinician(person)
    url = f"/api/calls/{call.pk}/ccd-claim"
    first = a.post(url, content_type="application/json")
    assert first.status_code == 200 and first.json()["claimed_by"] == ana.username
    assert a.post(url, content_type="application/json").status_code == 200  # again: same
    second = b.post(url, content_type="application/json")
    assert second.status_code == 409
    assert f"taken by {ana.username} since" in second.json()["detail"]
    # the other clinician can neither release it nor record its outcome
    assert (
        b.post(f"/api/calls/{call.pk}/ccd-release", content_type="application/json").status_code
        == 409
    )
    refused = b.post(
        f"/api/calls/{call.pk}/ccd-outcome",
        data=json.dumps({"outcome": "resolved_by_phone"}),
        content_type="application/json",
    )
    assert refused.status_code == 409 and ana.username in refused.json()["detail"]
    # the page shows the claim to the other clinician
    page = b.get("/ccd/").content.decode()
    assert f"Taken by {ana.username} since" in page
    assert f'action="/ccd/{call.pk}/outcome"' not in page
    # released: the other may take it
    assert a.post(f"/ccd/{call.pk}/release").status_code == 302
    assert not CcdClaim.objects.exists()
    assert b.post(f"/ccd/{call.pk}/claim").status_code == 302
    assert CcdClaim.objects.get().clinician == ben
    kinds = list(TimelineEvent.objects.filter(call=call).values_list("kind", flat=True))
    assert kinds == ["ccd_claimed", "ccd_released", "ccd_claimed"]


def test_a_second_outcome_says_who_closed_the_call_when_and_how(person):
    from django.utils import timezone

    call = make_call(at=timezone.now(), route="ccd")
    ana, a = _clinician(person)
    _, b = _clinician(person)
    assert a.post(f"/ccd/{call.pk}/outcome", {"outcome": "resolved_by_phone"}).status_code == 302
    assert not CcdClaim.objects.exists()
    again = b.post(f"/ccd/{call.pk}/outcome", {"outcome": "hand_back"})
    text = again.content.decode()
    assert again.status_code == 409
    assert "Resolved by phone" in text and f"recorded by {ana.username} at" in text
    claim = b.post(f"/api/calls/{call.pk}/ccd-claim", content_type="application/json")
    assert claim.status_code == 409 and "Resolved by phone" in claim.json()["detail"]


def test_the_crisis_line_shows_the_callback_number_and_a_waiting_timer(person):
    from django.utils import timezone

    call = make_call(at=timezone.now(), route="ccd")
    Call.objects.filter(pk=call.pk).update(callback="919-555-0142")
    _, a = _clinician(person)
    page = a.get("/ccd/").content.decode()
    assert 'href="tel:919-555-0142"' in page
    assert f'class="waiting" data-since="{call.received_at.isoformat()}' in page or (
        'class="waiting" data-since="' in page
    )
    assert 'aria-pressed="false"' in page and "Sound for new calls" in page
    assert 'class="hand-back"' in page and 'value="hand_back" class="danger"' in page


def test_a_plain_json_call_carries_its_callback_number(cad):
    r = cad.post(
        "/api/calls",
        data=json.dumps(
            {
                "cad_incident_id": "cb-1",
                "received_at": "2024-03-05T10:00:00-05:00",
                "nature": "CRISIS",
                "lon": -78.8986,
                "lat": 35.994,
                "callback": "919-555-0199",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert Call.objects.get().callback == "919-555-0199"


@pytest.mark.parametrize(
    ("uri", "number"),
    [
        ("tel:+19195550142", "+19195550142"),
        ("tel:919-555-0142;phone-context=example.com", "919-555-0142"),
        ("sip:8195551212@osp.com", "8195551212"),
        ("sips:+18195551212@osp.com;user=phone", "+18195551212"),
        ("sip:alice@example.com", ""),
        ("mailto:someone@example.com", ""),
        ("tel:<script>", ""),
    ],
)
def test_callback_numbers_from_eido_uris(uri, number):
    from heart.intake.eido import phone_from_uri

    assert phone_from_uri(uri) == number


def test_the_callback_a_call_references_wins():
    from heart.intake.eido import EidoDocument, callback_number

    doc = eido()
    first = copy.deepcopy(doc["callbackComponent"][0])
    doc["callbackComponent"] = [
        {**first, "$id": "other", "callBackInformationUri": ["tel:111-111-1111"]},
        {**first, "$id": "mine", "callBackInformationUri": ["sip:x@y", "tel:222-222-2222"]},
    ]
    doc["callComponent"][0]["callBackReference"] = {"$ref": "mine"}
    assert callback_number(EidoDocument.model_validate(doc)) == "222-222-2222"
    doc["callComponent"][0].pop("callBackReference")
    assert callback_number(EidoDocument.model_validate(doc)) == "111-111-1111"


def test_the_program_gives_the_call_types_and_priorities(durham_2023):
    types = dict(durham_2023.call_types())
    assert "CRISIS" in types and types["ASSAULT"].startswith("Not for the program")
    assert durham_2023.priorities == ("1", "2", "3", "4", "5")  # the program names none
    from dataclasses import replace

    named = replace(
        durham_2023,
        no_team_free=replace(durham_2023.no_team_free, priority_order=("2", "E", "1")),
    )
    assert named.priorities == ("1", "2", "E")  # the program's own, numbers in order


def test_a_source_still_loading_times_out_and_loads_on(taker, settings, monkeypatch):
    """The first lookup loads the address file on the lookup pool: a slow load is a
    timeout for that request (503), never a request held until the file is read."""
    settings.HEART_GEOCODER = {"kind": "file", "path": str(FIXTURE)}
    settings.HEART_INTAKE_GEOCODE = {"timeout": 0.2}
    release = threading.Event()
    real = locate.geocoder

    def slow_load():
        release.wait(5)
        return real()

    monkeypatch.setattr(locate, "geocoder", slow_load)
    assert taker.get("/api/geocode", {"q": "123 W Main St"}).status_code == 503
    release.set()
    monkeypatch.setattr(locate, "geocoder", real)
    assert taker.get("/api/geocode", {"q": "123 W Main St"}).json()["matches"]

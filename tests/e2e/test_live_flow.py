"""The live flow in a real browser: EIDO in -> board -> assign -> responder statuses ->
backup alarm on the board -> clear with a disposition. Saves docs/screenshots/*.png."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import PASSWORD

# HEART_SCREENSHOTS=docs/screenshots refreshes the README's pictures; by default the
# screenshots go to a scratch folder so a test run leaves the work tree as it was
SHOTS = Path(os.environ.get("HEART_SCREENSHOTS", tempfile.gettempdir() + "/heart-screenshots"))
STATION_1 = (-78.8986, 35.9940)  # HEART 1 (heart.demo.live.STATIONS)

PIDF = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.com">'
    '<dm:device id="d1"><gp:geopriv><gp:location-info>'
    '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{lat} {lon}</gml:pos></gml:Point>'
    "</gp:location-info></gp:geopriv></dm:device></presence>"
)


def eido_with_incident(sample: dict, *, lon: float, lat: float) -> dict:
    """The NENA sample plus an incident component with a HEART-eligible nature."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    doc = copy.deepcopy(sample)
    doc["$id"] = f"urn:emergency:uid:incidentid:e2e{int(time.time() * 1000)}:durham.example"
    doc["lastUpdateTimeStamp"] = now.isoformat()
    doc["callComponent"][0]["callStartTimestamp"] = (now - dt.timedelta(seconds=40)).isoformat()
    doc["incidentComponent"] = {
        "$id": "urn:emergency:uid:incidentid:e2e:durham",
        "lastUpdateTimeStamp": now.isoformat(),
        "updatedByAgencyReference": {"$ref": "state.pa.us"},
        "incidentTypeCommonRegistryText": "Mental Health",
        "incidentTypeInternalCode": "CRISIS",
        "incidentTypeInternalText": "Person in crisis",
        "locationReference": [{"$ref": "e2e-point"}],
    }
    doc["locationComponent"].append(
        {
            "$id": "e2e-point",
            "lastUpdateTimeStamp": now.isoformat(),
            "updatedByAgencyReference": {"$ref": "state.pa.us"},
            "locationTypeDescriptionRegistryText": "Caller",
            "locationByValue": PIDF.format(lon=lon, lat=lat),
        }
    )
    doc["notesComponent"] = [
        {
            "$id": "e2e-note",
            "lastUpdateTimeStamp": now.isoformat(),
            "updatedByAgencyReference": {"$ref": "state.pa.us"},
            "notesActionComments": "<p>Man pacing outside the library, talking to himself, no weapons seen</p>",
        }
    ]
    return doc


def background_calls(base: str, token: str) -> None:
    """A few other calls so the board looks like a shift (through the same API)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        ("WELFARE CHECK", -78.915, 36.012, 9, "3"),
        ("TRESPASSING", -78.872, 35.972, 6, "3"),
        ("ASSAULT", -78.93, 35.99, 4, "1"),
        ("SUICIDE", -78.89, 36.03, 3, "2"),
    ]
    for i, (nature, lon, lat, minutes, prio) in enumerate(rows):
        r = httpx.post(
            base + "/api/calls",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "cad_incident_id": f"e2e-bg-{i}-{time.time_ns()}",
                "received_at": (now - dt.timedelta(minutes=minutes)).isoformat(),
                "nature": nature,
                "priority": prio,
                "lon": lon,
                "lat": lat,
                "address": f"{200 + i * 111} Main St, Durham NC",
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text


def login(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_eido_to_board_to_responder_to_clear(browser, server, shared_dir):
    from playwright.sync_api import expect

    base, token = server["base"], server["token"]
    sample = json.loads(
        (shared_dir / "standards" / "eido" / "sample_call_transfer_eido.json").read_text()
    )
    background_calls(base, token)

    board_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    board = board_ctx.new_page()
    errors: list[str] = []
    board.on("pageerror", lambda e: errors.append(str(e)))
    login(board, base, "dispatcher")
    board.goto(base + "/board/")
    board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    board.wait_for_selector(".team", timeout=10_000)

    # 1. the EIDO arrives through the API and appears on the open board by itself (its
    # speed, a second at most, is measured in bench/bench_board.py, not here)
    doc = eido_with_incident(sample, lon=STATION_1[0] + 0.004, lat=STATION_1[1] + 0.002)
    r = httpx.post(
        base + "/api/calls/eido",
        headers={"Authorization": f"Bearer {token}"},
        json=doc,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    call_id = body["id"]
    assert body["route"] == "crt", body
    item = f"#call-{call_id}"
    board.wait_for_selector(item, timeout=5_000)
    # the route in words (its code only as data for styling), the call number on the card
    assert board.get_attribute(item, "data-route") == "crt"
    assert board.inner_text(f"{item} .route").lower() == "community response"
    assert board.inner_text(f"{item} .num") == f"#{call_id}"
    board.wait_for_selector(f"{item} .reasons li", timeout=5_000)
    assert "42 W Cellular" in board.inner_text(f"{item} .addr")

    # 2. the recommendation with its reason; the dispatcher assigns the recommended team
    board.wait_for_selector(f"{item} .pick.best button.assign", timeout=5_000)
    assert "HEART 1" in board.inner_text(f"{item} .pick.best")
    assert "min" in board.inner_text(f"{item} .pick.best .pick-eta")
    assert board.inner_text(f"{item} .pick.best .pick-reason")
    assert not board.is_visible("#alarm")  # no alarm banner before anyone asks for backup
    board.locator(f"{item} .pick.best button.assign").click()
    # (locator waits, not wait_for_function: the page's CSP forbids eval)
    expect(board.locator(f"{item} .assigned")).to_contain_text("HEART 1", timeout=5_000)

    # 3. the responder (phone-sized) moves through the statuses and asks for backup
    phone_ctx = browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True)
    phone = phone_ctx.new_page()
    phone.on("pageerror", lambda e: errors.append(str(e)))
    login(phone, base, "responder")
    phone.goto(base + "/responder/")
    assert f"#{call_id}" in phone.inner_text("#assignment")
    assert "42 W Cellular" in phone.inner_text("#address")
    assert "no weapons seen" in phone.inner_text("#assignment")
    for status in ("en_route", "on_scene"):
        # the page's script sends the tap and reloads with the new status's buttons
        with phone.expect_navigation():
            phone.click(f"#next-btn[data-status={status}]")
        phone.wait_for_load_state("networkidle")
        # the board's own card for HEART 1 shows the new status (pushed, no reload)
        expect(board.locator(".team", has_text="HEART 1")).to_have_attribute(
            "data-status", status, timeout=5_000
        )
    assert "on scene" in phone.inner_text("#status-now").lower()
    # no horizontal scrolling at 360 px
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.once("dialog", lambda d: d.accept())
    phone.click("#backup-btn")
    phone.wait_for_selector("#backup-sent", timeout=5_000)

    # 4. the dispatcher's board raises the visible and audible alarm
    board.wait_for_selector("#alarm", state="visible", timeout=3_000)
    assert "HEART 1" in board.inner_text("#alarm")
    assert int(board.evaluate("document.body.dataset.beeps")) >= 1
    board.wait_for_selector(".call.backup", timeout=5_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    board.screenshot(path=str(SHOTS / "board.png"))
    # the viewport, not the full page: the next-status bar is fixed at its bottom
    phone.screenshot(path=str(SHOTS / "responder.png"))

    # 5. bad disposition input: a clear message naming the field, nothing changed
    phone.check("input[name=outcome][value=transported]")
    phone.click("#clear button[type=submit]")
    assert "destination" in phone.inner_text("#err-destination")  # beside its field
    assert f"#{call_id}" in phone.inner_text("#assignment")

    # 6. the call clears with a disposition and leaves the board
    phone.check("input[name=outcome][value=transported]")
    phone.fill("input[name=destination]", "Durham Recovery Response Center")
    phone.check("input[name=consent_follow_up]")
    phone.fill("input[name=contact_phone]", "919-555-0100")
    phone.click("#clear button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "available" in phone.inner_text("#status-now").lower()
    board.wait_for_selector(item, state="detached", timeout=3_000)
    board.click("#alarm-ack")  # recorded on the server, then the banner clears
    expect(board.locator("#alarm")).to_be_hidden(timeout=5_000)
    expect(board.locator(".call.backup .ack-note").first).to_contain_text(
        "acknowledged by dispatcher", timeout=5_000
    )
    assert errors == [], errors
    board_ctx.close()
    phone_ctx.close()


def test_assign_conflict_is_shown(browser, server):
    """A second assignment of the same call: the board shows the 409 message."""
    base, token = server["base"], server["token"]
    r = httpx.post(
        base + "/api/calls",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "cad_incident_id": f"e2e-conflict-{time.time_ns()}",
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
            "nature": "CRISIS",
            "lon": -78.90,
            "lat": 35.995,
        },
        timeout=10,
    )
    call_id = r.json()["id"]
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    login(page, base, "dispatcher")
    # this board misses the live events (as if its connection dropped): its button is stale
    page.route("**/live/events*", lambda route: route.abort())
    page.goto(base + "/board/")
    button = page.wait_for_selector(f"#call-{call_id} .pick.best button.assign", timeout=10_000)
    team_id = int(button.get_attribute("data-team-id"))
    # another dispatcher is faster (same API, another session)
    other = browser.new_context()
    op = other.new_page()
    login(op, base, "supervisor")
    csrf = next(c["value"] for c in other.cookies() if c["name"] == "csrftoken")
    r = other.request.post(
        f"{base}/api/calls/{call_id}/assign",
        data=json.dumps({"team_id": team_id}),
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": base},
    )
    assert r.status == 200, r.text()
    other.close()
    page.locator(f"#call-{call_id} .pick.best button.assign").click()
    page.wait_for_selector(".toast.conflict", timeout=5_000)
    text = page.inner_text(".toast")
    assert "409" in text and "already assigned" in text, text
    ctx.close()


def test_cad_update_with_a_weapon_alarms_board_and_team(browser, server, shared_dir):
    """A team is on its way; the CAD adds a gun to the narrative: both screens say so."""
    from playwright.sync_api import expect

    base, token = server["base"], server["token"]
    sample = json.loads(
        (shared_dir / "standards" / "eido" / "sample_call_transfer_eido.json").read_text()
    )
    doc = eido_with_incident(sample, lon=-78.92, lat=36.01)
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(base + "/api/calls/eido", headers=auth, json=doc, timeout=10)
    assert r.status_code == 201 and r.json()["route"] == "crt", r.text
    call_id = r.json()["id"]

    board_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    board = board_ctx.new_page()
    login(board, base, "dispatcher")
    board.goto(base + "/board/")
    board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    best = board.wait_for_selector(f"#call-{call_id} .pick.best", timeout=10_000)
    team_label = " ".join(best.inner_text().split()[:2])  # "HEART 3"
    assert team_label.startswith("HEART "), best.inner_text()
    board.locator(f"#call-{call_id} .pick.best button.assign").click()
    expect(board.locator(f"#call-{call_id}")).to_contain_text("Assigned", timeout=5_000)
    assert not board.is_visible("#alarm")

    # the same incident again from the CAD, newer, now with a gun
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=5)
    doc["lastUpdateTimeStamp"] = later.isoformat()
    doc["notesComponent"][0]["lastUpdateTimeStamp"] = later.isoformat()
    doc["notesComponent"][0]["notesActionComments"] = "<p>Caller now says he has a gun</p>"
    r = httpx.post(base + "/api/calls/eido", headers=auth, json=doc, timeout=10)
    assert r.status_code == 200 and r.json()["route"] == "co_response", r.text

    board.wait_for_selector("#alarm", state="visible", timeout=3_000)
    assert "RE-TRIAGED" in board.inner_text("#alarm-title")
    assert team_label in board.inner_text("#alarm-text")
    # the reason as its plain sentence, never the code
    reasons = board.evaluate(
        f"fetch('/api/calls/{call_id}').then(r => r.json()).then(d => d.reasons)"
    )
    weapon = next(r["text"] for r in reasons if r["code"] == "weapon_in_narrative")
    alarm_text = board.inner_text("#alarm-text")
    assert weapon in alarm_text and "weapon_in_narrative" not in alarm_text, alarm_text

    number = team_label.split()[1]
    phone_ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    phone = phone_ctx.new_page()
    login(phone, base, "responder" if number == "1" else f"heart{number}-clinician")
    phone.goto(base + "/responder/")
    assert "re-triaged" in phone.inner_text("#rerouted")
    assert "gun" in phone.inner_text("#rerouted")
    board_ctx.close()
    phone_ctx.close()

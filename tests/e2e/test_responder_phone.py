"""The responder phone at 390x844 (issue 13, item 4): the next status big at the bottom,
cancel small and confirmed, no out-of-service on a call, a working mini map, errors
beside their fields, axe-clean; and OFFLINE: a status tap made without network is kept
on the phone ("not sent yet"), survives a reload (service worker), and arrives exactly
once when the network returns."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx

from tests.e2e.test_live_flow import login
from tests.e2e.test_public_site import WCAG, _axe

TEAM = "HEART 4"
CREW = "heart4-clinician"
W, H = 390, 844
START = (35.9551, -78.9301)  # the crew's phone, near HEART 4's station
MOVED = (35.9558, -78.9292)  # where it is when the network is gone


def _call_for(base: str, token: str, **extra) -> int:
    r = httpx.post(
        base + "/api/calls",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "cad_incident_id": f"e2e-phone-{time.time_ns()}",
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
            "nature": "CRISIS",
            "lon": -78.9290,
            "lat": 35.9560,
            "address": "77 Phone Test Rd, Durham NC",
            "narrative": "Woman sitting on the curb, upset, no weapons",
            **extra,
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


class Supervisor:
    """A signed-in supervisor session for the API (assign, read the call back)."""

    def __init__(self, browser, base: str):
        self.base = base
        self.ctx = browser.new_context()
        login(self.ctx.new_page(), base, "supervisor")
        self.csrf = next(c["value"] for c in self.ctx.cookies() if c["name"] == "csrftoken")

    def post(self, path: str, body: dict):
        return self.ctx.request.post(
            self.base + path,
            data=json.dumps(body),
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self.csrf,
                "Referer": self.base,
            },
        )

    def get(self, path: str) -> dict:
        r = self.ctx.request.get(self.base + path)
        assert r.status == 200, r.text()
        return r.json()

    def team_id(self, name: str) -> int:
        page = self.get("/api/teams?limit=100")
        return next(t["id"] for t in page["items"] if t["name"] == name)


def _axe_problems(page) -> list[str]:
    page.add_script_tag(path=str(_axe()))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    assert len(result["passes"]) > 10
    return [
        f"{v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def test_offline_tap_is_queued_and_arrives_once(browser, server):
    from playwright.sync_api import expect

    base, token = server["base"], server["token"]
    call_id = _call_for(base, token)
    sup = Supervisor(browser, base)
    team_id = sup.team_id(TEAM)
    r = sup.post(f"/api/calls/{call_id}/assign", {"team_id": team_id})
    assert r.status == 200, r.text()

    ctx = browser.new_context(
        viewport={"width": W, "height": H},
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,
        geolocation={"latitude": START[0], "longitude": START[1]},
        permissions=["geolocation"],
    )
    phone = ctx.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    login(phone, base, CREW)
    phone.goto(base + "/responder/")
    expect(phone.locator("#assignment")).to_contain_text(f"#{call_id}")

    # the next status is the one big button, at the bottom of the screen (thumb reach)
    nxt = phone.locator("#next-btn")
    expect(nxt).to_have_text("En route")
    box = nxt.bounding_box()
    assert box["y"] > H * 0.75 and box["y"] + box["height"] <= H, box
    assert box["height"] >= 70 and box["width"] >= W * 0.8, box
    cancel = phone.locator("#cancel-btn").bounding_box()
    assert cancel["height"] < box["height"] and cancel["width"] < box["width"] / 2, cancel
    assert phone.locator("button[value=out_of_service]").count() == 0
    # the mini map draws the call point and the team's position (no base map configured:
    # outlines on a grid, and the coordinates in words)
    phone.wait_for_function("document.querySelectorAll('#minimap svg path').length >= 2")
    expect(phone.locator("#coords")).to_contain_text("35.956")
    assert phone.evaluate("document.documentElement.scrollWidth") <= W
    assert _axe_problems(phone) == []

    # a cancel asks first; dismissing it changes nothing
    phone.once("dialog", lambda d: d.dismiss())
    phone.click("#cancel-btn")
    expect(phone.locator("#status-now")).to_have_text("Dispatched")

    # the service worker controls the page (it keeps the page for an offline reload)
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.reload()
    phone.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)

    # offline: the tap is kept on the phone, visibly not sent
    ctx.set_offline(True)
    phone.click("#next-btn")
    queue = phone.locator("#queue-state")
    expect(queue).to_be_visible()
    expect(queue).to_contain_text("Not sent yet")
    expect(queue).to_contain_text("En route")
    # the phone shows where the crew is, not sent yet, and the next big button from there
    expect(phone.locator("#status-now")).to_have_text("En route (not sent yet)")
    expect(phone.locator("#next-btn")).to_have_text("On scene")
    expect(phone.locator("#next-btn")).to_be_enabled()
    assert [e["kind"] for e in sup.get(f"/api/calls/{call_id}")["timeline"]].count("en_route") == 0
    # a GPS fix made offline waits on the phone too
    ctx.set_geolocation({"latitude": MOVED[0], "longitude": MOVED[1]})
    fkey = f"heart.fixes.{team_id}"
    phone.wait_for_function(
        f"JSON.parse(localStorage.getItem('{fkey}') || '[]').some(f => f.lat === {MOVED[0]})"
    )
    # a reload without network opens the page from the phone (never the browser's error
    # page) and the queued tap is still there
    phone.reload()
    expect(phone.locator("#queue-state")).to_contain_text("En route")
    expect(phone.locator("#status-now")).to_have_text("En route (not sent yet)")

    # back online: the tap is sent once, the queue empties, the page shows the new status
    with phone.expect_navigation(timeout=20_000):  # the 'online' event (or the retry)
        ctx.set_offline(False)
    expect(phone.locator("#status-now")).to_have_text("En route", timeout=10_000)
    expect(phone.locator("#queue-state")).to_be_hidden()
    key = f"heart.taps.{team_id}"
    assert phone.evaluate(f"JSON.parse(localStorage.getItem('{key}') || '[]').length") == 0
    kinds = [e["kind"] for e in sup.get(f"/api/calls/{call_id}")["timeline"]]
    assert kinds.count("en_route") == 1, kinds
    # and the offline GPS fix reaches the server (the team's last position)
    phone.wait_for_function(
        f"JSON.parse(localStorage.getItem('{fkey}') || '[]').every(f => f.lat !== {MOVED[0]})",
        timeout=15_000,
    )
    team = next(t for t in sup.get("/api/teams?limit=100")["items"] if t["id"] == team_id)
    assert (team["lat"], team["lon"]) == MOVED, team

    # a tap delivered twice (the phone lost the first answer): applied once, same answer
    answers = phone.evaluate(
        """async () => {
          const csrf = document.querySelector('meta[name=csrf-token]').content;
          const post = () => { const b = new FormData();
            b.append('status', 'on_scene'); b.append('idempotency_key', 'e2e-twice');
            return fetch('/responder/status', {method: 'POST', body: b,
              headers: {Accept: 'application/json', 'X-CSRFToken': csrf}}).then(r => r.json()); };
          return [await post(), await post()];
        }"""
    )
    assert [a["status"] for a in answers] == ["on_scene", "on_scene"], answers
    assert [a["replayed"] for a in answers] == [False, True], answers
    kinds = [e["kind"] for e in sup.get(f"/api/calls/{call_id}")["timeline"]]
    assert kinds.count("on_scene") == 1, kinds
    phone.reload()
    expect(phone.locator("#status-now")).to_have_text("On scene")

    # one clearing flow: the big button opens the disposition; errors sit beside fields
    expect(phone.locator("#next-btn")).to_have_text("Clear the call")
    assert phone.locator("button[value=clearing]").count() == 0
    phone.click("#next-btn")
    phone.check("input[name=outcome][value=transported]")
    phone.click("#clear-form button[type=submit]")
    err = phone.locator("#err-destination")
    expect(err).to_contain_text("destination")
    assert phone.evaluate("document.activeElement.name") == "destination"
    dest = phone.locator("input[name=destination]")
    assert dest.get_attribute("aria-describedby") == "err-destination"
    eb = err.bounding_box()
    assert 0 <= eb["y"] <= H, eb  # scrolled into view
    assert phone.locator("input[name=contact_phone]").get_attribute("type") == "tel"
    assert _axe_problems(phone) == []
    phone.check("input[name=outcome][value=transported]")
    dest.fill("Durham Recovery Response Center")
    phone.click("#clear-form button[type=submit]")
    expect(phone.locator("#status-now")).to_have_text("Available", timeout=10_000)
    assert errors == [], errors
    ctx.close()
    sup.ctx.close()


def test_a_queued_tap_refused_on_replay_is_said_and_the_real_status_shown(browser, server):
    """Offline, the crew taps En route; meanwhile dispatch stands the team down. Back
    online the replay is refused (409): the phone says why and shows the real status."""
    from playwright.sync_api import expect

    base, token = server["base"], server["token"]
    call_id = _call_for(base, token, lon=-78.8705, lat=35.9855)
    sup = Supervisor(browser, base)
    team_id = sup.team_id("HEART 2")
    assert sup.post(f"/api/calls/{call_id}/assign", {"team_id": team_id}).status == 200
    ctx = browser.new_context(viewport={"width": W, "height": H}, is_mobile=True)
    phone = ctx.new_page()
    login(phone, base, "heart2-clinician")
    phone.goto(base + "/responder/")
    expect(phone.locator("#next-btn")).to_have_text("En route")
    ctx.set_offline(True)
    phone.click("#next-btn")
    expect(phone.locator("#queue-state")).to_contain_text("Not sent yet")
    r = sup.post(f"/api/teams/{team_id}/status", {"status": "available", "note": "stood down"})
    assert r.status == 200, r.text()
    with phone.expect_navigation(timeout=20_000):  # the 'online' event (or the retry)
        ctx.set_offline(False)
    expect(phone.locator("#tap-error")).to_contain_text("En route")
    expect(phone.locator("#tap-error")).to_contain_text("cannot become en_route")
    expect(phone.locator("#status-now")).to_have_text("Available")
    expect(phone.locator("#queue-state")).to_be_hidden()
    kinds = [e["kind"] for e in sup.get(f"/api/calls/{call_id}")["timeline"]]
    assert "en_route" not in kinds, kinds
    ctx.close()
    sup.ctx.close()

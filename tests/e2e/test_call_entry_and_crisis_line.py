"""Call entry and the crisis line in a real browser, against a `heart serve --demo` of
their own whose geocoder is a small address-point file (tests/fixtures/address_points.csv).

Call taker: a typed address geocodes from the fixture, the point shows on the map,
the call is saved and its route and reasons stay on screen; an address the file does
not know raises the unknown-location warning before saving. Crisis line: a clinician's
main task (callback number, a waiting timer that ticks, sound on, take the call, hand
back asks to confirm, resolve), a claim race between two clinicians (two signed-in
sessions posting at the same instant: one wins, the other hears who), a second outcome
that says who closed the call and how. axe-core: 0 violations on both pages.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, serving
from tests.e2e.test_public_site import WCAG, _axe

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "address_points.csv"
# in the PostgreSQL pass too: then the server has two processes (events by LISTEN/NOTIFY)
pytestmark = pytest.mark.db


def screenshot(page, name: str) -> None:
    """HEART_SCREENSHOTS=docs/screenshots refreshes the README's pictures."""
    shots = os.environ.get("HEART_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name), full_page=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser):
    with serving(
        tmp_path_factory,
        {"HEART_GEOCODER": json.dumps({"kind": "file", "path": str(FIXTURE)})},
    ) as running:
        yield running


def login(context, base: str, username: str):
    page = context.new_page()
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(_axe()))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    assert len(result["passes"]) > 10  # axe ran and checked things
    return [
        f"{v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def manage_shell(site, code: str) -> str:
    heart = str(Path(sys.executable).parent / "heart")
    done = subprocess.run(
        [heart, "manage", "shell", "-c", code],
        env=site["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


# ------------------------------------------------------------------ call entry


def test_a_typed_address_geocodes_shows_on_the_map_and_the_saved_call_stays(browser, site):
    base = site["base"]
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = login(ctx, base, "call_taker")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/calls/new")
    expect(page.locator("header.top nav")).to_contain_text("New call")  # the app's layout
    assert axe_violations(page) == []

    page.fill("input[name=nature]", "CRISIS")
    page.select_option("select[name=priority]", "3")
    page.fill("input[name=callback]", "919-555-0142")
    page.fill("input[name=address]", "123 w. main street apt 4")
    page.click("#find-address")
    best = page.locator("#matches button.match").first
    expect(best).to_contain_text("123 W Main St")
    expect(best).to_have_attribute("aria-pressed", "true")
    expect(page.locator("input[name=lat]")).to_have_value("35.996100")
    expect(page.locator("input[name=lon]")).to_have_value("-78.901200")
    # the point is on the map
    expect(page.locator("#pick-map .leaflet-marker-icon")).to_be_visible()
    expect(page.locator("#pick-map")).to_have_attribute("data-point", "35.996100,-78.901200")
    expect(page.locator("#unknown-location")).to_be_hidden()
    assert axe_violations(page) == []
    screenshot(page, "call-entry.png")

    page.click("#call-form button[type=submit]")
    result = page.locator("#result")
    expect(result).to_contain_text(re.compile(r"Call #\d+ saved"))
    route = result.locator(".route-words").text_content()
    assert route in ("Community response team", "Crisis call diversion"), route
    reasons = result.locator("#result-reasons")
    expect(reasons).to_contain_text("The point comes from the address lookup")
    expect(reasons).to_contain_text("123 W Main St")
    expect(result).to_contain_text("919-555-0142")
    expect(result).to_contain_text("The form below is empty for the next call.")
    expect(page.locator("input[name=nature]")).to_have_value("")
    assert axe_violations(page) == []
    assert errors == []
    ctx.close()


def test_an_unknown_location_is_warned_before_saving(browser, site):
    base = site["base"]
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = login(ctx, base, "call_taker")
    page.goto(base + "/calls/new")
    warning = page.locator("#unknown-location")
    page.fill("input[name=nature]", "WELFARE CHECK")
    page.fill("input[name=address]", "9999 W Main St")  # a number the city file lacks
    page.click("#find-address")
    expect(page.locator("#lookup-status")).to_contain_text("No match")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Location unknown")
    expect(warning).to_contain_text("no usable beat or coordinates")
    expect(warning).to_contain_text("standard police response")

    # a click on the map places the point: the warning goes
    page.locator("#pick-map").click()  # scrolled into view, clicked in the middle
    expect(page.locator("input[name=location_how]")).to_have_value("map")
    expect(warning).to_be_hidden()

    # cleared again: the first save only warns, the second saves as unknown
    page.fill("input[name=lat]", "")
    page.fill("input[name=lon]", "")
    page.locator("input[name=lon]").dispatch_event("change")
    page.click("#call-form button[type=submit]")
    expect(warning).to_be_visible()
    expect(page.locator("#call-form button[type=submit]")).to_have_text(
        "Save with location unknown"
    )
    assert "saved=" not in page.url
    page.click("#call-form button[type=submit]")
    result = page.locator("#result")
    expect(result).to_contain_text("Standard police response")
    expect(result).to_contain_text("no usable beat or coordinates")
    expect(result).to_contain_text("none (location unknown)")
    ctx.close()


# ------------------------------------------------------------------ crisis line


def _ccd_call(site, n: int) -> int:
    """A CAD call that the crisis line takes: every team is made busy first (out of
    service), so a crisis call in the city falls back from the team to the phone line."""
    from tests.integration.test_api_intake import eido

    doc = eido(incident_id=f"urn:emergency:uid:callid:e2e-ccd-{time.time_ns()}-{n}")
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)).isoformat()
    doc["callComponent"][0]["callStartTimestamp"] = started
    doc["lastUpdateTimeStamp"] = dt.datetime.now(dt.UTC).isoformat()
    r = httpx.post(
        site["base"] + "/api/calls/eido",
        headers={"Authorization": f"Bearer {site['token']}"},
        json=doc,
        timeout=10,
    )
    assert r.status_code == 201 and r.json()["route"] == "ccd", r.text
    return r.json()["id"]


def _csrf(page) -> str:
    return page.locator("meta[name=csrf-token]").get_attribute("content")


def test_a_clinicians_main_task_and_a_claim_race(browser, site):
    base = site["base"]
    manage_shell(
        site,
        "from heart.accounts.actors import SYSTEM\n"
        "from heart.teams.models import Team\n"
        "from heart.teams.services import change_status\n"
        "for t in Team.objects.all():\n"
        "    change_status(team=t, status='out_of_service', actor=SYSTEM)\n",
    )
    first = _ccd_call(site, 1)

    ana_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    ben_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ana = login(ana_ctx, base, "crisis_clinician")
    ben = login(ben_ctx, base, "supervisor")  # supervisors work the crisis line too
    errors: list[str] = []
    ana.on("pageerror", lambda e: errors.append(str(e)))
    for page in (ana, ben):
        page.goto(base + "/ccd/")
    card = ana.locator(f"#ccd-{first}")
    expect(card).to_be_visible()
    assert axe_violations(ana) == []

    # the callback number from the EIDO callbackComponent, and a timer that ticks
    expect(card.locator(".callback a")).to_have_text("8195551212")
    expect(card.locator(".callback a")).to_have_attribute("href", "tel:8195551212")
    timer = card.locator(".waiting")
    expect(timer).to_have_text(re.compile(r"^\d+ min \d\d s$"))
    shown = timer.inner_text()
    expect(timer).not_to_have_text(shown, timeout=5_000)

    # sound for new calls: a button whose state is plain
    sound = ana.locator("#ccd-sound")
    expect(sound).to_have_attribute("aria-pressed", "false")
    expect(sound).to_contain_text("off")
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    expect(sound).to_contain_text("on")

    # the clinician takes the call; the other clinician's page shows who has it
    card.locator("button.claim").click()
    expect(ana.locator(f"#ccd-{first} .claim-state")).to_contain_text("You have this call")
    expect(ben.locator(f"#ccd-{first} .claim-state")).to_contain_text(
        "Taken by crisis_clinician since", timeout=10_000
    )
    expect(ben.locator(f"#ccd-{first} form.outcome")).to_have_count(0)
    # a stale "take" from the other clinician: 409 with who has it
    taken = ben.request.post(
        f"{base}/ccd/{first}/claim",
        form={"csrfmiddlewaretoken": _csrf(ben)},
        headers={"Referer": base + "/ccd/"},
        max_redirects=0,
    )
    assert taken.status == 409 and "taken by crisis_clinician since" in taken.text()

    # hand back to police looks unlike the other outcomes and asks first
    card = ana.locator(f"#ccd-{first}")
    hand_back = card.locator("button.hand-back")
    resolved = card.locator("button[value=resolved_by_phone]")
    style = "e => [getComputedStyle(e).borderStyle, getComputedStyle(e).backgroundColor]"
    assert hand_back.evaluate(style) != resolved.evaluate(style)
    hand_back.click()
    confirm = card.locator(".confirm")
    expect(confirm).to_be_visible()
    expect(confirm.locator("button.danger")).to_be_focused()
    assert axe_violations(ana) == []
    screenshot(ana, "crisis-line.png")
    confirm.locator("button.cancel").click()
    expect(confirm).to_be_hidden()

    # a new call arrives while the sound is on: the queue refreshes and it sounds
    second = _ccd_call(site, 2)
    expect(ana.locator(f"#ccd-{second}")).to_be_visible(timeout=10_000)
    expect(ana.locator("body")).to_have_attribute("data-beeped", re.compile(r"^[1-9]"))

    # resolved by phone: the call leaves the queue
    ana.fill(f"#notes-{first}", "Talked it through; she is safe with her sister tonight.")
    ana.locator(f"#ccd-{first} button[value=resolved_by_phone]").click()
    expect(ana.locator(f"#ccd-{first}")).to_have_count(0)

    # a second outcome on the closed call says who closed it, when and how
    late = ben.request.post(
        f"{base}/ccd/{first}/outcome",
        form={"csrfmiddlewaretoken": _csrf(ben), "outcome": "hand_back"},
        headers={"Referer": base + "/ccd/"},
        max_redirects=0,
    )
    assert late.status == 409
    assert "Resolved by phone, recorded by crisis_clinician at" in late.text()

    # the race: both clinicians take the second call at the same instant
    sessions = []
    for ctx, page in ((ana_ctx, ana), (ben_ctx, ben)):
        cookies = {c["name"]: c["value"] for c in ctx.cookies()}
        sessions.append((cookies, _csrf(page)))
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str]] = []

    def take(cookies, token):
        with httpx.Client(base_url=base, cookies=cookies, timeout=10) as client:
            barrier.wait()
            r = client.post(
                f"/ccd/{second}/claim",
                data={"csrfmiddlewaretoken": token},
                headers={"Referer": base + "/ccd/"},
            )
            answers.append((r.status_code, r.text))

    threads = [threading.Thread(target=take, args=s) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(code for code, _ in answers)
    assert statuses == [302, 409], statuses
    loser = next(text for code, text in answers if code == 409)
    assert re.search(r"taken by (crisis_clinician|supervisor) since", loser)
    winner = "supervisor" if "taken by supervisor" in loser else "crisis_clinician"
    for page in (ana, ben):
        page.goto(base + "/ccd/")
    mine, theirs = (ana, ben) if winner == "crisis_clinician" else (ben, ana)
    expect(mine.locator(f"#ccd-{second} .claim-state")).to_contain_text("You have this call")
    expect(theirs.locator(f"#ccd-{second} .claim-state")).to_contain_text(f"Taken by {winner}")
    assert errors == []
    ana_ctx.close()
    ben_ctx.close()

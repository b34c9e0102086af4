"""The board for a busy night (issue 13, items 2 and 3) in a real browser: 500 open
calls filtered and sorted with the waiting team calls pinned on top, card actions
(note, close, co-response pairing), a keyboard shortcut, the backup alarm acknowledged
by one dispatcher and seen by a second one and on the team's phone (390x844), raised
again on reload until then, and axe-core with 0 violations on the board.

Runs first in the package: it closes every call it opened and frees every team it used."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_dispatch_guard import _api
from tests.e2e.test_live_flow import login
from tests.e2e.test_public_site import WCAG, _axe

POLICE = ("ASSAULT", "ROBBERY", "ARMED PERSON", "FIGHT")
N_POLICE, N_TEAM = 480, 20


def _call(http, base, token, **fields) -> dict:
    body = {
        "cad_incident_id": f"e2e-night-{time.time_ns()}",
        "lon": -78.90,
        "lat": 35.995,
        **fields,
    }
    r = http.post(base + "/api/calls", headers={"Authorization": f"Bearer {token}"}, json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def busy(server):
    """500 open calls through the API: 480 police calls received over the last 80
    minutes (the newest) and 20 team calls received 90-110 minutes ago, so they lie
    beyond the board's first page of 300 and are pinned on top all the same."""
    base, token = server["base"], server["token"]
    now = dt.datetime.now(dt.UTC)
    ids = {"police": [], "team": []}
    with httpx.Client(timeout=10) as http:
        for i in range(N_TEAM):
            c = _call(
                http,
                base,
                token,
                received_at=(now - dt.timedelta(minutes=110 - i)).isoformat(),
                nature="CRISIS",
                priority="2",
                narrative="man talking to himself outside the shop, no weapons seen",
                lon=-78.95 + i * 0.002,
                lat=35.97,
                address=f"{100 + i} Night Test Ave, Durham NC",
            )
            assert c["route"] == "crt", c
            ids["team"].append(c["id"])
        for i in range(N_POLICE):
            c = _call(
                http,
                base,
                token,
                received_at=(now - dt.timedelta(seconds=10 * (N_POLICE - i))).isoformat(),
                nature=POLICE[i % len(POLICE)],
                priority=str(1 + i % 3),
                lon=-78.93 + (i % 40) * 0.001,
                lat=35.98 + (i // 40) * 0.001,
                address=f"{1000 + i} Busy Night St, Durham NC",
            )
            assert c["route"] == "standard", c
            ids["police"].append(c["id"])
    yield ids


def _close_all(page, ids) -> None:
    """Leave the shared server as it was: close what is still open (a team on it: skip)."""
    page.evaluate(
        """async (ids) => {
            const csrf = document.querySelector('meta[name=csrf-token]').content;
            for (let i = 0; i < ids.length; i += 25) {
              await Promise.all(ids.slice(i, i + 25).map((id) => fetch(`/api/calls/${id}/close`, {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                body: JSON.stringify({disposition: 'no_response_needed'})})));
            }
        }""",
        ids,
    )


def _board(browser, base, user="dispatcher", *, axe=False, clock=False):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=axe)
    page = ctx.new_page()
    if clock:  # the page's clock, moved on by the test (time in status, check-in)
        page.clock.install()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, user)
    page.goto(base + "/board/")
    page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
    return ctx, page, errors


def test_busy_board_filters_sorts_and_pins_team_calls(browser, server, busy):
    base = server["base"]
    ctx, board, errors = _board(browser, base, axe=True)
    cards = board.locator("#calls > .call:not([hidden])")
    # every team call waiting for a team is on top, the one waiting longest first
    expect(board.locator("#calls > .call.pinned")).to_have_count(N_TEAM, timeout=15_000)
    first = cards.first
    assert first.get_attribute("id") == f"call-{busy['team'][0]}"
    assert (
        first.inner_text().count("#") >= 1
        and board.inner_text(f"#call-{busy['team'][0]} .num") == f"#{busy['team'][0]}"
    )
    pinned_ids = [board.locator("#calls > .call").nth(i).get_attribute("id") for i in range(N_TEAM)]
    assert pinned_ids == [f"call-{i}" for i in busy["team"]]
    # human words, never codes, on the cards
    text = board.inner_text("#calls").lower()
    assert "co_response" not in text and "nature_eligible" not in text
    assert "community response" in text and "police" in text

    # filter: route
    board.select_option("#f-route", "standard")
    expect(board.locator("#calls > .call:not([hidden])[data-route=crt]")).to_have_count(0)
    assert cards.count() >= 300
    # filter: priority (P1 only)
    board.select_option("#f-priority", "1")
    expect(board.locator("#calls > .call:not([hidden]):not([data-priority='1'])")).to_have_count(0)
    assert cards.count() >= 100
    # sort: longest wait first among the shown
    board.select_option("#f-sort", "wait")
    first_two = [cards.nth(i).get_attribute("id") for i in range(2)]
    times = [board.get_attribute(f"#{x} time.elapsed", "datetime") for x in first_two]
    assert times[0] <= times[1], times
    # filter: waiting for a team + over 30 minutes: only the (old) team calls
    board.select_option("#f-route", "")
    board.select_option("#f-priority", "")
    board.select_option("#f-assigned", "waiting")
    board.select_option("#f-wait", "30")
    expect(board.locator("#calls > .call:not([hidden])[data-route=standard]")).to_have_count(0)
    assert cards.count() >= N_TEAM
    # sort by priority: P1 before P3 (pinned team calls still first)
    board.select_option("#f-assigned", "")
    board.select_option("#f-wait", "")
    board.select_option("#f-sort", "priority")
    after_pinned = cards.nth(N_TEAM)
    assert after_pinned.get_attribute("data-priority") == "1"
    assert cards.last.get_attribute("data-priority") in ("3", "")
    board.select_option("#f-sort", "newest")

    # axe-core: 0 violations on the busy board
    board.add_script_tag(path=str(_axe()))
    result = board.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    assert len(result["passes"]) > 10
    problems = [
        f"{v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert problems == [], "\n".join(problems)
    # map outlines and markers are not in the tab order
    focusable = board.evaluate(
        'document.querySelectorAll(\'#map path[tabindex]:not([tabindex="-1"]), #map .leaflet-interactive[tabindex="0"]\').length'
    )
    assert focusable == 0
    assert errors == [], errors
    ctx.close()


def test_card_actions_note_close_pair_and_shortcuts(browser, server, busy):
    base, token = server["base"], server["token"]
    with httpx.Client(timeout=10) as http:
        police = _call(
            http,
            base,
            token,
            received_at=dt.datetime.now(dt.UTC).isoformat(),
            nature="ASSAULT",
            narrative="suspect punched the clerk and showed a gun",
            priority="1",
            address="1 Close Me Rd, Durham NC",
        )
    ctx, board, errors = _board(browser, base)
    card = f"#call-{police['id']}"
    board.wait_for_selector(card, timeout=10_000)
    assert "P1" in board.inner_text(f"{card} .prio")

    # card <-> marker: a click on the card selects it and its marker
    board.click(f"{card} .addr")
    expect(board.locator(f"{card}.selected")).to_have_count(1)
    expect(board.locator(f"#map .call-marker-{police['id']}.selected-marker")).to_have_count(1)

    # a note from the card
    board.click(f"{card} .note-box summary")
    board.fill(f"{card} .note-box textarea", "Second caller says both parties left on foot.")
    board.click(f"{card} .note-box button.save-note")
    expect(board.locator(f"{card} .last-note")).to_contain_text("both parties left", timeout=10_000)

    # keyboard: ? shows the list, Escape hides it; n opens the note on the selected call
    board.keyboard.press("?")
    expect(board.locator("#help")).to_be_visible()
    board.keyboard.press("Escape")
    expect(board.locator("#help")).to_be_hidden()
    board.locator(card).focus()
    board.keyboard.press("n")
    expect(board.locator(f"{card} .note-box textarea")).to_be_focused()
    board.locator(f"{card} .note-box textarea").press("Escape")
    board.locator(card).focus()
    board.keyboard.press("c")
    expect(board.locator(f"{card} .close-box select")).to_be_focused()

    # close with a disposition: the call leaves the board
    board.select_option(f"{card} .close-box select", "handled_by_police")
    board.click(f"{card} .close-box button.do-close")
    board.wait_for_selector(card, state="detached", timeout=5_000)

    # sound: the button says the action, aria-pressed the state
    snd = board.locator("#sound")
    assert snd.get_attribute("aria-pressed") == "false" and "on" in snd.inner_text().lower()
    snd.click()
    expect(snd).to_have_attribute("aria-pressed", "true")
    assert "off" in snd.inner_text().lower()
    snd.click()
    expect(snd).to_have_attribute("aria-pressed", "false")

    # co-response: a call with a gun goes to a co-response unit, paired from the card
    with httpx.Client(timeout=10) as http:
        co = _call(
            http,
            base,
            token,
            received_at=dt.datetime.now(dt.UTC).isoformat(),
            nature="CRISIS",
            narrative="man in crisis, says he has a gun at home",
            lon=-78.91,
            lat=36.0,
            address="7 Pair St, Durham NC",
        )
    if co["route"] == "co_response":
        cc = f"#call-{co['id']}"
        board.wait_for_selector(f"{cc} .pick.best button.pair", timeout=10_000)
        # a new team call sounds (counted whether or not the sound is on)
        assert int(board.evaluate("document.body.dataset.chimes || '0'")) >= 1
        # stable updates: a team's status changes, the board fetches this call's
        # recommendation again; unchanged, its button stays the very same element (never
        # one rebuilt under the pointer)
        board.locator(f"{cc} .pick.best button.pair").evaluate("b => { b.dataset.probe = '1'; }")
        teams = _api(board, "GET", "/api/teams")["body"]["items"]
        heart4 = next(t["id"] for t in teams if t["name"] == "HEART 4")
        rec_url = f"/api/calls/{co['id']}/recommendation"
        with board.expect_response(lambda r: rec_url in r.url, timeout=10_000):
            _api(board, "POST", f"/api/teams/{heart4}/status", {"status": "out_of_service"})
        with board.expect_response(lambda r: rec_url in r.url, timeout=10_000):
            _api(board, "POST", f"/api/teams/{heart4}/status", {"status": "available"})
        expect(board.locator(f"{cc} .pick.best button.pair[data-probe='1']")).to_have_count(1)
        board.fill(f"{cc} .pick.best input.police-sign", "D2-14")
        board.click(f"{cc} .pick.best button.pair")
        try:
            expect(board.locator(f"{cc} .assigned")).to_contain_text("Assigned", timeout=15_000)
        except AssertionError:
            raise AssertionError(f"{board.inner_text('#toast')} | {board.inner_text(cc)}") from None
        assert _api(board, "POST", f"/api/calls/{co['id']}/release", {})["status"] == 200
    _close_all(board, [co["id"]])
    assert errors == [], errors
    ctx.close()


def test_backup_ack_seen_by_second_dispatcher_and_phone(browser, server, busy):
    base, token = server["base"], server["token"]
    with httpx.Client(timeout=10) as http:
        call = _call(
            http,
            base,
            token,
            received_at=dt.datetime.now(dt.UTC).isoformat(),
            nature="CRISIS",
            narrative="woman sitting on the bridge rail, talking calmly",
            lon=-78.8986,
            lat=35.9940,
            address="500 Backup Bridge Rd, Durham NC",
        )
    a_ctx, a, a_errors = _board(browser, base, "dispatcher", clock=True)
    b_ctx, b, b_errors = _board(browser, base, "supervisor")
    teams = _api(a, "GET", "/api/teams")["body"]["items"]
    heart1 = next(t["id"] for t in teams if t["name"] == "HEART 1")
    assert _api(a, "POST", f"/api/calls/{call['id']}/assign", {"team_id": heart1})["status"] == 200

    phone_ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True
    )
    phone = phone_ctx.new_page()
    login(phone, base, "responder")
    phone.goto(base + "/responder/")
    for status in ("en_route", "on_scene"):
        phone.click(f"button[data-status={status}]")
        phone.wait_for_load_state("networkidle")
    # the board: HEART 1 on scene, its time in status; past the thresholds (20 min: amber)
    # and the on-scene check-in time (30 min) it asks for a check-in
    heart1_row = a.locator(".team", has_text="HEART 1")
    expect(heart1_row).to_have_attribute("data-status", "on_scene", timeout=5_000)
    expect(heart1_row.locator(".tsince")).to_contain_text("min")
    assert heart1_row.locator(".checkin").inner_text() == ""
    a.clock.fast_forward("31:00")
    expect(heart1_row).to_have_attribute("data-level", "warn", timeout=5_000)
    expect(heart1_row.locator(".checkin")).to_contain_text("Check in with HEART 1")
    heart1_row.locator(".checkin button").click()
    expect(heart1_row.locator(".checkin")).to_be_empty(timeout=5_000)
    kinds = a.evaluate(
        f"fetch('/api/calls/{call['id']}').then(r => r.json()).then(d => d.timeline.map(t => t.kind))"
    )
    assert "note" in kinds  # the check-in is on the call's timeline

    phone.once("dialog", lambda d: d.accept())
    phone.click("#backup-btn")
    phone.wait_for_selector("#backup-sent", timeout=5_000)
    expect(phone.locator("#backup-ack")).to_contain_text("not confirmed")

    # both boards: the banner with the team, the address and the call type
    for page in (a, b):
        expect(page.locator("#alarm")).to_be_visible(timeout=5_000)
        text = page.inner_text("#alarm")
        assert "HEART 1" in text and "500 Backup Bridge Rd" in text and "CRISIS" in text, text
    # raised again on reload while nobody has acknowledged it
    b.reload()
    b.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    expect(b.locator("#alarm")).to_be_visible(timeout=5_000)
    assert "500 Backup Bridge Rd" in b.inner_text("#alarm-text")

    # the first dispatcher acknowledges (keyboard shortcut b): gone everywhere, recorded
    a.keyboard.press("b")
    expect(a.locator("#alarm")).to_be_hidden(timeout=5_000)
    expect(b.locator("#alarm")).to_be_hidden(timeout=5_000)
    expect(b.locator(".call.backup .ack-note", has_text="dispatcher").first).to_be_visible(
        timeout=5_000
    )
    expect(phone.locator("#backup-ack")).to_contain_text(
        "Dispatch saw your backup request — dispatcher", timeout=5_000
    )
    b.reload()
    b.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    b.wait_for_selector(".call.backup", timeout=5_000)
    assert not b.is_visible("#alarm")
    phone.reload()
    assert "Dispatch saw your backup request — dispatcher" in phone.inner_text("#backup-ack")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # axe-core on the element this change adds to the phone (the page is another helper's)
    phone.add_script_tag(path=str(_axe()))
    result = phone.evaluate(
        "async (tags) => await axe.run('#backup-ack', {runOnly: {type: 'tag', values: tags}})",
        WCAG,
    )
    assert [v["id"] for v in result["violations"]] == []

    # tidy up: HEART 1 free, the police call and the call closed
    assert _api(a, "POST", f"/api/calls/{call['id']}/release", {})["status"] == 200
    backups = [
        int(x.get_attribute("data-call-id")) for x in a.locator(".call.backup").element_handles()
    ]
    _close_all(a, [call["id"], *backups, *busy["police"], *busy["team"]])
    assert a_errors == [] and b_errors == [], (a_errors, b_errors)
    for c in (a_ctx, b_ctx, phone_ctx):
        c.close()

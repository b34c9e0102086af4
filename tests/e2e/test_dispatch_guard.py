"""The dispatch guard in a real browser (`heart serve --demo`): the board refuses to send
a community response team to a call triaged to the standard police response, shows
why, and accepts it only with a dispatcher's written override, which the call card and
the timeline then show."""

from __future__ import annotations

import datetime as dt
import time

import httpx
from playwright.sync_api import expect

from tests.e2e.test_live_flow import login

REASON = "Police on scene asked for HEART; the gun is secured in the patrol car."


def test_board_refuses_then_accepts_with_an_override(browser, server):
    base, token = server["base"], server["token"]
    r = httpx.post(
        base + "/api/calls",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "cad_incident_id": f"e2e-guard-{time.time_ns()}",
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
            "nature": "CRISIS",
            "narrative": "MAN WAVING A GUN IN THE LOBBY, PUNCHED THE CLERK",
            "lon": -78.9120,
            "lat": 35.9870,
            "address": "300 Guard St, Durham NC",
        },
        timeout=10,
    )
    assert r.status_code == 201 and r.json()["route"] == "standard", r.text
    call_id = r.json()["id"]
    card = f"#call-{call_id}"

    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    board = ctx.new_page()
    errors: list[str] = []
    board.on("pageerror", lambda e: errors.append(str(e)))
    login(board, base, "dispatcher")
    board.goto(base + "/board/")
    board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    board.wait_for_selector(card, timeout=5_000)
    assert board.get_attribute(card, "data-route") == "standard"
    assert board.inner_text(f"{card} .route").lower() == "police"
    assert board.query_selector(f"{card} .pick") is None  # nobody is recommended

    # 1. the dispatcher tries to send HEART 4 anyway: refused, with the route and why
    board.click(f"{card} .other summary")
    board.select_option(f"{card} .other select", label="HEART 4")
    board.click(f"{card} .other button.try-assign")
    board.wait_for_selector(f"{card} .refusal:not(:empty)", timeout=5_000)
    refusal = board.inner_text(f"{card} .refusal")
    assert "409" in refusal and "routed standard" in refusal, refusal
    assert "override" in refusal
    assert board.inner_text(f"{card} .assigned") == ""
    assert board.is_visible(f"{card} .other textarea.reason")

    # 2. no reason, no dispatch
    board.click(f"{card} .other button.send-anyway")
    board.wait_for_selector(f"{card} .other .field-error:not(:empty)", timeout=5_000)
    assert board.inner_text(f"{card} .assigned") == ""

    # 3. with a written reason: assigned, and the card says who overrode and why
    board.fill(f"{card} .other textarea.reason", REASON)
    board.click(f"{card} .other button.send-anyway")
    # (locator waits, not wait_for_function: the page's CSP forbids eval)
    expect(board.locator(f"{card} .assigned")).to_contain_text("HEART 4", timeout=5_000)
    board.wait_for_selector(f"{card} .override-note:not(:empty)", timeout=5_000)
    note = board.inner_text(f"{card} .override-note")
    assert note == f"override by dispatcher: {REASON}", note
    timeline = board.evaluate(
        f"fetch('/api/calls/{call_id}').then(r => r.json()).then(d => d.timeline.map(t => t.kind))"
    )
    assert "override" in timeline and "dispatched" in timeline

    # a second board (another dispatcher) learns it from the event stream / snapshot
    other = ctx.new_page()
    other.goto(base + "/board/")
    other.wait_for_selector(f"{card} .override-note:not(:empty)", timeout=5_000)
    assert REASON in other.inner_text(f"{card} .override-note")

    # leave HEART 4 free for the other browser tests
    status = board.evaluate(
        f"""fetch('/api/calls/{call_id}/release', {{method: 'POST', credentials: 'same-origin',
            headers: {{'Content-Type': 'application/json', 'X-CSRFToken':
              document.querySelector('meta[name=csrf-token]').content}}, body: '{{}}'}}).then(r => r.status)"""
    )
    assert status == 200
    assert errors == [], errors
    ctx.close()


def _api(page, method: str, url: str, body: dict | None = None):
    """A request from the signed-in page (its session and CSRF token)."""
    return page.evaluate(
        """([method, url, body]) => fetch(url, {method, credentials: 'same-origin',
             headers: {'Content-Type': 'application/json', 'X-CSRFToken':
               (document.querySelector('meta[name=csrf-token]') || {}).content || ''},
             body: body === null ? undefined : JSON.stringify(body)})
           .then(async r => ({status: r.status, body: await r.json().catch(() => null)}))""",
        [method, url, body],
    )


def test_board_keeps_a_team_on_a_retriaged_call_only_with_a_reason(browser, server):
    base, token = server["base"], server["token"]
    cad = f"e2e-keep-{time.time_ns()}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    call = {
        "cad_incident_id": cad,
        "received_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "nature": "CRISIS",
        "narrative": "man pacing outside the library, no weapons seen",
        "lon": -78.8702,
        "lat": 35.9852,
    }
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(base + "/api/calls", headers=auth, json=call, timeout=10)
    assert r.status_code == 201 and r.json()["route"] == "crt", r.text
    call_id = r.json()["id"]
    card = f"#call-{call_id}"

    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    board = ctx.new_page()
    login(board, base, "dispatcher")
    board.goto(base + "/board/")
    board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    teams = _api(board, "GET", "/api/teams")["body"]["items"]
    heart2 = next(t["id"] for t in teams if t["name"] == "HEART 2")
    assert _api(board, "POST", f"/api/calls/{call_id}/assign", {"team_id": heart2})["status"] == 200

    # the CAD adds a gun and violence: the route becomes standard, HEART 2 is still on it
    later = (now + dt.timedelta(seconds=5)).isoformat()
    r = httpx.post(
        base + "/api/calls",
        headers=auth,
        json={**call, "updated_at": later, "narrative": "he now has a gun and hit his brother"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["route"] == "standard", r.text
    board.wait_for_selector("#alarm", state="visible", timeout=5_000)
    board.click("#alarm-ack")
    board.wait_for_selector(f"{card} .decide:not(:empty)", timeout=5_000)
    assert "HEART 2" in board.inner_text(f"{card} .decide-head")
    board.click(f"{card} .decide button.keep")  # no reason: refused
    board.wait_for_selector(f"{card} .decide .field-error:not(:empty)", timeout=5_000)
    assert "reason" in board.inner_text(f"{card} .decide .field-error")
    board.fill(f"{card} .decide textarea.reason", "Team is two blocks away with police escort.")
    board.click(f"{card} .decide button.keep")
    board.wait_for_selector(f"{card} .override-note:not(:empty)", timeout=5_000)
    assert "kept on the call by dispatcher" in board.inner_text(f"{card} .override-note")
    assert board.inner_text(f"{card} .decide") == ""
    # tidy up: HEART 2 back to available for the other tests
    assert _api(board, "POST", f"/api/calls/{call_id}/release", {})["status"] == 200
    ctx.close()

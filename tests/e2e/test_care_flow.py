"""Browser test of the caring handoff (Playwright + Debian's /usr/bin/chromium):

a responder clears a call with consent (the disposition API, in the responder's signed-in
browser session) -> the follow-up appears in the navigator's queue page -> the navigator
logs a failed attempt, then a successful one with a referral -> the person's referrals
download as a FHIR bundle that validates.

Never `playwright install`: the browser is the system chromium (the `browser` fixture of
tests/e2e/conftest.py). Skips locally when it is missing; fails under CI (env CI set).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

# the integration fixtures (people in roles, staffed teams), reused here
from tests.integration.conftest import _fast_passwords, person, staffed_team  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(context, base: str, username: str):
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-test-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_caring_handoff_in_the_browser(browser, live_server, person, staffed_team):  # noqa: F811
    from django.utils import timezone
    from fhir.resources.R4B.bundle import Bundle

    from heart.accounts.actors import SYSTEM
    from heart.calls.models import Call
    from heart.care.models import FollowUpTask, Provider, Referral
    from heart.program_in_force import current_program
    from heart.teams.services import assign_team, change_status

    base = live_server.url
    now = timezone.now()
    responder = person("responder", "clinician")
    team = staffed_team(
        "HEART-1",
        now=now,
        members=[
            (responder, "clinician"),
            (person("responder", "peer_support"), "peer_support"),
            (person("responder", "emt"), "emt"),
        ],
    )
    call = Call.objects.create(
        received_at=now - dt.timedelta(minutes=30),
        nature="CRISIS",
        route="crt",
        rules_version="v",
        program="p",
        address="12 Main St",
    )
    assign_team(call=call, team=team, actor=SYSTEM, program=current_program(), now=now)
    for s in ("en_route", "on_scene"):
        change_status(team=team, status=s, actor=SYSTEM, now=now)
    Provider.objects.create(
        name="Durham Recovery Center",
        services=["mental_health", "substance_use"],
        hours="24/7",
        walk_in=True,
        languages=["en", "es"],
    )
    navigator = person("care_navigator")

    # 1. the responder clears the call with consent, through the disposition API
    rctx = browser.new_context()
    _login(rctx, base, responder.username)
    csrf = next(c["value"] for c in rctx.cookies() if c["name"] == "csrftoken")
    r = rctx.request.post(
        f"{base}/api/teams/{team.pk}/clear",
        data={
            "outcome": "resolved_on_scene",
            "consent_follow_up": True,
            "contact_name": "Maria Lopez",
            "contact_phone": "919-555-0101",
        },
        headers={"X-CSRFToken": csrf, "Referer": base + "/"},
    )
    assert r.status == 200, r.text()
    rctx.close()
    task = FollowUpTask.objects.get(encounter__call=call)

    # 2. the follow-up is in the navigator's queue
    nctx = browser.new_context()
    page = _login(nctx, base, navigator.username)
    page.goto(f"{base}/care/queue")
    row = page.locator(f"tr[data-task='{task.pk}']")
    assert row.count() == 1
    assert "Maria Lopez" in row.inner_text()
    row.locator("a", has_text=f"#{task.pk}").click()
    page.wait_for_url(f"**/care/tasks/{task.pk}")
    page.click("#take")
    page.wait_for_load_state()
    assert page.locator("#taken-by").inner_text() == navigator.username

    # 3. a failed attempt, then a successful one (consent to share) and a referral
    page.select_option("select[name=channel]", "phone")
    page.select_option("#attempt-form select[name=outcome]", "unable_to_reach")
    page.click("#log-attempt")
    page.wait_for_load_state()
    assert "Unable to reach" in page.locator("#attempts").inner_text()
    assert page.locator("#state").inner_text().startswith("open")
    page.select_option("#attempt-form select[name=outcome]", "connected_to_care")
    page.check("input[name=consent_share]")
    page.click("#log-attempt")
    page.wait_for_load_state()
    assert "closed: connected_to_care" in page.locator("#state").inner_text()
    page.select_option("#referral-form select[name=service]", "mental_health")
    page.click("#refer")
    page.wait_for_load_state()
    assert "Durham Recovery Center (Mental health): sent" in page.locator("#referrals").inner_text()
    assert Referral.objects.filter(task=task, status="sent").count() == 1
    shots = os.environ.get("HEART_SCREENSHOTS")  # e.g. docs/screenshots (see the README)
    if shots:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=f"{shots}/care-task.png", full_page=True)

    # 4. the referral exports as a valid FHIR bundle
    href = page.get_attribute("#fhir-link", "href")
    resp = nctx.request.get(base + href)
    assert resp.status == 200 and "fhir+json" in resp.headers["content-type"]
    bundle = Bundle.model_validate_json(resp.text())
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds.count("ServiceRequest") == 1 and kinds.count("Task") == 1
    nctx.close()

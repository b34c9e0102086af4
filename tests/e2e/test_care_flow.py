"""Browser test of the caring handoff (Playwright + Debian's /usr/bin/chromium):

a responder clears a call with consent (the disposition API, in the responder's signed-in
browser session) -> the follow-up appears in the navigator's queue page -> the navigator
is refused an attempt without an outcome (no default, the error beside the field), logs a
voicemail (the task stays open), adds a provider on the directory screen, then a
successful attempt and a referral to that provider -> the person's referrals download as
a FHIR bundle that validates. axe-core finds nothing on the queue, task, person and
provider pages.

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


def _axe(page) -> list[str]:
    """axe-core (npm) on the page: its violations as lines (none expected)."""
    from tests.e2e.test_public_site import WCAG
    from tests.e2e.test_public_site import _axe as axe_path

    page.add_script_tag(path=str(axe_path()))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    assert len(result["passes"]) > 10
    return [
        f"{page.url}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


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

    # 2. the follow-up is in the navigator's queue: phone, attempts, last contact; no
    # "0 overdue" badge when nothing is overdue; human words for the encounter's mode
    nctx = browser.new_context(bypass_csp=True)  # bypass only so axe can be injected
    page = _login(nctx, base, navigator.username)
    page.goto(f"{base}/care/queue")
    row = page.locator(f"tr[data-task='{task.pk}']")
    assert row.count() == 1
    text = row.inner_text()
    assert "Maria Lopez" in text and "919-555-0101" in text and "none yet" in text, text
    assert "In person" in text and "in_person" not in text, text
    assert page.locator("#overdue-badge").count() == 0
    heads = page.locator("#queue thead").inner_text()
    assert "Phone" in heads and "Attempts" in heads and "Last contact" in heads
    problems = _axe(page)
    row.locator("a", has_text=f"#{task.pk}").click()
    page.wait_for_url(f"**/care/tasks/{task.pk}")
    page.click("#take")
    page.wait_for_load_state()
    assert page.locator("#taken-by").inner_text() == navigator.username

    # 3. no default outcome: logging without one is refused beside the field
    assert page.locator("#attempt-outcome").input_value() == ""
    page.select_option("#attempt-channel", "phone")
    page.click("#log-attempt")
    page.wait_for_load_state()
    err = page.locator("#err-outcome")
    assert "outcome" in err.inner_text()
    assert page.locator("#attempt-outcome").get_attribute("aria-describedby") == "err-outcome"
    assert page.evaluate("document.activeElement.id") == "attempt-outcome"
    assert page.locator("#attempts").inner_text().strip() == "none yet"
    problems += _axe(page)

    # a voicemail: the attempt is recorded and the task stays open
    page.select_option("#attempt-channel", "phone")
    page.select_option("#attempt-outcome", "left_message")
    page.click("#log-attempt")
    page.wait_for_load_state()
    assert "Phone: Left a message" in page.locator("#attempts").inner_text()
    assert page.locator("#state").inner_text() == "Open"
    page.goto(f"{base}/care/queue")
    text = page.locator(f"tr[data-task='{task.pk}']").inner_text()
    assert "none yet" not in text and "919-555-0101" in text, text

    # 4. a provider added on the directory screen (a bad phone is refused beside its field)
    page.goto(f"{base}/care/providers")
    assert "Durham Recovery Center" in page.locator("#providers").inner_text()
    page.fill("#pv-name", "Bull City Housing Help")
    page.check("#provider-form input[name=services][value=housing]")
    page.fill("#pv-phone", "call me")
    page.click("#add-provider")
    page.wait_for_load_state()
    assert "phone" in page.locator("#err-phone").inner_text()
    assert page.evaluate("document.activeElement.id") == "pv-phone"
    problems += _axe(page)
    page.fill("#pv-phone", "919-555-0142")
    page.click("#add-provider")
    page.wait_for_load_state()
    assert "Bull City Housing Help" in page.locator("#providers").inner_text()
    assert "Housing" in page.locator("#providers").inner_text()
    problems += _axe(page)
    housing = Provider.objects.get(name="Bull City Housing Help")
    # an edit page works too (deactivating the other one keeps it listed, marked)
    page.goto(f"{base}/care/providers/{Provider.objects.get(name='Durham Recovery Center').pk}")
    problems += _axe(page)

    # 5. the person consents to share (a successful call) and is referred to that provider
    page.goto(f"{base}/care/tasks/{task.pk}")
    page.select_option("#attempt-channel", "phone")
    page.select_option("#attempt-outcome", "connected_to_care")
    page.check("input[name=consent_share]")
    page.click("#log-attempt")
    page.wait_for_load_state()
    assert page.locator("#state").inner_text() == "Closed: Connected to care"
    assert page.locator("#referral-provider").input_value() == ""
    page.select_option("#referral-provider", str(housing.pk))
    page.select_option("#referral-service", "housing")
    page.click("#refer")
    page.wait_for_load_state()
    assert "Bull City Housing Help (Housing): Sent" in page.locator("#referrals").inner_text()
    assert Referral.objects.filter(task=task, status="sent", provider=housing).count() == 1
    problems += _axe(page)
    page.click("#person-link")
    page.wait_for_load_state()
    problems += _axe(page)
    page.goto(f"{base}/care/tasks/{task.pk}")
    assert problems == [], "\n".join(problems)
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

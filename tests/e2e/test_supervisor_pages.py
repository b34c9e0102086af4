"""Supervisor and admin pages in a real browser (Debian chromium via Playwright): teams,
users, the CAD write-back's dead letters, the staffing page's navigation and the
friendly 403 page have no WCAG 2.1 A/AA violation found by axe-core (npm); a supervisor
creates a team and a sign-in through the forms."""

from __future__ import annotations

import pytest

from tests.e2e.test_public_site import WCAG, _axe
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


def _axe_problems(page, axe, label: str) -> list[str]:
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG,
    )
    assert len(result["passes"]) > 5, label  # axe ran and checked things
    return [
        f"{label}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def _dead_letter():
    from django.utils import timezone

    from heart.cad.models import OutboxMessage
    from heart.events.models import Event

    event = Event.objects.create(name="team.status", at=timezone.now(), payload={})
    return OutboxMessage.objects.create(
        event=event,
        stream="call:7",
        kind="unit_status",
        format="webhook",
        body={"type": "unit_status"},
        state=OutboxMessage.State.DEAD,
        attempts=12,
        last_status=503,
        last_error="HTTP 503",
        next_attempt_at=timezone.now(),
    )


def test_supervisor_and_admin_pages_pass_axe(browser, live_server, person, staffed_team):  # noqa: F811
    axe = _axe()
    base = live_server.url
    admin = person("admin")
    sup = person("supervisor")
    analyst = person("analyst")
    team = staffed_team("HEART-7")
    message = _dead_letter()
    problems: list[str] = []

    context = browser.new_context(bypass_csp=True)
    page = _login(context, base, admin.username)
    for path in (
        "/staff/",
        "/staff/teams",
        f"/staff/teams/{team.pk}",
        "/accounts/users",
        "/staff/cad/",
    ):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        problems += _axe_problems(page, axe, path)
    # the dead letter is listed and replayed from the page
    page.goto(base + "/staff/cad/")
    row = page.locator(f'tr[data-message-id="{message.pk}"]')
    row.get_by_role("button", name="Send again").click()
    page.wait_for_load_state()
    assert "will be sent again" in page.locator(".messages").inner_text()
    context.close()

    # a supervisor creates a team and a sign-in through the forms
    context = browser.new_context(bypass_csp=True)
    page = _login(context, base, sup.username)
    page.goto(base + "/staff/teams")
    page.fill("#id_name", "Evening Crew")
    page.click("#team-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator('#teams td:text-is("Evening Crew")').count() == 1
    page.goto(base + "/accounts/users")
    page.fill("#id_username", "newdispatcher")
    page.fill("#id_password", "short")
    page.select_option("#id_role", "dispatcher")
    page.click("#user-form button[type=submit]")
    page.wait_for_load_state()
    assert "at least 12 characters" in page.locator("#err-password").inner_text()
    problems += _axe_problems(page, axe, "/accounts/users (with an error)")
    page.fill("#id_password", "a-long-test-passphrase-42")
    page.click("#user-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator('tr[data-user="newdispatcher"]').count() == 1
    context.close()

    # an analyst opening the board: the friendly 403
    context = browser.new_context(bypass_csp=True)
    page = _login(context, base, analyst.username)
    response = page.goto(base + "/board/")
    assert response is not None and response.status == 403
    assert "This page is not for your role" in page.inner_text("main")
    assert "dispatcher" in page.inner_text("main ul.roles")
    problems += _axe_problems(page, axe, "403 /board/ as analyst")
    context.close()
    assert problems == [], "\n".join(problems)

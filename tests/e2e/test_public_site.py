"""The public site in a real browser (Debian chromium via Playwright): every public page,
in English and in Spanish, on a phone-sized screen, has no WCAG 2.1 A/AA violation
found by axe-core (npm); the map check works; screenshots of the home page in both
languages go to HEART_SCREENSHOTS (docs/screenshots) when set.

axe is injected with the browser context's bypass_csp (as a test harness does), so the
pages themselves stay free of inline script.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, _missing
from tests.integration.conftest import _fast_passwords  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PAGES = [
    "/",
    "/about/",
    "/hours-and-area/",
    "/privacy/",
    "/feedback/",
    "/reports/",
    "/reports/2024-03/",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _axe() -> Path:
    for folder in (os.environ.get("HEART_NODE_MODULES"), ROOT / "node_modules"):
        if folder and (Path(folder) / "axe-core" / "axe.min.js").exists():
            return Path(folder) / "axe-core" / "axe.min.js"
    _missing("axe-core is not installed (bash scripts/frontend.sh)")


@pytest.fixture
def archive(tmp_path, settings):
    from heart.domain.metrics import CallRecord, Period, ReportData
    from heart.domain.program_file import load_program
    from heart.reports.build import build_report, report_settings
    from heart.reports.writer import write_report

    program = load_program("durham-heart-2023")
    month = Period.month(2024, 3, program.timezone)
    calls = [
        CallRecord(
            call_id=str(i),
            received_at=month.start_utc + dt.timedelta(hours=3 * i + 1),
            call_type=("CRISIS", "WELFARE CHECK", "TRESPASS OR UNWANTED")[i % 3],
            route="crt" if i % 4 else "ccd",
            reason_codes=("nature_eligible", "route_crt" if i % 4 else "crt_closed_hours"),
            team_sent=bool(i % 4),
            reached=bool(i % 4),
            on_scene_at=month.start_utc + dt.timedelta(hours=3 * i + 1, minutes=12 + i % 25),
            cleared_at=month.start_utc + dt.timedelta(hours=3 * i + 2, minutes=i % 40),
            disposition=("resolved_on_scene", "transported", "referred")[i % 3] if i % 4 else None,
            crisis_line_outcome=None if i % 4 else "resolved_by_phone",
            area=("882ad8c9b7fffff", "882ad8c9b3fffff", "882ad8c983fffff")[i % 3],
        )
        for i in range(240)
    ]
    report = build_report(
        lambda p: ReportData("live", calls),
        month,
        program=program,
        settings=report_settings(
            program, {"police_minutes_per_call": 40, "police_minutes_source": "test"}
        ),
    )
    write_report(report, tmp_path / "2024-03", program=program, pdf=False)
    settings.HEART_REPORTS_DIR = tmp_path
    return tmp_path


def test_public_pages_pass_axe_in_both_languages(browser, live_server, archive):
    axe = _axe()
    context = browser.new_context(
        bypass_csp=True, viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    page = context.new_page()
    shots = os.environ.get("HEART_SCREENSHOTS")
    problems = []
    for prefix in ("", "/es"):
        for path in PAGES:
            url = f"{live_server.url}{prefix}{path}?date=2024-04-10"
            response = page.goto(url)
            assert response is not None and response.status == 200, url
            if path == "/hours-and-area/":  # the map draws the area after a fetch
                page.wait_for_selector("#map .leaflet-interactive")
            page.add_script_tag(path=str(axe))
            result = page.evaluate(
                "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                WCAG,
            )
            assert len(result["passes"]) > 10, url  # axe ran and checked things
            for v in result["violations"]:
                targets = [n["target"] for n in v["nodes"]][:3]
                problems.append(f"{prefix}{path}: {v['id']} ({v['impact']}) {targets}")
            if shots and path == "/":
                Path(shots).mkdir(parents=True, exist_ok=True)
                name = "public-home-es.png" if prefix else "public-home-en.png"
                page.screenshot(path=str(Path(shots) / name))
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_coverage_check_in_the_browser(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/hours-and-area/?date=2024-04-10")
    # coordinates typed in (the map and "use my location" fill the same fields)
    page.click("summary")
    page.fill("input[name=lat]", "35.9940")
    page.fill("input[name=lon]", "-78.8986")
    page.click("form.check-form button[type=submit]")
    page.wait_for_load_state()
    assert "Yes: this place is inside" in page.inner_text(".result")
    # a click on the map checks the point under it
    page.wait_for_selector("#map .leaflet-interactive")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + box["height"] - 5)  # a corner: outside
    page.wait_for_selector(".result")
    assert "outside" in page.inner_text(".result") or "inside" in page.inner_text(".result")
    context.close()

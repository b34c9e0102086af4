"""The public site: no sign-in, English at / and Spanish at /es/, hours and area from the
program file in force on any date, the coverage check, the report archive, and pages
ready for a strict Content-Security-Policy (no inline script, style or handlers)."""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

SRC = Path(__file__).resolve().parents[2] / "src" / "heart"
PAGES = ["/", "/about/", "/hours-and-area/", "/privacy/", "/feedback/", "/reports/"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def published(tmp_path, settings):
    """A published archive with one month (written by the report writer itself)."""
    from heart.domain.metrics import CallRecord, Period, ReportData
    from heart.domain.program_file import load_program
    from heart.reports.build import build_report, report_settings
    from heart.reports.writer import write_report

    program = load_program("durham-heart-2023")
    month = Period.month(2024, 3, program.timezone)
    calls = [
        CallRecord(
            call_id=str(i),
            received_at=month.start_utc + dt.timedelta(hours=5 * i + 10),
            call_type="CRISIS",
            route="crt",
            reason_codes=("nature_eligible", "route_crt"),
            team_sent=True,
            reached=True,
            on_scene_at=month.start_utc + dt.timedelta(hours=5 * i + 10, minutes=20 + i % 7),
            disposition="resolved_on_scene",
            area="882ad8c9b7fffff",
        )
        for i in range(60)
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


def test_visitors_get_the_public_home_in_both_languages(client):
    en = client.get("/")
    assert en.status_code == 200
    text = en.content.decode()
    assert '<html lang="en">' in text and "Call 911" in text and "988" in text
    assert "weapon" in text and "EMT" in text and "Staff sign-in" in text
    es = client.get("/es/")
    assert es.status_code == 200
    text = es.content.decode()
    assert '<html lang="es">' in text and "Llame al 911" in text and "Acceso del personal" in text
    # the language switch points at the same page in the other language
    assert 'href="/es/"' in en.content.decode() and 'href="/"' in text


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("prefix", ["", "/es"])
def test_every_public_page_answers_without_sign_in(client, page, prefix):
    r = client.get(prefix + page)
    assert r.status_code == 200, (prefix + page, r.status_code)


def test_signed_in_staff_still_reach_their_page(client, person):
    client.force_login(person("dispatcher"))
    assert client.get("/").url == "/board/"


@pytest.mark.parametrize(
    "date, expect, not_expect",
    [
        # the 2022 pilot: weekdays 08:00-17:00 in 12 beats (a Saturday: no team)
        (
            "2023-10-21",
            ["No crisis team on this day of the week", "12 police beats"],
            ["8 a.m. to 8 p.m."],
        ),
        ("2023-10-20", ["from 8 a.m. to 5 p.m.", "12 police beats"], []),
        # from 2023-10-23: every day 08:00-20:00, the whole city (36 beats)
        ("2023-10-23", ["from 8 a.m. to 8 p.m.", "the whole city", "36 police beats"], ["5 p.m."]),
        ("2022-06-01", ["have not started yet", "They start on June 27, 2022"], []),
    ],
)
def test_hours_and_area_are_those_in_force_on_the_date(client, date, expect, not_expect):
    text = client.get(f"/hours-and-area/?date={date}").content.decode()
    for e in expect:
        assert e in text, (date, e)
    for e in not_expect:
        assert e not in text, (date, e)
    # the week ahead of the pilot's last Friday shows the change on Monday
    if date == "2023-10-20":
        assert "The hours or the area change on October 23, 2023" in text


def test_the_spanish_page_says_the_same_hours(client):
    text = client.get("/es/hours-and-area/?date=2023-10-23").content.decode()
    assert "de 08:00 a 20:00" in text and "toda la ciudad" in text and "lunes 23 de octubre" in text


def test_a_bad_date_is_named_and_today_shown(client):
    r = client.get("/hours-and-area/?date=31-12-2023")
    assert r.status_code == 200 and "31-12-2023 is not a date" in r.content.decode()


def test_the_area_is_served_as_outlines_for_the_date(client):
    pilot = client.get("/public/area.geojson?date=2023-01-10").json()
    city = client.get("/public/area.geojson?date=2024-01-10").json()
    team = {f["properties"]["service"]: f for f in pilot["features"]}["team"]
    assert team["properties"]["area"] == "pilot"
    assert {f["properties"]["service"]: f for f in city["features"]}["team"]["properties"][
        "area"
    ] == "city"
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in city["features"])


def test_coverage_check_by_point(client):
    inside = client.post("/hours-and-area/?date=2024-01-10", {"lat": "35.9940", "lon": "-78.8986"})
    assert inside.status_code == 200 and "Yes: this place is inside" in inside.content.decode()
    outside = client.post("/hours-and-area/?date=2024-01-10", {"lat": "36.2", "lon": "-78.5"})
    assert "No: this place is outside" in outside.content.decode()
    bad = client.post("/hours-and-area/", {"lat": "35.99"})
    assert bad.status_code == 422 and "Give both latitude and longitude" in bad.content.decode()
    far = client.post("/hours-and-area/", {"lat": "135", "lon": "0"})
    assert far.status_code == 422
    es = client.post("/es/hours-and-area/?date=2024-01-10", {"lat": "35.9940", "lon": "-78.8986"})
    assert "Sí: este lugar está dentro" in es.content.decode()


def test_coverage_check_by_address_through_the_configured_geocoder(client, settings, tmp_path):
    points = tmp_path / "addresses.csv"
    points.write_text(
        "address,lon,lat\n101 City Hall Plaza,-78.8986,35.9940\n9 Far Away Rd,-78.5,36.2\n"
    )
    settings.HEART_GEOCODER = {"kind": "file", "path": str(points)}
    page = client.get("/hours-and-area/").content.decode()
    assert 'name="address"' in page
    found = client.post("/hours-and-area/?date=2024-01-10", {"address": "101 city hall plaza"})
    text = found.content.decode()
    assert "Address found: 101 City Hall Plaza" in text and "Yes: this place is inside" in text
    missing = client.post("/hours-and-area/", {"address": "1 Nowhere Street"})
    assert "could not find that address" in missing.content.decode()
    settings.HEART_GEOCODER = {"kind": "pelias", "url": "http://127.0.0.1:9", "timeout": 0.5}
    down = client.post("/hours-and-area/", {"address": "101 City Hall Plaza"})
    assert "not answering right now" in down.content.decode()


def test_report_archive_dashboard_and_month(client, published):
    reports = client.get("/reports/?date=2024-04-15").content.decode()
    assert "/reports/2024-03/" in reports and "2024 so far" in reports
    month = client.get("/reports/2024-03/")
    assert month.status_code == 200 and "Report for March 2024" in month.content.decode()
    es = client.get("/es/reports/2024-03/").content.decode()
    assert "Informe de marzo de 2024" in es and "/reports/2024-03/charts/" in es
    assert client.get("/reports/2024-03/summary.json").status_code == 200
    assert client.get("/reports/2024-03/data/calls_by_route.csv").status_code == 200
    assert client.get("/reports/2024-03/charts/hour-of-week.png")["Content-Type"] == "image/png"
    for bad in (
        "/reports/2024-03/../../settings.py",
        "/reports/2024-03/data/x.py",
        "/reports/2024-02/",
    ):
        assert client.get(bad).status_code == 404, bad


def test_no_report_yet_is_said_plainly(client, settings, tmp_path):
    settings.HEART_REPORTS_DIR = tmp_path / "none"
    text = client.get("/reports/").content.decode()
    assert "No report has been published for this year yet." in text


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.I)


@pytest.mark.parametrize("page", [*PAGES, "/reports/2024-03/"])
def test_pages_are_ready_for_a_strict_content_security_policy(client, page, published):
    for prefix in ("", "/es"):
        text = client.get(prefix + page).content.decode()
        assert not INLINE_SCRIPT.search(text), (page, INLINE_SCRIPT.search(text))
        assert not INLINE_STYLE.search(text), (page, INLINE_STYLE.search(text))


# ------------------------------------------------------------------ translations


CALL = re.compile(
    r"\b(gettext|ngettext|pgettext)\(\s*u?'((?:[^'\\]|\\.)*)'(?:\s*,\s*u?'((?:[^'\\]|\\.)*)')?"
)


def _template_msgids(path: Path) -> set[str]:
    """The message ids Django's makemessages would extract from a template (its own
    templatize(), then the gettext calls in what it writes)."""
    from django.utils.translation.template import templatize

    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    out = set()
    for m in CALL.finditer(code):
        literal = m.group(3) if m.group(1) == "pgettext" else m.group(2)
        out.add(ast.literal_eval("'" + literal + "'"))
    return out


def _python_msgids(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.add(node.args[0].value)
    return out


def public_msgids() -> set[str]:
    ids = set()
    for folder in (SRC / "public" / "templates", SRC / "reports" / "templates" / "reports"):
        for path in folder.rglob("*.html"):
            if path.name != "staff.html":  # the staff page is not public
                ids |= _template_msgids(path)
    for path in (
        *(SRC / "public").glob("*.py"),
        SRC / "reports" / "labels.py",
        SRC / "reports" / "present.py",
        SRC / "reports" / "templatetags" / "report_tags.py",
    ):
        ids |= _python_msgids(path)
    return ids


def test_every_public_string_is_translated_into_spanish():
    ids = public_msgids()
    assert len(ids) > 150
    catalog = translation.trans_real.translation("es")._catalog
    missing = sorted(m for m in ids if not catalog.get(m) and not catalog.get((m, 0)))
    assert not missing, f"{len(missing)} public strings have no Spanish: {missing[:10]}"


def test_the_planted_untranslated_string_is_caught(tmp_path):
    planted = tmp_path / "t.html"
    planted.write_text('{% load i18n %}<p>{% translate "A sentence nobody translated" %}</p>')
    ids = _template_msgids(planted)
    catalog = translation.trans_real.translation("es")._catalog
    assert ids == {"A sentence nobody translated"} and not catalog.get(
        "A sentence nobody translated"
    )


@pytest.mark.parametrize("app", ["public", "reports"])
def test_the_committed_catalogues_are_compiled_from_the_po_files(app, tmp_path):
    """The .mo files are committed (so a wheel or a fresh clone works without gettext
    tools); this fails when a .po was edited and not compiled again."""
    folder = SRC / app / "locale" / "es" / "LC_MESSAGES"
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(folder / "django.po")], check=True)
    with (folder / "django.mo").open("rb") as a, fresh.open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog

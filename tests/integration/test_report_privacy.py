"""The privacy scanner: reports built from records full of personal data (names, phone
numbers, addresses, narratives, exact coordinates) contain none of it, in any public
output: the HTML, the PDF's text, the CSVs and the JSON. Both sources are scanned: the
live database and a planning store imported from a CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from heart.calls.models import Call, CcdOutcome, Disposition, TimelineEvent
from heart.care.models import Encounter, FollowUpTask, Person, Provider, Referral

NY = ZoneInfo("America/New_York")
K = TimelineEvent.Kind

PEOPLE = [
    ("Juanita Bellweather", "(919) 555-0147", "1234 Maple Grove Lane"),
    ("Rodrigo Quintanilla-Sosa", "919.555.0183", "77 Wisteria Court Apt 4B"),
    ("Philippa Oyelaran", "+1 919 555 0199", "5 Larkspur Terrace"),
]
NARRATIVE = "caller {name} at {address} says her neighbour Thaddeus Wimbleton is shouting; call back {phone}"
SECRETS = [p for person in PEOPLE for p in person] + [
    "Thaddeus Wimbleton",
    "shouting",
    "neighbour",
    "Maple Grove",
    "Wisteria",
    "Larkspur",
    "555-0147",
    "5550183",
    "Secret Way",
]
PHONE = re.compile(r"555\W{0,2}01(47|83|99)")
# exact coordinates near Durham (any with three or more decimals would be a point)
COORDINATE = re.compile(r"(?<![\d.])-?(35|36|78|79)\.\d{3,}")


def _point(i: int) -> tuple[float, float]:
    return -78.912345 + 0.000917 * (i % 9), 35.987654 + 0.000731 * (i % 7)


def _texts(folder: Path) -> dict[str, str]:
    out = {}
    for path in folder.rglob("*"):
        if path.suffix in (".html", ".csv", ".json", ".css"):
            out[str(path.relative_to(folder))] = path.read_text(encoding="utf-8")
        elif path.suffix == ".pdf":
            out[str(path.relative_to(folder))] = "\n".join(
                page.extract_text() or "" for page in PdfReader(path).pages
            )
    return out


def scan(folder: Path) -> list[str]:
    found = []
    texts = _texts(folder)
    assert "report.pdf" in texts and "summary.json" in texts and "report.html" in texts
    assert any(name.startswith("data/") for name in texts)
    for name, text in texts.items():
        low = text.casefold()
        for secret in SECRETS:
            if secret.casefold() in low:
                found.append(f"{name}: {secret!r}")
        for m in PHONE.finditer(text):
            found.append(f"{name}: phone {m.group(0)}")
        for m in COORDINATE.finditer(text):
            found.append(f"{name}: coordinate {m.group(0)}")
    return found


@pytest.mark.django_db
def test_no_personal_data_in_a_report_from_the_database(staffed_team, tmp_path):
    from heart.cli import main

    team = staffed_team("HEART-P1", now=dt.datetime(2024, 6, 12, 12, tzinfo=NY))
    provider = Provider.objects.create(name="Harbor Light Clinic", address="9 Secret Way")
    start = dt.datetime(2024, 6, 3, 9, tzinfo=NY)
    for i in range(36):
        name, phone, address = PEOPLE[i % 3]
        lon, lat = _point(i)
        at = start + dt.timedelta(hours=7 * i)
        c = Call.objects.create(
            received_at=at,
            nature="CRISIS" if i % 4 else "WELFARE CHECK",
            route="crt" if i % 5 else "ccd",
            reasons=[
                {"code": "nature_eligible", "text": f"about {name}"},
                {"code": "route_crt", "text": address},
            ],
            rules_version="durham-heart-2023@test",
            program="durham-heart-2023",
            beat="111",
            lon=lon,
            lat=lat,
            address=address,
            narrative=NARRATIVE.format(name=name, address=address, phone=phone),
            incident_type_text=f"CRISIS - {name}",
        )
        if c.route == "ccd":
            CcdOutcome.objects.create(
                call=c, outcome="resolved_by_phone", notes=f"spoke to {name}", recorded_at=at
            )
            continue
        TimelineEvent.objects.create(
            call=c,
            kind=K.DISPATCHED,
            at=at + dt.timedelta(minutes=3),
            actor_label=name,
            team=team,
            text=f"to {address}",
        )
        TimelineEvent.objects.create(
            call=c,
            kind=K.ON_SCENE,
            at=at + dt.timedelta(minutes=18 + i % 11),
            actor_label=name,
            team=team,
            text=name,
        )
        TimelineEvent.objects.create(
            call=c,
            kind=K.CLEARED,
            at=at + dt.timedelta(minutes=70),
            actor_label=name,
            team=team,
            text=phone,
        )
        d = Disposition.objects.create(
            call=c,
            team=team,
            outcome="referred" if i % 3 else "resolved_on_scene",
            recorded_at=at + dt.timedelta(minutes=70),
            recorded_by_label=name,
            consent_follow_up=True,
            contact_name=name,
            contact_phone=phone,
            contact_notes=f"lives at {address}",
            notes=NARRATIVE.format(name=name, address=address, phone=phone),
            referred_to="Harbor Light Clinic",
        )
        person = Person.objects.create(
            name=name, phone=phone, address=address, notes=f"{name} {phone}"
        )
        e = Encounter.objects.create(
            call=c,
            source="disposition",
            disposition=d,
            mode="in_person",
            team=team,
            person=person,
            outcome=d.outcome,
            occurred_at=at,
            closed_at=at + dt.timedelta(minutes=70),
            consent_follow_up=True,
        )
        task = FollowUpTask.objects.create(
            encounter=e,
            due_at=at + dt.timedelta(hours=49),
            first_attempt_at=at + dt.timedelta(hours=20),
            first_attempt_by=name,
        )
        Referral.objects.create(
            person=person,
            provider=provider,
            service="housing",
            task=task,
            note=f"{name} at {address}",
            created_at=at + dt.timedelta(hours=20),
            created_by_label=name,
            status_changed_at=at + dt.timedelta(hours=20),
        )
    out = tmp_path / "report"
    assert (
        main(
            [
                "report",
                "--month",
                "2024-06",
                "--database",
                "--out",
                str(out),
                "--quiet",
                "--police-minutes",
                "40",
                "--police-minutes-source",
                "test",
            ]
        )
        == 0
    )
    assert scan(out) == []
    summary = (out / "summary.json").read_text()
    assert '"calls_total": 36' in summary  # the report is not empty: the scan saw figures


def test_no_personal_data_in_a_report_from_a_store(tmp_path):
    from heart.cli import main

    export = tmp_path / "export.csv"
    with export.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "id",
                "received_at",
                "nature",
                "priority",
                "lon",
                "lat",
                "beat",
                "narrative",
                "weapon",
                "violence",
            ]
        )
        for i in range(60):
            name, phone, address = PEOPLE[i % 3]
            lon, lat = _point(i)
            at = dt.datetime(2024, 6, 2, 8, tzinfo=NY) + dt.timedelta(hours=11 * i)
            w.writerow(
                [
                    f"P{i}",
                    at.isoformat(),
                    "CRISIS" if i % 3 else "TRESPASS OR UNWANTED",
                    "2",
                    f"{lon:.6f}",
                    f"{lat:.6f}",
                    "" if i % 2 else "111",
                    NARRATIVE.format(name=name, address=address, phone=phone),
                    "N",
                    "N",
                ]
            )
        w.writerow(["bad", "not a time", "CRISIS", "", "", "", "", "Bad Row Person", "", ""])
    store = tmp_path / "store"
    assert (
        main(
            [
                "plan",
                "import",
                str(export),
                "--mapping",
                "heart-standard",
                "--out",
                str(store),
                "--quiet",
                "--allow-rejects",  # the planted bad row is 1 of 61 (over the 1% limit)
            ]
        )
        == 0
    )
    out = tmp_path / "report"
    assert (
        main(["report", "--month", "2024-06", "--store", str(store), "--out", str(out), "--quiet"])
        == 0
    )
    assert scan(out) == []
    assert '"calls_total": 60' in (out / "summary.json").read_text()
    # the scanner itself: a planted name, phone and point are found
    with (out / "data" / "summary.csv").open("a") as fh:
        fh.write("2024-06,note,Juanita Bellweather (919) 555-0147 at -78.912345\n")
    found = scan(out)
    assert any("Juanita" in f for f in found) and any("phone" in f for f in found)
    assert any("coordinate" in f for f in found)

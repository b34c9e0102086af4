"""`heart demo`: generate four weeks of synthetic calls, triage them with a built-in
program in one batch, store them in the database and print a summary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from rich.console import Console

from heart.batch.run import run_batch
from heart.batch.summary import print_summary
from heart.batch.synthetic import generate_calls
from heart.calls.models import Call
from heart.domain.mapping import load_mapping
from heart.domain.program_file import load_program


def demo_natures(program) -> tuple[list[str], list[float]]:
    """Eligible natures most often, some ineligible, a few the program does not know."""
    eligible = sorted(program.natures)
    not_eligible = sorted(program.not_eligible)
    unknown = ["ALARM", "LARCENY", "MOTOR VEHICLE ACCIDENT"]
    natures = eligible + not_eligible + unknown
    weights = [6.0] * len(eligible) + [1.0] * len(not_eligible) + [2.0] * len(unknown)
    return natures, weights


def run_demo(*, calls: int, seed: int, program_name: str, console: Console) -> int:
    call_command("migrate", verbosity=0, interactive=False)
    program = load_program(program_name)
    city = program.areas["city"].geometry if "city" in program.areas else None
    if city is None:
        city = next(a.geometry for a in program.areas.values() if a.geometry is not None)
    natures, weights = demo_natures(program)
    frame = generate_calls(
        calls,
        natures=natures,
        nature_weights=weights,
        area=city.buffer(0.02),  # some calls fall just outside the city
        start=dt.date(2024, 1, 1),
        days=28,
        timezone=program.timezone,
        seed=seed,
    )
    out_dir = Path(settings.DATA_DIR) / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    calls_path = out_dir / "calls.csv"
    frame.write_csv(calls_path)
    console.print(f"Generated {frame.height:,} synthetic calls -> {calls_path}", highlight=False)

    out_path = out_dir / "decisions.csv"
    rejects_path = out_dir / "decisions.rejects.csv"
    summary = run_batch(
        input_path=calls_path,
        program=program,
        mapping=load_mapping("heart-standard"),
        out_path=out_path,
        rejects_path=rejects_path,
        with_texts=True,  # the stored calls carry the full sentences
    )
    joined = frame.with_row_index("row", offset=1).join(
        summary.decisions.drop("id"),  # type: ignore[union-attr]
        on="row",
    )
    rows = []
    for r in joined.iter_rows(named=True):
        rows.append(
            Call(
                cad_incident_id=f"demo:{r['id']}",
                source="demo",
                received_at=dt.datetime.fromisoformat(r["received_at"]),
                nature=r["nature"],
                priority=r["priority"] or "",
                beat=r["beat"] or "",
                lon=r["lon"],
                lat=r["lat"],
                narrative=r["narrative"] or "",
                weapon_flag=r["weapon"] == "Y",
                violence_flag=r["violence"] == "Y",
                route=r["route"],
                reasons=json.loads(r["reason_texts"]),
                rules_version=r["rules_version"],
                program=program.name,
            )
        )
    with transaction.atomic():
        Call.objects.filter(source="demo").delete()
        Call.objects.bulk_create(rows, batch_size=2000)
    print_summary(summary, out_path, rejects_path, console=console)
    db = settings.DATABASES["default"]
    console.print(
        f"Stored {len(rows):,} triaged calls in {db['ENGINE'].rsplit('.', 1)[-1]} ({db['NAME']}).",
        highlight=False,
    )
    return 0

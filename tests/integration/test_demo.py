"""The main job: synthetic calls triaged and stored with their reasons."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from heart.calls.models import Call
from heart.demo.batch import run_demo

pytestmark = pytest.mark.django_db


def test_demo_stores_every_call_with_reasons(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    assert (
        run_demo(
            calls=400, seed=3, program_name="durham-heart-2023", console=Console(file=io.StringIO())
        )
        == 0
    )
    calls = Call.objects.filter(source="demo")
    assert calls.count() == 400
    routes = set(calls.values_list("route", flat=True))
    assert {"crt", "standard"} <= routes
    header = (tmp_path / "demo" / "decisions.csv").read_text().splitlines()[0]
    assert header == "row,id,route,reasons,rules_version"  # the sentences stay in the database
    one = calls.filter(route="crt").first()
    assert one.reasons[-1]["code"] == "route_crt" and one.reasons[-1]["text"]
    # running again replaces the demo calls instead of adding to them
    run_demo(
        calls=100, seed=4, program_name="durham-heart-2023", console=Console(file=io.StringIO())
    )
    assert Call.objects.filter(source="demo").count() == 100

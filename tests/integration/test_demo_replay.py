"""`heart serve --demo`'s replay, stepped by hand on a fast clock (no thread, no server):
calls arrive through intake, teams are dispatched, drive, arrive, clear and report."""

from __future__ import annotations

import pytest

from heart.calls.models import Call, TimelineEvent
from heart.demo.live import Replay, demo_program_path, seed
from heart.teams.models import Position

pytestmark = pytest.mark.django_db


def test_a_few_simulated_hours_of_the_demo(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.HEART_PROGRAM = str(demo_program_path())
    seeded = seed(password="pw-demo-123")
    assert {"HEART 1", "HEART 2", "HEART 3", "HEART 4"} <= set(seeded.team_members)
    assert {r for r, _, _ in seeded.accounts} >= {"dispatcher"}
    # 10 simulated minutes a step, dispatch at once, busy hour
    replay = Replay(speed=600, calls_per_hour=30, auto_dispatch_after=0, seed=5)
    replay._setup()
    for _ in range(36):  # six simulated hours
        replay._step()
    calls = Call.objects.filter(source="demo")
    assert replay.stats["calls"] == calls.count() > 50
    assert all(c.reasons and c.rules_version for c in calls)
    assert {"crt", "standard"} <= set(calls.values_list("route", flat=True))
    kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert {"received", "triaged", "dispatched", "en_route", "on_scene", "cleared"} <= kinds
    assert replay.stats["cleared"] >= 3 and replay.stats["positions"] > 10
    assert Position.objects.count() >= replay.stats["positions"]
    # every dispatched call went to a team on a route a field team serves
    from heart.program_in_force import current_program

    field = current_program().field_routes()
    dispatched = TimelineEvent.objects.filter(kind="dispatched").values_list(
        "call__route", flat=True
    )
    assert set(dispatched) <= field

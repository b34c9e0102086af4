"""Benchmark: the care navigator's follow-up queue page with 10,000 open tasks.

    .venv/bin/python bench/bench_care.py                      # SQLite (in memory)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test HEART_TEST_DB_NAME=bench_care \
        .venv/bin/python bench/bench_care.py                  # PostgreSQL (scratch test DB)

Creates a throw-away test database (Django's test-database machinery: never your data),
fills it with N open follow-ups (people, calls, encounters), then times GET /care/queue
(the HTML page: 100 rows by due time + open/overdue counts, one audit row per person
shown) and GET /api/care/queue through Django's test client, signed in as a navigator.
Target (issue 4): the page renders in under 300 ms. Figures go into bench/CARE.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--budget-ms", type=float, default=300.0)
    args = ap.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if os.environ.get("HEART_TEST_DB_NAME"):
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ[
            "HEART_TEST_DB_NAME"
        ]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return _run(args, connection.vendor)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _fill(n: int) -> None:
    from django.utils import timezone

    from heart.calls.models import Call
    from heart.care.models import Encounter, FollowUpTask, Person

    now = timezone.now()
    t0 = time.perf_counter()
    people = Person.objects.bulk_create(
        [
            Person(
                name=f"Person {i}",
                name_key=f"person {i}",
                phone=f"919555{i:04d}",
                phone_digits=f"919555{i:04d}",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    calls = Call.objects.bulk_create(
        [
            Call(
                received_at=now - dt.timedelta(minutes=10 * i + 60),
                nature="CRISIS",
                route="crt",
                rules_version="v",
                program="p",
                state="closed",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    encs = Encounter.objects.bulk_create(
        [
            Encounter(
                call=c,
                source="disposition",
                mode="in_person",
                person=p,
                outcome="resolved_on_scene",
                occurred_at=c.received_at,
                closed_at=c.received_at + dt.timedelta(minutes=30),
                consent_follow_up=True,
            )
            for c, p in zip(calls, people, strict=True)
        ],
        batch_size=2000,
    )
    FollowUpTask.objects.bulk_create(
        [FollowUpTask(encounter=e, due_at=e.closed_at + dt.timedelta(hours=48)) for e in encs],
        batch_size=2000,
    )
    print(f"filled {n} open follow-ups in {time.perf_counter() - t0:.1f} s")


def _time(client, url: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def _run(args, vendor: str) -> int:
    from django.test import Client

    from heart.accounts.roles import ensure_roles
    from heart.accounts.services import create_user
    from heart.care.models import FollowUpTask

    ensure_roles()
    _fill(args.tasks)
    assert FollowUpTask.objects.filter(state="open").count() == args.tasks
    nav = create_user(username="bench-nav", password="pw-bench-123", role="care_navigator")
    client = Client()
    client.force_login(nav)
    for url in ("/care/queue", "/api/care/queue"):
        _time(client, url, 3)  # warm up
    results = {}
    for label, url in (
        ("page /care/queue (100 rows)", "/care/queue"),
        ("page /care/queue?page=50", "/care/queue?page=50"),
        ("api /api/care/queue", "/api/care/queue"),
    ):
        ms = sorted(_time(client, url, args.runs))
        results[label] = ms
        p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
        print(
            f"{vendor:10s} {label:32s} median {statistics.median(ms):7.1f} ms  "
            f"p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms  ({args.runs} runs, {args.tasks} open)"
        )
    worst = max(statistics.median(v) for v in results.values())
    ok = worst < args.budget_ms
    print(f"{'PASS' if ok else 'FAIL'}: worst median {worst:.1f} ms (budget {args.budget_ms} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

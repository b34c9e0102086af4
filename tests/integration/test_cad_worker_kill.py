"""The CAD write-back survives its worker being killed with kill -9 mid-delivery
(PostgreSQL: the real procrastinate worker, `heart worker`, in a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from heart.cad.models import OutboxMessage
from tests.integration.fake_cad import FakeCad
from tests.integration.test_cad_writeback import (
    assert_all_in_order,
    open_call,
    status_events,
    teams,
)

ROOT = Path(__file__).resolve().parents[2]
S = OutboxMessage.State


def wait_for(condition, what: str, within: float = 120.0) -> None:
    limit = time.monotonic() + within
    while not condition():
        assert time.monotonic() < limit, f"gave up waiting for {what}"
        time.sleep(0.05)


def start_worker(cad_setting: dict, log) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    env = {**os.environ, "DATABASE_URL": url, "HEART_CAD": json.dumps(cad_setting)}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "heart.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_and_reorders_nothing(postgres_only, settings, tmp_path):
    """About 35 s: 40 messages over 5 calls, the CAD failing 30% of requests and taking
    0.05 s over each; the worker is killed while the CAD holds a message it has taken but
    not yet acknowledged, then restarted: that message comes again (same key)."""
    with FakeCad(fail_rate=0.3, delay=0.05, hold=0.3) as cad:
        cad_setting = {
            "url": cad.url,
            "secret": "s3cret",
            "timeout": 2,
            "backoff_base": 0.05,
            "backoff_cap": 0.2,
            "max_attempts": 100,
            "cron": "* * * * * *",  # every second
        }
        settings.HEART_CAD = cad_setting
        messages = status_events([open_call("crt") for _ in range(5)], 8, teams(5))
        assert len(messages) == 40
        log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
        worker = start_worker(cad_setting, log)
        try:
            wait_for(lambda: len(cad.taken) >= 8 and cad.holding > 0, "a message taken, unanswered")
            os.kill(worker.pid, signal.SIGKILL)  # mid-request: no clean-up of any kind
            worker.wait(10)
            sent_before = len(cad.taken)
            assert sent_before < 40, "the worker finished before it could be killed"
            assert OutboxMessage.objects.filter(state=S.PENDING).exists()
            worker = start_worker(cad_setting, log)
            wait_for(
                lambda: not OutboxMessage.objects.exclude(state=S.SENT).exists(),
                "every message acknowledged",
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)
            log.close()
            _forget_jobs()
        log_text = (tmp_path / "worker.log").read_text()
        assert "Traceback" not in log_text, log_text[-3000:]
        assert_all_in_order(cad, messages)
        # at least once: the message taken but unanswered at the kill came twice, same key
        assert len(cad.taken) == 40 and len(cad.arrivals) > 40


@pytest.mark.django_db(transaction=True)
def test_a_message_defers_a_delivery_job_in_its_own_transaction(
    postgres_only, settings, monkeypatch
):
    """The outbox row and a procrastinate job to send it commit together (or neither):
    delivery starts at once instead of at the next cron time; one job waits at most."""
    from django.db import connection as conn
    from django.db import transaction
    from procrastinate.contrib.django import app

    import heart.jobs
    from heart.cad.delivery import deliver_due

    # what CadConfig.ready() and heart.jobs.worker do at start-up when HEART_CAD is set
    settings.HEART_CAD = {"url": "http://127.0.0.1:9/never", "secret": "s"}
    job = heart.jobs.Job("cad.deliver", "* * * * * */5", deliver_due)
    monkeypatch.setitem(heart.jobs._jobs, "cad.deliver", job)
    if "heart.cad.deliver" not in app.tasks:
        app.task(name="heart.cad.deliver", queue="heart")(lambda timestamp: None)

    def waiting() -> int:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'heart.cad.deliver' "
                "AND status = 'todo' AND queueing_lock = 'heart.cad.deliver'"
            )
            return cur.fetchone()[0]

    class Boom(Exception):
        pass

    _forget_jobs()
    c = open_call("crt")
    t = teams(1)
    with pytest.raises(Boom), transaction.atomic():
        status_events([c], 1, t)
        raise Boom
    assert OutboxMessage.objects.count() == 0 and waiting() == 0
    status_events([c], 3, t)
    assert OutboxMessage.objects.count() == 3 and waiting() == 1
    _forget_jobs()


def _forget_jobs() -> None:
    """Leave no heart.cad.deliver job behind for another test's in-process worker."""
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = 'heart.cad.deliver' "
            "AND status <> 'doing'"
        )

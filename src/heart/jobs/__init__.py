"""Scheduled jobs: plain functions, run by procrastinate on PostgreSQL or by a thread in
the server process on SQLite.

An app registers its jobs in its ``ready()``::

    from heart.jobs import register
    register(name="teams.purge_positions", cron="17 3 * * *", func=purge_old_positions)

* PostgreSQL (``HEART_JOBS_BACKEND=auto`` or ``procrastinate``): each job is a
  procrastinate periodic task (:mod:`heart.jobs.worker`); a worker defers and
  runs them, exactly once per due time however many workers run (procrastinate's
  periodic lock). ``heart serve`` starts one worker beside the web processes unless
  ``--no-worker``; ``heart worker`` runs one on its own.
* SQLite (``auto`` or ``thread``): the one server process runs them from a daemon
  thread (:func:`start_in_process_scheduler`, started by heart.web.asgi), like the event
  sweeper. procrastinate needs PostgreSQL and is not installed into an SQLite database.

Why procrastinate: the job queue lives in the database the service already runs (no
broker to operate), jobs are deferred inside the writing transaction (:func:`nudge`: the
CAD write-back), periodic tasks are de-duplicated across workers, and it has a Django contrib
(migrations, admin). Jobs must be idempotent: a job may run again after a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str  # stable: the procrastinate task name is heart.<name>
    cron: str  # 5 fields, or 6 with seconds last (croniter / procrastinate syntax)
    func: Callable[[], object]
    description: str = ""


_jobs: dict[str, Job] = {}


def register(*, name: str, cron: str, func: Callable[[], object], description: str = "") -> None:
    """Run ``func()`` at the times of ``cron`` (server time zone: UTC)."""
    import croniter

    if not croniter.croniter.is_valid(cron):
        raise ValueError(f"job {name}: cron {cron!r} is not valid")
    _jobs[name] = Job(name, cron, func, description)


def nudge(name: str) -> bool:
    """Ask for a registered job to run now, besides its cron times (e.g. the CAD
    write-back when a message was just written). With procrastinate the job is deferred
    INSIDE the current transaction (it exists only if the change commits) and at most
    one such run waits at a time (a queueing lock); with the thread runner this does
    nothing (the next cron time comes within seconds). True when a run was queued."""
    if name not in _jobs or backend_name() != "procrastinate":
        return False
    from django.db import transaction
    from procrastinate import exceptions
    from procrastinate.contrib.django import app

    task = app.tasks.get(f"heart.{name}")
    if task is None:  # the worker module did not register it (no procrastinate app)
        return False
    import time

    try:
        with transaction.atomic():  # a savepoint: a refused duplicate leaves the change whole
            task.configure(queueing_lock=f"heart.{name}").defer(timestamp=int(time.time()))
    except exceptions.AlreadyEnqueued:
        return False
    return True


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def backend_name() -> str:
    """'procrastinate' or 'thread' (settings.HEART_JOBS_BACKEND, default auto)."""
    from django.conf import settings

    choice = getattr(settings, "HEART_JOBS_BACKEND", "auto") or "auto"
    postgres = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    if choice == "auto":
        return "procrastinate" if postgres else "thread"
    if choice not in ("procrastinate", "thread"):
        raise ValueError(f"HEART_JOBS_BACKEND: unknown {choice!r} (auto, procrastinate, thread)")
    if choice == "procrastinate" and not postgres:
        raise ValueError("HEART_JOBS_BACKEND=procrastinate needs PostgreSQL (DATABASE_URL)")
    return choice


def run_job(name: str) -> object:
    """Run one registered job now, in this thread (logs its outcome, never personal data)."""
    from django.db import close_old_connections, connections

    job = _jobs[name]
    close_old_connections()
    try:
        result = job.func()
        log.info("job %s done: %s", name, result)
        return result
    finally:
        if threading.current_thread() is threading.main_thread():
            close_old_connections()
        else:  # a scheduler or worker thread: its connections die with it, close them
            connections.close_all()


def next_runs(now: dt.datetime) -> dict[str, dt.datetime]:
    import croniter

    return {j.name: croniter.croniter(j.cron, now).get_next(dt.datetime) for j in registered()}


class Scheduler:
    """The SQLite-side runner: a daemon thread that runs each job at its cron times."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.runs: list[str] = []  # names run, oldest first (tests)

    def start(self) -> Scheduler:
        self.thread = threading.Thread(target=self._loop, name="heart-jobs", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        now = dt.datetime.now(dt.UTC)
        due = next_runs(now)
        while not self._stop.is_set() and due:
            name, at = min(due.items(), key=lambda kv: kv[1])
            wait = (at - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, 60.0)):
                break
            if dt.datetime.now(dt.UTC) < at:
                continue  # woke early (waits are capped so a clock change is noticed)
            try:
                run_job(name)
                self.runs.append(name)
            except Exception as exc:  # the next due time tries again
                log.error("job %s failed: %s", name, type(exc).__name__)
            import croniter

            due[name] = croniter.croniter(_jobs[name].cron, at).get_next(dt.datetime)


_scheduler: Scheduler | None = None


def start_in_process_scheduler() -> Scheduler | None:
    """Start the thread runner when jobs run in process (SQLite); once per process."""
    global _scheduler
    if backend_name() != "thread" or not _jobs:
        return None
    if _scheduler is None:
        _scheduler = Scheduler().start()
    return _scheduler

"""The registered jobs as procrastinate periodic tasks (PostgreSQL).

settings.PROCRASTINATE_ON_APP_READY points here: procrastinate's Django app calls
:func:`register_tasks` once every app is ready (and so has registered its jobs). The
worker (``heart worker`` or ``heart manage procrastinate worker``) defers each task at
its cron times, once across all workers, and runs it.
"""

from __future__ import annotations

from heart.jobs import registered, run_job

QUEUE = "heart"


def register_tasks(app) -> None:
    for job in registered():

        def task(timestamp: int, _name: str = job.name) -> None:
            run_job(_name)

        task.__name__ = job.name.replace(".", "_")
        task.__doc__ = job.description
        t = app.task(name=f"heart.{job.name}", queue=QUEUE)(task)
        app.periodic(cron=job.cron, periodic_id=job.name)(t)


def run_worker(*, wait: bool = True) -> None:
    """Run a worker on the heart queue until stopped (or, wait=False, until it is empty).
    Like `heart manage procrastinate worker`, on a psycopg connector of its own (the
    Django connector serves deferring from the web processes, not workers)."""
    from procrastinate.contrib.django import app

    worker_app = app.with_connector(app.connector.get_worker_connector())
    worker_app.run_worker(queues=[QUEUE], wait=wait, install_signal_handlers=wait)

"""`heart serve`: uvicorn running Django's ASGI app (async SSE view, sync views in threads).

One process on SQLite (events in process); with PostgreSQL, ``--workers N`` starts N
processes that share events through LISTEN/NOTIFY. See docs/realtime.md. Django is set
up by the caller: the command line, which also prepares the demo (``--demo``) before it
calls :func:`run`.
"""

from __future__ import annotations

import os

import uvicorn
from django.conf import settings
from rich.console import Console

from heart.live.broadcast import backend_name


def workers_problem(workers: int) -> str | None:
    """Why ``workers`` processes cannot share live events here (None: they can)."""
    if workers > 1 and backend_name() != "postgres":
        return (
            "--workers: several processes share live events only through "
            "PostgreSQL (set DATABASE_URL); SQLite runs one process."
        )
    return None


def run(*, host: str, port: int, workers: int, console: Console) -> int:
    """Serve until Ctrl-C."""
    problem = workers_problem(workers)
    if problem:
        console.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        return 2
    backend = backend_name()
    db = settings.DATABASES["default"]
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    console.print(
        f"HEART on [bold]http://{shown}:{port}/[/bold] (board /board/, responder /responder/, "
        f"crisis line /ccd/, API /api/docs) · database {db['ENGINE'].rsplit('.', 1)[-1]} · "
        f"live events {backend} · {workers} process{'es' if workers > 1 else ''}. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "heart.web.asgi:application",
        host=host,
        port=port,
        workers=workers,
        lifespan="on",  # HeartApplication starts its background work there
        log_level=os.environ.get("HEART_SERVER_LOG_LEVEL", "warning"),
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    return 0

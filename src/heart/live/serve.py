"""`heart serve`: uvicorn running Django's ASGI app (async SSE view, sync views in threads).

One process on SQLite (events in process); with PostgreSQL, ``--workers N`` starts N
processes that share events through LISTEN/NOTIFY. See docs/realtime.md.
"""

from __future__ import annotations

import os

from rich.console import Console


def run(
    *,
    host: str,
    port: int,
    workers: int,
    demo: bool,
    replay: bool,
    speed: float,
    calls_per_hour: float,
    console: Console,
) -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from heart.live.broadcast import backend_name

    backend = backend_name()
    db = settings.DATABASES["default"]
    if workers > 1 and backend != "postgres":
        console.print(
            "[red]error:[/red] --workers: several processes share live events only through "
            "PostgreSQL (set DATABASE_URL); SQLite runs one process.",
            highlight=False,
            soft_wrap=True,
        )
        return 2
    replayer = None
    if demo:
        from heart.live import demo as demo_mod

        settings.HEART_PROGRAM = str(demo_mod.demo_program_path())
        os.environ["HEART_PROGRAM"] = settings.HEART_PROGRAM  # for worker processes
        call_command("migrate", verbosity=0, interactive=False)
        closed = demo_mod.close_stale_demo_calls()
        seeded = demo_mod.seed()
        console.print(
            f"[bold]HEART demo[/bold] — Durham program, {len(seeded.team_members)} teams "
            f"on shift, {closed} calls from an earlier run closed. The demo program is "
            "durham-heart-2023 with round-the-clock hours, so teams get calls at any hour.",
            highlight=False,
            soft_wrap=True,
        )
        console.print("Accounts (one per role; the same password for every demo account):")
        for role, username, password in seeded.accounts:
            console.print(
                f"  {role:<17} {username:<17} {password}", highlight=False, soft_wrap=True
            )
        for team, names in seeded.team_members.items():
            console.print(f"  {team}: {', '.join(names)}", highlight=False, soft_wrap=True)
        if replay:
            replayer = demo_mod.Replay(speed=speed, calls_per_hour=calls_per_hour)
            replayer.start()
            console.print(
                f"Replaying synthetic calls: ~{calls_per_hour:g} per simulated hour, clock x{speed:g}. "
                "Unassigned team calls are auto-dispatched after 3 simulated minutes.",
                highlight=False,
                soft_wrap=True,
            )
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    console.print(
        f"HEART on [bold]http://{shown}:{port}/[/bold] (board /board/, responder /responder/, "
        f"crisis line /ccd/, API /api/docs) · database {db['ENGINE'].rsplit('.', 1)[-1]} · "
        f"live events {backend} · {workers} process{'es' if workers > 1 else ''}. Ctrl-C stops.",
        highlight=False,
        soft_wrap=True,
    )
    import uvicorn

    try:
        uvicorn.run(
            "heart.web.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="off",
            log_level=os.environ.get("HEART_SERVER_LOG_LEVEL", "warning"),
            timeout_graceful_shutdown=2,
            access_log=False,
        )
    finally:
        if replayer is not None:
            replayer.stop()
            console.print(
                f"Replay stopped: {replayer.stats['calls']} calls, "
                f"{replayer.stats['positions']} positions, {replayer.stats['cleared']} cleared.",
                highlight=False,
                soft_wrap=True,
            )
    return 0

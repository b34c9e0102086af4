"""`heart demo|serve|apiclient|manage`: the commands that need Django and the database."""

from __future__ import annotations

import argparse

from heart.cli.common import console, django_setup, out


def add_demo_parser(sub) -> None:
    d = sub.add_parser("demo", help="generate synthetic calls, triage and store them (SQLite)")
    d.add_argument("--calls", type=int, default=5000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--program", default="durham-heart-2023")
    d.set_defaults(handler=cmd_demo)


def add_parsers(sub) -> None:
    a = sub.add_parser("apiclient", help="API clients (e.g. the CAD): create prints a token")
    asub = a.add_subparsers(dest="apiclient_command", required=True)
    ac = asub.add_parser("create", help="create a client and print its token (shown once)")
    ac.add_argument("name")
    ac.add_argument(
        "--scope",
        action="append",
        choices=["intake", "avl"],
        help="what the client may do (repeatable; default intake)",
    )
    asub.add_parser("list", help="list clients (never the tokens)")
    ar = asub.add_parser("revoke", help="deactivate a client's token")
    ar.add_argument("name")
    a.set_defaults(handler=cmd_apiclient)

    sv = sub.add_parser("serve", help="run the web service (board, responder, API) with uvicorn")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--workers", type=int, default=1, help="server processes (more than one: PostgreSQL only)"
    )
    sv.add_argument(
        "--demo",
        action="store_true",
        help="migrate, seed Durham teams and one account per role, replay synthetic calls",
    )
    sv.add_argument("--no-replay", action="store_true", help="with --demo: seed only")
    sv.add_argument(
        "--no-worker",
        action="store_true",
        help="PostgreSQL: do not start a job worker beside the server (run `heart worker`)",
    )
    sv.add_argument("--speed", type=float, default=30.0, help="demo clock speed-up (default 30)")
    sv.add_argument(
        "--calls-per-hour", type=float, default=12.0, help="demo calls per simulated hour"
    )
    sv.set_defaults(handler=cmd_serve)

    w = sub.add_parser(
        "worker",
        help="run scheduled jobs: a procrastinate worker (PostgreSQL) or the in-process "
        "scheduler in the foreground (SQLite)",
    )
    w.set_defaults(handler=cmd_worker)

    m = sub.add_parser("manage", help="Django management commands (migrate, createsuperuser …)")
    m.add_argument("args", nargs=argparse.REMAINDER)
    m.set_defaults(handler=cmd_manage)


def cmd_demo(args: argparse.Namespace) -> int:
    django_setup()
    from heart.demo.batch import run_demo

    return run_demo(calls=args.calls, seed=args.seed, program_name=args.program, console=console)


def cmd_apiclient(args: argparse.Namespace) -> int:
    django_setup()
    from heart.accounts.actors import Actor
    from heart.accounts.models import ApiClient
    from heart.accounts.services import create_api_client, revoke_api_client
    from heart.errors import ServiceError

    if args.apiclient_command == "create":
        try:
            client, token = create_api_client(name=args.name, scopes=args.scope)
        except ServiceError as exc:
            console.print(f"[red]{exc.message}[/red]")
            return 2
        console.print(f"API client {client.name!r} created (scopes: {', '.join(client.scopes)}).")
        console.print("The token is shown once; only its hash is stored:")
        out.print(token, soft_wrap=True, highlight=False)
        return 0
    if args.apiclient_command == "list":
        for c in ApiClient.objects.order_by("name"):
            state = "active" if c.active else "revoked"
            out.print(f"{c.name}\t{c.token_prefix}…\t{','.join(c.scopes)}\t{state}")
        return 0
    try:
        revoke_api_client(name=args.name, actor=Actor("cli"))
    except ServiceError:
        console.print(f"[red]no API client called {args.name!r}[/red]")
        return 2
    console.print(f"API client {args.name!r} revoked (refused at once by running servers).")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        console.print("[red]error:[/red] --port: between 1 and 65535", highlight=False)
        return 2
    if args.workers < 1 or args.speed <= 0 or args.calls_per_hour <= 0:
        console.print(
            "[red]error:[/red] --workers, --speed and --calls-per-hour must be positive",
            highlight=False,
        )
        return 2
    django_setup()
    from heart.live.serve import run, workers_problem

    problem = workers_problem(args.workers)
    if problem:  # before the demo touches the database
        console.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        return 2
    replay = _start_demo(args) if args.demo else None
    worker = None if args.no_worker else _start_worker()
    try:
        return run(host=args.host, port=args.port, workers=args.workers, console=console)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(10)
            except Exception:  # noqa: BLE001 - it is ours; make sure it is gone
                worker.kill()
        if replay is not None:
            replay.stop()
            console.print(
                f"Replay stopped: {replay.stats['calls']} calls, "
                f"{replay.stats['positions']} positions, {replay.stats['cleared']} cleared.",
                highlight=False,
                soft_wrap=True,
            )


def _start_worker():
    """On PostgreSQL, a `heart worker` process beside the server (scheduled jobs); on
    SQLite the server process runs them itself (heart.jobs)."""
    import subprocess
    import sys

    from heart.jobs import backend_name

    if backend_name() != "procrastinate":
        return None
    console.print("Starting a job worker (`heart worker`; --no-worker to run your own).")
    return subprocess.Popen([sys.executable, "-m", "heart.cli", "worker"])


def cmd_worker(args: argparse.Namespace) -> int:
    django_setup()
    from heart.jobs import Scheduler, backend_name, registered

    names = ", ".join(f"{j.name} ({j.cron})" for j in registered()) or "none"
    if backend_name() == "procrastinate":
        from heart.jobs.worker import run_worker

        console.print(f"procrastinate worker, queue heart; jobs: {names}", highlight=False)
        run_worker(wait=True)
        return 0
    import time

    console.print(
        f"in-process scheduler (SQLite; `heart serve` runs one itself); jobs: {names}",
        highlight=False,
    )
    Scheduler().start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _start_demo(args: argparse.Namespace):
    """`heart serve --demo`: the demo program, seeded teams and accounts, the replay."""
    import os

    from django.conf import settings
    from django.core.management import call_command

    from heart.demo.live import Replay, close_stale_demo_calls, demo_program_path, seed

    settings.HEART_PROGRAM = str(demo_program_path())
    os.environ["HEART_PROGRAM"] = settings.HEART_PROGRAM  # for worker processes
    call_command("migrate", verbosity=0, interactive=False)
    closed = close_stale_demo_calls()
    seeded = seed()
    console.print(
        f"[bold]HEART demo[/bold] — Durham program, {len(seeded.team_members)} teams "
        f"on shift, {closed} calls from an earlier run closed. The demo program is "
        "durham-heart-2023 with round-the-clock hours, so teams get calls at any hour.",
        highlight=False,
        soft_wrap=True,
    )
    console.print("Accounts (one per role; the same password for every demo account):")
    for role, username, password in seeded.accounts:
        console.print(f"  {role:<17} {username:<17} {password}", highlight=False, soft_wrap=True)
    for team, names in seeded.team_members.items():
        console.print(f"  {team}: {', '.join(names)}", highlight=False, soft_wrap=True)
    if not args.no_replay:
        replay = Replay(speed=args.speed, calls_per_hour=args.calls_per_hour)
        replay.start()
        console.print(
            f"Replaying synthetic calls: ~{args.calls_per_hour:g} per simulated hour, "
            f"clock x{args.speed:g}. "
            "Unassigned team calls are auto-dispatched after 3 simulated minutes.",
            highlight=False,
            soft_wrap=True,
        )
        return replay
    return None


def cmd_manage(args: argparse.Namespace) -> int:
    django_setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["heart manage", *args.args])
    return 0

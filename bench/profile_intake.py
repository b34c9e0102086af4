"""Where the server's CPU goes per intake call (not run by the tests).

    .venv/bin/python bench/profile_intake.py \
        --database-url postgres://postgres@127.0.0.1:5432/heart_bench --calls 3000

Drives the very ASGI application `heart serve` runs (heart.web.asgi.application: Django,
django-ninja, the intake services, PostgreSQL) in this process, without a network or an
HTTP parser, with the same request bodies as bench/bench_intake.py (half EIDO, half
plain JSON, every call a new incident). Run bench_intake.py once first (it seeds the
database); this script only adds calls.

1. CPU per call without a profiler: process CPU time (user + system) over the calls.
2. The same number of calls again with a CPU clock around each stage of a call (the
   calling thread's own CPU time, so waiting for PostgreSQL does not count; a stage
   excludes the stages inside it): authentication, parsing JSON / the pydantic
   schema, EIDO mapping, triage, the upsert, the recommendation, the timeline insert,
   the event log + NOTIFY, commit, the response, and the rest (Django's request cycle,
   middleware, the thread hand-off of a sync view under ASGI).

The HTTP parsing and socket writes of uvicorn are not in here (bench_intake.py's whole
server CPU includes them); nor is the fan-out to open boards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_intake import Bodies, django_setup  # noqa: E402

# (stage, where the function is looked up when called: module, attribute path). A
# stage's CPU is measured with the calling thread's own CPU clock (time.thread_time:
# waiting for PostgreSQL or for the GIL does not count), minus the stages inside it.
STAGES: list[tuple[str, str, str]] = [
    ("authentication (bearer token)", "heart.accounts.auth", "ClientToken.authenticate"),
    ("JSON + pydantic parsing of the body", "ninja.operation", "Operation._get_values"),
    ("EIDO mapping (PIDF-LO XML, notes)", "heart.intake.api", "to_call"),
    ("triage (decide)", "heart.calls.services", "decide"),
    ("upsert (INSERT … ON CONFLICT, one round trip)", "heart.calls.services", "_upsert_postgresql"),
    ("recommendation (team snapshot + recommend)", "heart.intake.services", "recommendation_for"),
    ("timeline insert", "heart.intake.services", "insert_timeline"),
    ("timeline insert", "django.db.models.query", "QuerySet.bulk_create"),  # before 11
    ("event log + NOTIFY (one statement)", "heart.live.pg", "PostgresBackend.send"),
    ("event emit, other", "heart.intake.services", "emit"),
    ("commit (and transaction begin)", "django.db.transaction", "Atomic.__exit__"),
    ("intake service, other", "heart.intake.services", "_receive_once"),
    ("intake service, other", "heart.intake.api", "receive_call"),
    ("response (JSON render)", "ninja.operation", "Operation._result_to_response"),
    ("view and API layer, other", "ninja.operation", "Operation.run"),
    ("Django request cycle + middleware", "django.core.handlers.wsgi", "WSGIHandler.__call__"),
    ("WSGI adapter on the worker thread", "heart.web.asgi", "SyncRequests._run"),
]
REST = "event loop, ASGI, thread hand-off (and this in-process driver)"


class StageClock:
    """Exclusive CPU seconds per stage, summed over threads."""

    def __init__(self):
        import threading

        self.own: dict[str, float] = {name: 0.0 for name, _, _ in STAGES}
        self.found: set[str] = set()
        self.local = threading.local()
        self.lock = threading.Lock()
        self.patched: list[tuple[object, str, object]] = []

    def _wrap(self, name, fn):
        clock = self

        def timed(*args, **kwargs):
            stack = getattr(clock.local, "stack", None)
            if stack is None:
                stack = clock.local.stack = []
            t0 = time.thread_time()
            stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - t0
                inner = stack.pop()
                with clock.lock:
                    clock.own[name] += spent - inner
                if stack:
                    stack[-1] += spent

        timed.__wrapped__ = fn
        return timed

    def install(self):
        import importlib

        for name, module, path in STAGES:
            owner = importlib.import_module(module)
            *outer, attr = path.split(".")
            try:
                for part in outer:
                    owner = getattr(owner, part)
                original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            except (AttributeError, KeyError):
                continue  # another version of the code (the before of a comparison)
            self.found.add(name)
            self.patched.append((owner, attr, original))
            setattr(owner, attr, self._wrap(name, original))

    def remove(self):
        for owner, attr, original in reversed(self.patched):
            setattr(owner, attr, original)


def scope_for(path: str, body: bytes, token: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def one(app, path: str, body: bytes, token: str) -> int:
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    status = []
    never = asyncio.get_running_loop().create_future()

    async def receive():
        return sent.pop() if sent else await never

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope_for(path, body, token), receive, send)
    return status[0]


async def drive(app, make, first: int, n: int, token: str, concurrency: int) -> dict:
    statuses: dict[int, int] = {}
    sem = asyncio.Semaphore(concurrency)

    async def run(i):
        async with sem:
            path, body = make(i)
            s = await one(app, path, body, token)
            statuses[s] = statuses.get(s, 0) + 1

    await asyncio.gather(*(run(first + i) for i in range(n)))
    return statuses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/heart_bench")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    os.environ.setdefault("HEART_LOG_LEVEL", "ERROR")
    django_setup(args.database_url)
    from heart.accounts.services import create_api_client
    from heart.live.broadcast import get_backend
    from heart.web.asgi import application, freeze_startup_heap, start_background_work

    # as `heart serve` does on its lifespan startup: the cross-process listener (which
    # also lets the token cache trust its entries), the sweeper and the hold checker;
    # the start-up heap frozen out of the garbage collector
    start_background_work()
    freeze_startup_heap()
    ready = getattr(get_backend(), "ready", None)
    if ready is not None and not ready.wait(10):
        raise SystemExit("the PostgreSQL listener did not start within 10 s")
    _, token = create_api_client(name=f"profile-{time.time_ns()}")
    make = Bodies(f"p{int(time.time())}")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(drive(application, make, 0, 300, token, args.concurrency))  # warm

    t0, c0 = time.perf_counter(), time.process_time()
    plain = loop.run_until_complete(
        drive(application, make, 300, args.calls, token, args.concurrency)
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    per_call = cpu / args.calls * 1000
    print(
        f"{args.calls} calls, concurrency {args.concurrency}: statuses {plain}; "
        f"{args.calls / wall:.0f} calls/s in one process; CPU {per_call:.2f} ms per call "
        "(this process: Django + services + psycopg; no HTTP parsing, no board fan-out)"
    )
    clock = StageClock()
    clock.install()
    c1 = time.process_time()
    loop.run_until_complete(
        drive(application, make, 300 + args.calls, args.calls, token, args.concurrency)
    )
    timed_cpu = time.process_time() - c1
    clock.remove()
    per_call_timed = timed_cpu / args.calls * 1000
    print()
    print(
        f"stages timed with each thread's CPU clock over another {args.calls} calls "
        f"(CPU {per_call_timed:.2f} ms per call with the clocks on)"
    )
    print()
    print("| stage | ms CPU per call | share |")
    print("|---|---:|---:|")
    rows = {k: v / args.calls * 1000 for k, v in clock.own.items() if k in clock.found}
    rows[REST] = max(0.0, per_call_timed - sum(rows.values()))
    for name, ms in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {ms:.3f} | {ms / per_call_timed:.0%} |")
    print(f"| **total** | {per_call_timed:.2f} | 100% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

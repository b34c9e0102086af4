"""Board fan-out: N connected SSE board clients; how fast does a change reach all of them?

Starts `heart serve` (one process on SQLite, or --workers N on PostgreSQL), signs in N
dispatcher sessions, opens N `/live/events?scope=board` streams, then posts calls
through the intake API one at a time and measures, for every client, the time from
sending the POST to receiving that call's `call.received` event.

    # SQLite, one process (in-process broadcaster)
    .venv/bin/python bench/bench_board.py --clients 50 --changes 40
    # PostgreSQL, 2 server processes (LISTEN/NOTIFY)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/heart_bench \\
        .venv/bin/python bench/bench_board.py --clients 50 --changes 40 --workers 2

Not run by the tests. Figures: bench/BOARD.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-pass-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int, data: Path) -> subprocess.Popen:
    env = {**os.environ, "HEART_DATA_DIR": str(data), "HEART_DEMO_PASSWORD": PASSWORD}
    heart = shutil.which("heart", path=str(Path(sys.executable).parent)) or "heart"
    proc = subprocess.Popen(
        [heart, "serve", "--demo", "--no-replay", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=open(data / "server.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit("server did not start:\n" + (data / "server.log").read_text())


def token(data: Path) -> str:
    env = {**os.environ, "HEART_DATA_DIR": str(data)}
    heart = shutil.which("heart", path=str(Path(sys.executable).parent)) or "heart"
    name = f"bench-{time.time_ns()}"
    out = subprocess.run(
        [heart, "apiclient", "create", name], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


async def session(base: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None))
    await c.get("/accounts/login/")
    r = await c.post(
        "/accounts/login/",
        data={
            "username": "dispatcher",
            "password": PASSWORD,
            "csrfmiddlewaretoken": c.cookies["csrftoken"],
        },
        headers={"Referer": base + "/accounts/login/"},
    )
    assert r.status_code == 302, r.status_code
    return c


async def listen(client: httpx.AsyncClient, arrivals: dict, idx: int, ready: asyncio.Event):
    async with client.stream("GET", "/live/events?scope=board") as r:
        assert r.status_code == 200
        event = None
        async for line in r.aiter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "call.received":
                call_id = json.loads(line[6:])["call_id"]
                arrivals.setdefault(call_id, {})[idx] = time.perf_counter()


async def run(args) -> dict:
    data = Path(tempfile.mkdtemp(prefix="heart-bench-board-"))
    port = free_port()
    proc = start_server(port, args.workers, data)
    base = f"http://127.0.0.1:{port}"
    try:
        tok = token(data)
        clients = [await session(base) for _ in range(args.clients)]
        arrivals: dict[int, dict[int, float]] = {}
        readies = [asyncio.Event() for _ in clients]
        tasks = [
            asyncio.create_task(listen(c, arrivals, i, readies[i])) for i, c in enumerate(clients)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 30)
        await asyncio.sleep(1.0)
        latencies, complete = [], 0
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {tok}"}
        ) as cad:
            for i in range(args.changes):
                sent = time.perf_counter()
                r = await cad.post(
                    "/api/calls",
                    json={
                        "cad_incident_id": f"bench-board-{time.time_ns()}-{i}",
                        "received_at": dt.datetime.now(dt.UTC).isoformat(),
                        "nature": "CRISIS",
                        "lon": -78.9 + (i % 10) * 0.003,
                        "lat": 35.99,
                    },
                )
                assert r.status_code == 201, r.text
                call_id = r.json()["id"]
                deadline = sent + 5
                while len(arrivals.get(call_id, {})) < args.clients and (
                    time.perf_counter() < deadline
                ):
                    await asyncio.sleep(0.002)
                got = arrivals.get(call_id, {})
                complete += len(got) == args.clients
                latencies += [(t - sent) * 1000 for t in got.values()]
                await asyncio.sleep(args.pause)
        for t in tasks:
            t.cancel()
        for c in clients:
            await c.aclose()
    finally:
        proc.send_signal(2)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "workers": args.workers,
        "clients": args.clients,
        "changes": args.changes,
        "deliveries": len(latencies),
        "expected": args.clients * args.changes,
        "changes_reaching_all": complete,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(latencies[-1], 1),
        "within_1s": sum(x <= 1000 for x in latencies) / max(len(latencies), 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--changes", type=int, default=40)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--pause", type=float, default=0.05, help="seconds between changes")
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

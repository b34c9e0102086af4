"""Intake on the shipped server: `heart serve --workers N` on PostgreSQL with board
clients connected (not run by the tests).

    .venv/bin/python bench/bench_intake.py \
        --database-url postgres://postgres@127.0.0.1:5432/heart_bench \
        --workers 2 --rate 300 --duration 600 --boards 50

1. (Re)creates the database, migrates, seeds 200 teams (staffed, on shift, available,
   positioned around Durham), 5,000 open calls, an API client and 50 signed-in
   dispatcher sessions.
2. Recommendation: times ``recommendation_for()`` (DB snapshot of every team + the pure
   ``recommend()``) and ``recommend()`` alone, over 1,000 open crt calls.
3. Starts ``heart serve --workers N`` (uvicorn, ASGI: exactly what the README starts) on
   127.0.0.1, opens ``--boards`` Server-Sent-Events streams ``/live/events?scope=board``
   with those sessions (a separate process: its CPU is counted apart), then drives
   ``POST /api/calls/eido`` and ``POST /api/calls`` (half each, every call a new CAD
   incident, eligible and not) at a constant arrival rate. Open loop: latency is
   measured from each request's scheduled start, so a slow server cannot hide
   queueing. The load generator is asyncio + raw HTTP/1.1 keep-alive connections.
   A 503 is a refusal (counted, not retried).
4. Reports throughput, refusals, latency percentiles, CPU per call of the server
   processes, PostgreSQL backends, the load generator and the board clients (from
   /proc), and whether every board received every new call.

``--profile DIR`` also runs py-spy on every server worker during the measured load and
writes a speedscope/flame file per worker (needs py-spy). ``--skip-setup`` reuses the DB.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
NY = ZoneInfo("America/New_York")
DURHAM = (-78.8986, 35.9940)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


# ---------------------------------------------------------------- setup


def recreate_database(url: str) -> None:
    import psycopg

    u = urlparse(url)
    name = u.path.lstrip("/")
    admin = u._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
    import django

    django.setup()


def seed(teams: int, open_calls: int, rng: random.Random) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone

    from heart.accounts.actors import SYSTEM
    from heart.calls.models import Call
    from heart.program_in_force import current_program
    from heart.teams.models import Shift, ShiftMember, Team
    from heart.teams.services import change_status

    call_command("migrate", verbosity=0)
    program = current_program()
    now = timezone.now()
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"resp{i}", password="!") for i in range(teams * 3)]
    )
    Group.objects.get(name="responder").user_set.add(*users)
    team_rows = Team.objects.bulk_create([Team(name=f"HEART-{i:03d}") for i in range(teams)])
    shifts = Shift.objects.bulk_create(
        [
            Shift(
                team=t, starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=12)
            )
            for t in team_rows
        ]
    )
    ShiftMember.objects.bulk_create(
        [
            ShiftMember(shift=s, user=users[3 * i + j], discipline=d)
            for i, s in enumerate(shifts)
            for j, d in enumerate(("clinician", "peer_support", "emt"))
        ]
    )
    for t in team_rows:
        change_status(team=t, status="available", actor=SYSTEM, now=now)
        Team.objects.filter(pk=t.pk).update(
            lon=DURHAM[0] + rng.uniform(-0.08, 0.08),
            lat=DURHAM[1] + rng.uniform(-0.08, 0.08),
            position_at=now,
        )
    routes = ["crt"] * 5 + ["ccd", "standard", "co_response"]
    Call.objects.bulk_create(
        [
            Call(
                cad_incident_id=f"SEED-{i}",
                source="seed",
                received_at=now - dt.timedelta(seconds=i),
                nature="CRISIS",
                lon=DURHAM[0] + rng.uniform(-0.08, 0.08),
                lat=DURHAM[1] + rng.uniform(-0.08, 0.08),
                route=rng.choice(routes),
                reasons=[],
                rules_version=program.rules_version,
                program=program.name,
            )
            for i in range(open_calls)
        ],
        batch_size=1000,
    )


def credentials(boards: int) -> tuple[str, list[str]]:
    """A new API client's token and one signed-in dispatcher session per board."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from heart.accounts.services import create_api_client, create_user

    stamp = int(time.time())
    _, token = create_api_client(name=f"bench-{stamp}")
    User = get_user_model()
    sessions = []
    for i in range(boards):
        name = f"board{i}"
        user = User.objects.filter(username=name).first() or create_user(
            username=name, password=f"bench-{stamp}-{i}", role="dispatcher"
        )
        c = Client()
        c.force_login(user)  # a real Django session, as if signed in at /accounts/login/
        sessions.append(c.cookies["sessionid"].value)
    return token, sessions


def bench_recommendation(samples: int) -> dict:
    from django.utils import timezone

    from heart.calls.models import Call
    from heart.domain.dispatch import recommend
    from heart.program_in_force import current_program
    from heart.teams.selectors import recommendation_for, team_snapshots

    program = current_program()
    calls = list(Call.objects.filter(state="open", route="crt")[:samples])
    full, pure = [], []
    for c in calls[:20]:  # warm up
        recommendation_for(call=c, program=program)
    for c in calls:
        t0 = time.perf_counter()
        recommendation_for(call=c, program=program)
        full.append((time.perf_counter() - t0) * 1000)
    units = team_snapshots(unit_key="crt")
    now = timezone.now()
    req = frozenset(program.units["crt"].disciplines)
    for c in calls:
        t0 = time.perf_counter()
        recommend(
            call_lon=c.lon,
            call_lat=c.lat,
            unit_kind="crt",
            units=units,
            now=now,
            required_disciplines=req,
        )
        pure.append((time.perf_counter() - t0) * 1000)
    return {
        "n": len(calls),
        "teams": len(units),
        "full_p50": pct(full, 50),
        "full_p99": pct(full, 99),
        "pure_p50": pct(pure, 50),
        "pure_p99": pct(pure, 99),
    }


# ---------------------------------------------------------------- bodies

NATURES = [
    "CRISIS",
    "WELFARE CHECK",
    "TRESPASS OR UNWANTED",
    "SUICIDE THREAT",
    "ASSAULT",
    "LARCENY",
]
PIDF = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
    'entity="pres:bench@example.com"><dm:device id="d"><gp:geopriv><gp:location-info>'
    "<gml:Point><gml:pos>@LAT@ @LON@</gml:pos></gml:Point>"
    "</gp:location-info></gp:geopriv></dm:device></presence>"
)


class Bodies:
    """Request bodies made on demand from two templates (a ten-minute run is 180,000
    calls: building them all first would take gigabytes)."""

    def __init__(self, run: str, seed: int = 7):
        sample = json.loads(
            (
                Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared"))
                / "standards/eido/sample_call_transfer_eido.json"
            ).read_text(encoding="utf-8")
        )
        when = dt.datetime.now(NY).replace(hour=10, minute=0, second=0, microsecond=0)
        while when.weekday() >= 5:
            when -= dt.timedelta(days=1)
        self.when = when
        self.run = run
        self.rng = random.Random(seed)
        doc = copy.deepcopy(sample)
        doc["$id"] = "urn:emergency:uid:incidentid:@ID@:bench"
        doc["lastUpdateTimeStamp"] = "@T@"
        doc["callComponent"][0]["callStartTimestamp"] = "@T@"
        doc["incidentComponent"] = {
            "$id": "inc-@ID@",
            "lastUpdateTimeStamp": "@T@",
            "updatedByAgencyReference": {"$ref": "state.pa.us"},
            "incidentTypeCommonRegistryText": "Other",
            "incidentTypeInternalCode": "@NATURE@",
            "locationReference": [{"$ref": "pt"}],
        }
        doc["locationComponent"].append(
            {
                "$id": "pt",
                "lastUpdateTimeStamp": "@T@",
                "updatedByAgencyReference": {"$ref": "state.pa.us"},
                "locationTypeDescriptionRegistryText": "Caller",
                "locationByValue": PIDF,
            }
        )
        doc["notesComponent"] = [
            {
                "$id": "n",
                "lastUpdateTimeStamp": "@T@",
                "updatedByAgencyReference": {"$ref": "state.pa.us"},
                "notesActionComments": "<p>caller worried about neighbour, no weapons seen</p>",
            }
        ]
        self.eido = json.dumps(doc)
        self.plain = (
            json.dumps(
                {
                    "cad_incident_id": "@ID@",
                    "received_at": "@T@",
                    "nature": "@NATURE@",
                    "lon": "@LON@",
                    "lat": "@LAT@",
                    "narrative": "person pacing outside store, talking loudly",
                }
            )
            .replace('"@LON@"', "@LON@")
            .replace('"@LAT@"', "@LAT@")
        )

    def __call__(self, i: int) -> tuple[str, bytes]:
        r = self.rng
        lon = f"{DURHAM[0] + r.uniform(-0.08, 0.08):.6f}"
        lat = f"{DURHAM[1] + r.uniform(-0.08, 0.08):.6f}"
        t = (self.when + dt.timedelta(seconds=i % 3600)).isoformat()
        template, path = (self.eido, "/api/calls/eido") if i % 2 else (self.plain, "/api/calls")
        text = (
            template.replace("@ID@", f"{self.run}-{i}")
            .replace("@T@", t)
            .replace("@NATURE@", r.choice(NATURES))
            .replace("@LON@", lon)
            .replace("@LAT@", lat)
        )
        return path, text.encode()


# ---------------------------------------------------------------- load


FIRST_ERROR: list[str] = []


class Conn:
    def __init__(self, host: str, port: int, token: str):
        self.host, self.port, self.token = host, port, token
        self.reader = self.writer = None

    async def request(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "connection" and v.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        if status >= 300 and not FIRST_ERROR:
            FIRST_ERROR.append(f"{status} {payload[:300]!r}")
        if close:
            self.writer.close()
            self.writer = None
        return status


async def drive(host, port, token, make, first, count, rate, connections) -> dict:
    """Offer ``count`` calls at ``rate`` per second (open loop)."""
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Conn(host, port, token))
    lat: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter() + 0.2
    pending: set[asyncio.Task] = set()

    async def one(i, path, body, due):
        nonlocal errors
        conn = await pool.get()
        try:
            try:
                status = await conn.request(path, body)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                conn.writer = None  # a keep-alive connection the server closed: once more
                status = await conn.request(path, body)
            statuses[status] = statuses.get(status, 0) + 1
        except Exception as exc:  # noqa: BLE001
            errors += 1
            conn.writer = None
            if not FIRST_ERROR:
                FIRST_ERROR.append(repr(exc))
        finally:
            pool.put_nowait(conn)
        lat.append((time.perf_counter() - due) * 1000)  # from the scheduled start

    for n in range(count):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        path, body = make(first + n)
        t = asyncio.create_task(one(first + n, path, body, due))
        pending.add(t)
        t.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    return {
        "sent": count,
        "elapsed": elapsed,
        "rate": count / elapsed,
        "statuses": statuses,
        "errors": errors,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else float("nan"),
        "mean": statistics.fmean(lat) if lat else float("nan"),
    }


# ---------------------------------------------------------------- board clients


async def _board(port: int, session: str, stats: dict, ready: asyncio.Event, stop: asyncio.Event):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /live/events?scope=board HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Cookie: sessionid={session}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    stats["status"] = int(status.split()[1])
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.set()
    tail = b""
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 0.5)
        except TimeoutError:
            continue
        if not chunk:
            stats["closed"] = True
            break
        data = tail + chunk
        stats["received"] += data.count(b"event: call.received\n")
        stats["bytes"] += len(chunk)
        # keep a possibly cut marker for the next read
        tail = data[-24:]
        stats["received"] -= tail.count(b"event: call.received\n")
        at = data.rfind(b"\nid: ")
        if at >= 0:
            end = data.find(b"\n", at + 5)
            if end > 0:
                stats["last_seq"] = max(stats["last_seq"], int(data[at + 5 : end]))
    writer.close()


async def boards_main(port: int, sessions: list[str]) -> None:
    """Run in its own process: open every stream, say READY, report on SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    stats = [
        {"status": 0, "received": 0, "bytes": 0, "last_seq": 0, "closed": False} for _ in sessions
    ]
    readies = [asyncio.Event() for _ in sessions]
    tasks = [
        asyncio.create_task(_board(port, s, st, r, stop))
        for s, st, r in zip(sessions, stats, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    print("READY", flush=True)
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(stats), flush=True)


def start_boards(port: int, sessions: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--boards-only", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    proc.stdin.write(json.dumps(sessions))
    proc.stdin.close()
    line = proc.stdout.readline()
    if line.strip() != "READY":
        raise SystemExit(f"board clients did not connect: {line!r}")
    return proc


def stop_boards(proc: subprocess.Popen) -> list[dict]:
    proc.send_signal(signal.SIGTERM)
    out = proc.stdout.read()
    proc.wait(60)
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- CPU


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime seconds) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick


def _tree(root: int) -> dict[int, float]:
    """CPU seconds of a process and all its descendants (uvicorn's workers)."""
    parents, cpu = {}, {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st:
                parents[int(d.name)], cpu[int(d.name)] = st
    keep, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p and child not in keep:
                keep.add(child)
                frontier.append(child)
    return {p: cpu[p] for p in keep if p in cpu}


def _postgres(dbname: str) -> dict[int, float]:
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres:") and f" {dbname} " in cmd:
            st = _stat(int(d.name))
            if st:
                out[int(d.name)] = st[1]
    return out


class CpuMeter:
    """CPU seconds used during the run by the server (``heart serve`` and its workers),
    the PostgreSQL backends of the benchmark database, the board clients' process and
    this load generator. Samples /proc every 0.25 s so that processes which exit
    mid-run (a database connection reaching CONN_MAX_AGE) still count."""

    def __init__(self, server_pid: int, boards_pid: int | None, dbname: str):
        import threading

        self.groups = {
            "server": lambda: _tree(server_pid),
            "postgres": lambda: _postgres(dbname),
            "boards": lambda: _tree(boards_pid) if boards_pid else {},
        }
        self.base = {g: f() for g, f in self.groups.items()}
        self.last = {g: dict(v) for g, v in self.base.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF)
        self.load0 = r.ru_utime + r.ru_stime
        self.t0 = time.perf_counter()

    def _sample(self):
        for g, f in self.groups.items():
            self.last[g].update(f())

    def _run(self):
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import resource

        self._stop.set()
        self._thread.join()
        self._sample()
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.result = {
            g: sum(v - self.base[g].get(pid, 0.0) for pid, v in self.last[g].items())
            for g in self.groups
        }
        self.result["load"] = r.ru_utime + r.ru_stime - self.load0
        self.result["wall"] = time.perf_counter() - self.t0


# ---------------------------------------------------------------- the server


def heart_command() -> list[str]:
    heart = shutil.which("heart", path=str(Path(sys.executable).parent))
    return [heart] if heart else [sys.executable, "-m", "heart.cli"]


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HEART_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HEART_LOG_LEVEL": "WARNING",
    }
    cmd = [*heart_command(), "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    import urllib.request

    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            time.sleep(1.0 + 0.5 * workers)  # every worker up
            return proc
        except Exception:  # noqa: BLE001
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("heart serve did not start:\n" + log.read_text())


def worker_pids(server_pid: int) -> list[int]:
    return [p for p in _tree(server_pid) if p != server_pid]


def start_profilers(server_pid: int, outdir: Path, seconds: float) -> list[subprocess.Popen]:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    outdir.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in worker_pids(server_pid):
        procs.append(
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(outdir / f"worker-{pid}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/heart_bench")
    ap.add_argument("--workers", type=int, default=2, help="heart serve --workers")
    ap.add_argument("--rate", type=float, default=300.0, help="calls per second offered")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of measured load")
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--boards", type=int, default=50, help="SSE board clients connected")
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--open-calls", type=int, default=5000)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--profile", type=Path, help="write py-spy profiles of the workers here")
    ap.add_argument("--skip-setup", action="store_true")
    ap.add_argument("--boards-only", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.boards_only:
        asyncio.run(boards_main(args.boards_only, json.loads(sys.stdin.read())))
        return 0
    if not args.database_url.startswith("postgres"):
        raise SystemExit("the benchmark is for PostgreSQL (--database-url postgres://…)")
    rng = random.Random(7)
    if not args.skip_setup:
        recreate_database(args.database_url)
    django_setup(args.database_url)
    from heart.calls.models import Call

    t0 = time.perf_counter()
    if not args.skip_setup:
        seed(args.teams, args.open_calls, rng)
    token, sessions = credentials(args.boards)
    print(
        f"setup {time.perf_counter() - t0:.1f}s; open calls: {Call.objects.filter(state='open').count()}",
        flush=True,
    )
    rec = bench_recommendation(1000)
    print(
        f"recommendation over {rec['teams']} teams, {rec['n']} calls: with DB snapshot "
        f"p50 {rec['full_p50']:.2f} ms p99 {rec['full_p99']:.2f} ms; pure recommend() "
        f"p50 {rec['pure_p50']:.3f} ms p99 {rec['pure_p99']:.3f} ms",
        flush=True,
    )
    from django.db import connections

    connections.close_all()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"heart-bench-serve-{args.port}.log"
    server = start_server(args.database_url, args.port, args.workers, log)
    boards = None
    board_stats: list[dict] = []
    try:
        if args.boards:
            boards = start_boards(args.port, sessions)
        run = f"r{int(time.time())}"
        make = Bodies(run)
        warm = int(args.rate * args.warmup)
        count = int(args.rate * args.duration)
        asyncio.run(
            drive("127.0.0.1", args.port, token, make, 0, warm, args.rate, args.connections)
        )
        spies = start_profilers(server.pid, args.profile, args.duration) if args.profile else []
        dbname = urlparse(args.database_url).path.lstrip("/")
        with CpuMeter(server.pid, boards.pid if boards else None, dbname) as meter:
            res = asyncio.run(
                drive("127.0.0.1", args.port, token, make, warm, count, args.rate, args.connections)
            )
        for s in spies:
            s.wait(60)
        time.sleep(1.0)  # the last events reach the boards
        if boards is not None:
            board_stats = stop_boards(boards)
    finally:
        if boards is not None and boards.poll() is None:
            boards.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    ok = sum(n for s, n in res["statuses"].items() if s in (200, 201))
    created = res["statuses"].get(201, 0) + int(args.rate * args.warmup)
    refused = res["statuses"].get(503, 0)
    if FIRST_ERROR:
        print("first error:", FIRST_ERROR[0])
    print(
        f"intake: offered {args.rate:.0f}/s for {args.duration:.0f}s; completed {res['rate']:.0f}/s; "
        f"statuses {res['statuses']} errors {res['errors']}; latency ms p50 {res['p50']:.1f} "
        f"p95 {res['p95']:.1f} p99 {res['p99']:.1f} max {res['max']:.1f}"
    )
    n = res["sent"]
    cpu = {k: meter.result[k] / n * 1000 for k in ("server", "postgres", "load", "boards")}
    busy = meter.result["wall"] * (os.cpu_count() or 1)
    used = sum(meter.result[k] for k in ("server", "postgres", "load", "boards"))
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[0]
    got_all = sum(1 for b in board_stats if b["received"] >= created and not b["closed"])
    print(
        f"CPU per call: server {cpu['server']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms, "
        f"load generator {cpu['load']:.2f} ms, {args.boards} board clients {cpu['boards']:.2f} ms; "
        f"the benchmark used {used / busy:.0%} of the machine's CPU time; 1-min load average at "
        f"the end {load}"
    )
    if board_stats:
        recv = [b["received"] for b in board_stats]
        print(
            f"boards: {len(board_stats)} connected (HTTP {sorted({b['status'] for b in board_stats})}), "
            f"{got_all} received every new call ({created} created incl. warm-up; per board "
            f"min {min(recv)} max {max(recv)}), {sum(b['closed'] for b in board_stats)} cut off"
        )
    print()
    print("| measure | figure |")
    print("|---|---|")
    print(
        f"| machine | {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"`heart serve --workers {args.workers}` (uvicorn), PostgreSQL on the same host, "
        f"{dt.date.today().isoformat()}, load average {load} at the end |"
    )
    print(
        f"| data | {args.teams} teams on shift, {args.open_calls} open calls seeded, "
        f"{args.boards} board clients (SSE) connected |"
    )
    print(
        f"| intake offered / completed | {args.rate:.0f} / {res['rate']:.0f} calls/s over "
        f"{args.duration:.0f} s ({ok} OK, {refused} refused (503), {n - ok - refused} other) |"
    )
    print(
        f"| intake latency p50 / p95 / p99 / max | {res['p50']:.1f} / {res['p95']:.1f} / "
        f"{res['p99']:.1f} / {res['max']:.1f} ms |"
    )
    print(
        f"| recommendation (DB snapshot + recommend) p50 / p99 | {rec['full_p50']:.2f} / {rec['full_p99']:.2f} ms |"
    )
    print(f"| recommend() alone p50 / p99 | {rec['pure_p50']:.3f} / {rec['pure_p99']:.3f} ms |")
    print(
        f"| CPU per call: server / PostgreSQL / load generator / board clients | "
        f"{cpu['server']:.2f} / {cpu['postgres']:.2f} / {cpu['load']:.2f} / {cpu['boards']:.2f} ms "
        f"(benchmark's share of the machine: {used / busy:.0%}) |"
    )
    if board_stats:
        print(f"| boards that received every new call | {got_all} / {len(board_stats)} |")
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())

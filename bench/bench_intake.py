"""Intake and recommendation benchmark on PostgreSQL (not run by the tests).

    .venv/bin/python bench/bench_intake.py \
        --database-url postgres://postgres@127.0.0.1:5432/heart_bench \
        --workers 3 --rate 300 --duration 30

1. (Re)creates the database, migrates, seeds 200 teams (staffed, on shift, available,
   positioned around Durham) and 5,000 open calls, and an API client.
2. Recommendation: times ``recommendation_for()`` (DB snapshot of every team + the pure
   ``recommend()``) and ``recommend()`` alone, over 1,000 open crt calls.
3. Starts gunicorn (``--workers`` sync processes) on 127.0.0.1 and drives
   ``POST /api/calls/eido`` and ``POST /api/calls`` (half each, every call a new CAD
   incident, eligible and not) at a constant arrival rate (open loop: latency is
   measured from each request's scheduled start, so a slow server cannot hide queueing).
   The load generator is asyncio + raw HTTP/1.1 keep-alive connections (cheap on CPU).

Prints a Markdown block for bench/LIVE.md. ``--skip-setup`` reuses the database.
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


def seed(teams: int, open_calls: int, rng: random.Random) -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone

    from heart.accounts.actors import SYSTEM
    from heart.accounts.services import create_api_client
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
    _, token = create_api_client(name=f"bench-{int(time.time())}")
    return token


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
    "<gml:Point><gml:pos>{lat:.6f} {lon:.6f}</gml:pos></gml:Point>"
    "</gp:location-info></gp:geopriv></dm:device></presence>"
)


def bodies(n: int, run: str, rng: random.Random) -> list[tuple[str, bytes]]:
    sample = json.loads(
        (
            Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared"))
            / "standards/eido/sample_call_transfer_eido.json"
        ).read_text(encoding="utf-8")
    )
    when = dt.datetime.now(NY).replace(hour=10, minute=0, second=0, microsecond=0)
    while when.weekday() >= 5:
        when -= dt.timedelta(days=1)
    out = []
    for i in range(n):
        lon = DURHAM[0] + rng.uniform(-0.08, 0.08)
        lat = DURHAM[1] + rng.uniform(-0.08, 0.08)
        nature = rng.choice(NATURES)
        t = (when + dt.timedelta(seconds=i % 3600)).isoformat()
        if i % 2:
            doc = copy.deepcopy(sample)
            doc["$id"] = f"urn:emergency:uid:incidentid:{run}-{i}:bench"
            doc["lastUpdateTimeStamp"] = t
            doc["callComponent"][0]["callStartTimestamp"] = t
            doc["incidentComponent"] = {
                "$id": f"inc-{run}-{i}",
                "lastUpdateTimeStamp": t,
                "updatedByAgencyReference": {"$ref": "state.pa.us"},
                "incidentTypeCommonRegistryText": "Other",
                "incidentTypeInternalCode": nature,
                "locationReference": [{"$ref": "pt"}],
            }
            doc["locationComponent"].append(
                {
                    "$id": "pt",
                    "lastUpdateTimeStamp": t,
                    "updatedByAgencyReference": {"$ref": "state.pa.us"},
                    "locationTypeDescriptionRegistryText": "Caller",
                    "locationByValue": PIDF.format(lon=lon, lat=lat),
                }
            )
            doc["notesComponent"] = [
                {
                    "$id": "n",
                    "lastUpdateTimeStamp": t,
                    "updatedByAgencyReference": {"$ref": "state.pa.us"},
                    "notesActionComments": "<p>caller worried about neighbour, no weapons seen</p>",
                }
            ]
            out.append(("/api/calls/eido", json.dumps(doc).encode()))
        else:
            body = {
                "cad_incident_id": f"{run}-{i}",
                "received_at": t,
                "nature": nature,
                "lon": lon,
                "lat": lat,
                "narrative": "person pacing outside store, talking loudly",
            }
            out.append(("/api/calls", json.dumps(body).encode()))
    return out


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


async def drive(host, port, token, work, rate, connections) -> dict:
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Conn(host, port, token))
    lat: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(i, path, body):
        nonlocal errors
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await pool.get()
        try:
            try:
                status = await conn.request(path, body)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                conn.writer = None
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

    await asyncio.gather(*(one(i, p, b) for i, (p, b) in enumerate(work)))
    elapsed = time.perf_counter() - start
    return {
        "sent": len(work),
        "elapsed": elapsed,
        "rate": len(work) / elapsed,
        "statuses": statuses,
        "errors": errors,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "max": max(lat) if lat else float("nan"),
        "mean": statistics.fmean(lat) if lat else float("nan"),
    }


def _cpu_by_pid(match) -> dict[int, float]:
    """pid -> utime+stime seconds of live processes whose command line matches (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not match(cmd):
                continue
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(d.name)] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            continue
    return out


class CpuMeter:
    """CPU seconds used by the server and its PostgreSQL backends during the run.

    Samples /proc every 0.25 s so that processes which exit mid-run (a database
    connection reaching CONN_MAX_AGE, say) still count up to their last sample.
    """

    def __init__(self, port: int, dbname: str):
        import threading

        self.groups = {
            "server": lambda c: "gunicorn" in c and f"127.0.0.1:{port}" in c,
            "postgres": lambda c: c.startswith("postgres:") and f" {dbname} " in c,
        }
        self.base = {g: _cpu_by_pid(m) for g, m in self.groups.items()}
        self.last = {g: dict(v) for g, v in self.base.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF)
        self.load0 = r.ru_utime + r.ru_stime
        self.t0 = time.perf_counter()

    def _sample(self):
        for g, m in self.groups.items():
            self.last[g].update(_cpu_by_pid(m))

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


def start_server(
    url: str, port: int, workers: int, worker_class: str = "sync", threads: int = 1
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HEART_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HEART_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "heart.web.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1)
            return proc
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/heart_bench")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--rate", type=float, default=300.0, help="calls per second offered")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--open-calls", type=int, default=5000)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    ap.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    ap.add_argument("--skip-setup", action="store_true")
    args = ap.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("the benchmark is for PostgreSQL (--database-url postgres://…)")
    rng = random.Random(7)
    if not args.skip_setup:
        recreate_database(args.database_url)
    django_setup(args.database_url)
    from heart.accounts.services import create_api_client
    from heart.calls.models import Call

    t0 = time.perf_counter()
    token = (
        seed(args.teams, args.open_calls, rng)
        if not args.skip_setup
        else create_api_client(name=f"bench-{int(time.time())}")[1]
    )
    print(
        f"setup {time.perf_counter() - t0:.1f}s; open calls: {Call.objects.filter(state='open').count()}"
    )
    rec = bench_recommendation(1000)
    print(
        f"recommendation over {rec['teams']} teams, {rec['n']} calls: with DB snapshot "
        f"p50 {rec['full_p50']:.2f} ms p99 {rec['full_p99']:.2f} ms; pure recommend() "
        f"p50 {rec['pure_p50']:.3f} ms p99 {rec['pure_p99']:.3f} ms"
    )
    from django.db import connections

    connections.close_all()
    server = start_server(
        args.database_url, args.port, args.workers, args.worker_class, args.threads
    )
    try:
        run = f"r{int(time.time())}"
        warm = bodies(int(args.rate * args.warmup), run + "w", rng)
        work = bodies(int(args.rate * args.duration), run, rng)
        asyncio.run(drive("127.0.0.1", args.port, token, warm, args.rate, args.connections))
        dbname = urlparse(args.database_url).path.lstrip("/")
        with CpuMeter(args.port, dbname) as meter:
            res = asyncio.run(
                drive("127.0.0.1", args.port, token, work, args.rate, args.connections)
            )
    finally:
        server.terminate()
        server.wait(10)
    ok = sum(n for s, n in res["statuses"].items() if s in (200, 201))
    if FIRST_ERROR:
        print("first error:", FIRST_ERROR[0])
    print(
        f"intake: offered {args.rate:.0f}/s for {args.duration:.0f}s; completed {res['rate']:.0f}/s; "
        f"statuses {res['statuses']} errors {res['errors']}; latency ms p50 {res['p50']:.1f} "
        f"p95 {res['p95']:.1f} p99 {res['p99']:.1f} max {res['max']:.1f}"
    )
    n = res["sent"]
    cpu = {k: meter.result[k] / n * 1000 for k in ("server", "postgres", "load")}
    busy = meter.result["wall"] * (os.cpu_count() or 1)
    used = sum(meter.result[k] for k in ("server", "postgres", "load"))
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[0]
    print(
        f"CPU per call: server {cpu['server']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms, "
        f"load generator {cpu['load']:.2f} ms; the benchmark used {used / busy:.0%} of the "
        f"machine's CPU time; 1-min load average at the end {load}"
    )
    print()
    print("| measure | figure |")
    print("|---|---|")
    print(
        f"| machine | {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, gunicorn {args.workers} {args.worker_class} workers x {args.threads} threads, PostgreSQL on the same host |"
    )
    print(f"| data | {args.teams} teams on shift, {args.open_calls} open calls seeded |")
    print(
        f"| intake offered / completed | {args.rate:.0f} / {res['rate']:.0f} calls/s over {args.duration:.0f} s ({ok} OK, {res['sent'] - ok} not OK) |"
    )
    print(
        f"| intake latency p50 / p95 / p99 / max | {res['p50']:.1f} / {res['p95']:.1f} / {res['p99']:.1f} / {res['max']:.1f} ms |"
    )
    print(
        f"| recommendation (DB snapshot + recommend) p50 / p99 | {rec['full_p50']:.2f} / {rec['full_p99']:.2f} ms |"
    )
    print(f"| recommend() alone p50 / p99 | {rec['pure_p50']:.3f} / {rec['pure_p99']:.3f} ms |")
    print(
        f"| CPU per call: server / PostgreSQL / load generator | {cpu['server']:.2f} / "
        f"{cpu['postgres']:.2f} / {cpu['load']:.2f} ms (benchmark's share of the machine: {used / busy:.0%}) |"
    )
    return 0 if ok == res["sent"] else 1


if __name__ == "__main__":
    sys.exit(main())

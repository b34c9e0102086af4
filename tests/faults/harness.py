"""Fault-test harness: a scratch PostgreSQL cluster, `heart serve` on it, an open-loop
load generator that remembers what was acknowledged, and a board that counts sequence
numbers.

The cluster is the test's own (initdb + pg_ctl from /usr/lib/postgresql/*/bin, its own
port and data directory under /tmp), never the shared server: these tests kill and
restart things.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DURHAM = (-78.8986, 35.9940)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class ScratchCluster:
    """A throw-away PostgreSQL cluster (trust auth) on a free port."""

    def __init__(self):
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="heart-faults-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/heart_faults"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        full = [str(self.bin / cmd[0]), *cmd[1:]]
        if self.as_postgres:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        os.chmod(self.root, 0o777)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE heart_faults")

    def _opts(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=60 -c shared_buffers=32MB -c fsync=off"
        )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", self._opts(), "start"
        )

    def restart(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-m",
            "fast",
            "-w",
            "-o",
            self._opts(),
            "restart",
        )

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


SEED = r"""
import json, os, sys, datetime as dt
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
call_command("migrate", verbosity=0)
from heart.accounts.actors import SYSTEM
from heart.accounts.services import create_api_client, create_user
from heart.teams.models import Team
from heart.program_in_force import current_program
from heart.teams.models import TrainingRecord
from heart.teams.services import change_status, create_team, start_shift
now = timezone.now()
program = current_program()
for i in range(6):
    team = create_team(name=f"F-{i}")
    members = [(create_user(username=f"f{i}{d}", password="pw-faults-1", role="responder",
                            discipline=d), d) for d in ("clinician", "peer_support", "emt")]
    # the program's trainings, current: a shift takes only trained people (issue 10)
    TrainingRecord.objects.bulk_create([
        TrainingRecord(user=user, training=t.key, completed_on=now.date() - dt.timedelta(days=30),
                       recorded_at=now, recorded_by_label="faults")
        for user, d in members for t in program.trainings_for(d)])
    start_shift(team=team, members=members, starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=6))
    change_status(team=team, status="available", actor=SYSTEM, now=now)
    Team.objects.filter(pk=team.pk).update(lon=-78.9 + i * 0.01, lat=35.99, position_at=now)
_, token = create_api_client(name="faults-cad")
board = create_user(username="faults-board", password="pw-faults-1", role="dispatcher")
sessions = []
for _ in range(13):  # fresh sign-ins: each one's first request saves its session
    c = Client()
    c.force_login(board)
    sessions.append(c.cookies["sessionid"].value)
print(json.dumps({"token": token, "session": sessions[0], "fresh_sessions": sessions[1:]}))
"""


def env_for(url: str, data_dir: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "HEART_DATA_DIR": str(data_dir),
        "HEART_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HEART_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def seed(url: str, data_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SEED],
        env=env_for(url, data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """`heart serve --workers N`, exactly as the README starts it."""

    def __init__(self, url: str, data_dir: Path, workers: int = 2, env: dict | None = None):
        self.port = free_port()
        self.log = data_dir / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heart.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env={**env_for(url, data_dir), **(env or {})},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.workers = workers
        self.wait_ready()

    def wait_ready(self, timeout: float = 150) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("heart serve exited:\n" + self.log.read_text()[-3000:])
            if len(self.worker_pids()) >= self.workers:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("heart serve did not start:\n" + self.log.read_text()[-3000:])

    def worker_pids(self) -> list[int]:
        """uvicorn's live worker processes (not zombies, not multiprocessing helpers)."""
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    state, ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                    cmd = (d / "cmdline").read_bytes()
                except (OSError, ValueError):
                    continue
                if int(ppid) == self.proc.pid and state != "Z" and b"spawn_main" in cmd:
                    out.append(int(d.name))
        return sorted(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---------------------------------------------------------------- the load


async def http(port: int, method: str, path: str, body: bytes = b"", headers: str = ""):
    """One request on its own connection: (status, headers dict, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            + body
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        head = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            head[k.strip().lower()] = v.strip()
        data = await reader.readexactly(int(head.get("content-length", 0)))
        return status, head, data
    finally:
        writer.close()


@dataclass
class Load:
    """Offers calls at a fixed rate; retries each until acknowledged (as a CAD would:
    the same incident id, so a retry of a call that was stored is an update)."""

    port: int
    token: str
    prefix: str
    acked: dict[str, int] = field(default_factory=dict)  # CAD id -> HEART id
    refusals: int = 0  # 503 answers (each followed by a retry)
    connection_errors: int = 0
    gave_up: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def body(self, i: int) -> bytes:
        return json.dumps(
            {
                "cad_incident_id": f"{self.prefix}-{i}",
                "received_at": "2024-03-05T10:00:00-05:00",
                "nature": "CRISIS" if i % 3 else "WELFARE CHECK",
                "lon": DURHAM[0] + (i % 50) * 0.001,
                "lat": DURHAM[1],
                "narrative": "person pacing, no weapons seen",
            }
        ).encode()

    async def one(self, i: int, give_up_after: float) -> None:
        cad = f"{self.prefix}-{i}"
        start = time.monotonic()
        headers = f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
        while time.monotonic() - start < give_up_after:
            try:
                status, head, data = await asyncio.wait_for(
                    http(self.port, "POST", "/api/calls", self.body(i), headers), 30
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
                self.connection_errors += 1
                await asyncio.sleep(0.2)
                continue
            if status in (200, 201):
                self.acked[cad] = json.loads(data)["id"]
                self.latencies.append(time.monotonic() - start)
                return
            if status == 503:
                self.refusals += 1
                assert "retry-after" in head, "a 503 without Retry-After"
                await asyncio.sleep(float(head["retry-after"]))
                continue
            raise AssertionError(f"{cad}: unexpected {status} {data[:300]!r}")
        self.gave_up.append(cad)

    async def run(self, *, rate: float, seconds: float, give_up_after: float = 60.0, during=None):
        tasks = []
        t0 = time.monotonic()
        n = int(rate * seconds)
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(i, give_up_after)))
            if during is not None and i == n // 3:
                tasks.append(asyncio.create_task(during()))
        await asyncio.gather(*tasks)
        return n


@dataclass
class Board:
    """A board's event stream: reconnects like EventSource (Last-Event-ID) and keeps
    every sequence number it received."""

    port: int
    session: str
    after: int
    seqs: set[int] = field(default_factory=set)
    reconnects: int = 0
    resets: int = 0
    last: int = 0
    refused: list[int] = field(default_factory=list)  # statuses other than 200
    streams: int = 0  # streams opened (200)
    ended: int = 0  # streams the server ended

    async def run(self, stop: asyncio.Event) -> None:
        self.last = self.after
        while not stop.is_set():
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                await self._once(stop)
            if not stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def _once(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            resume = f"Last-Event-ID: {self.last}\r\n" if self.last else ""
            writer.write(
                (
                    f"GET /live/events?scope=board&after={self.after} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nCookie: sessionid={self.session}\r\n{resume}"
                    "Accept: text/event-stream\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            if status != 200:
                self.refused.append(status)
                await asyncio.sleep(1.0)
                return
            self.streams += 1
            while not stop.is_set():
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.5)
                except TimeoutError:
                    continue
                if not line:
                    self.ended += 1
                    return
                if line.startswith(b"id: "):
                    seq = int(line[4:])
                    self.seqs.add(seq)
                    self.last = seq
                elif line.startswith(b"event: reset"):
                    self.resets += 1
        finally:
            writer.close()


def logged_seqs(url: str, after: int) -> set[int]:
    import psycopg

    with psycopg.connect(url) as c:
        return {r[0] for r in c.execute("SELECT id FROM live_liveevent WHERE id > %s", [after])}


def current_seq(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as c:
        return c.execute("SELECT coalesce(max(id), 0) FROM live_liveevent").fetchone()[0]


def stored_calls(url: str, prefix: str) -> dict[str, list[int]]:
    import psycopg

    out: dict[str, list[int]] = {}
    with psycopg.connect(url) as c:
        for cad, pk in c.execute(
            "SELECT cad_incident_id, id FROM calls_call WHERE cad_incident_id LIKE %s",
            [prefix + "-%"],
        ):
            out.setdefault(cad, []).append(pk)
    return out

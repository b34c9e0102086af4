"""Monthly report benchmark (not run by the tests).

    .venv/bin/python bench/bench_report.py [--store-only | --database-only] [--repeat 3]

1. Store: a year of 1,000,000 synthetic Durham-like CAD calls (heart.batch.synthetic:
   natures drawn from the 149 Durham CAD codes, points over Durham County, 60% with a
   beat, 30% with narratives), imported with `heart plan import` as a city would, then
   `heart report --month 2023-12 --store STORE --basis cad` timed as a whole process:
   December is the worst month, its year-to-date view reads and triages the whole year.
   Target: <= 10 s.
2. Database: a scratch PostgreSQL database (on 127.0.0.1:5432, dropped afterwards) with
   100,000 calls in March 2024 and as many in each of January and February (the
   year-to-date view reads them too): a team reaches about a third (dispatched, on
   scene, cleared on the timeline, a disposition), the crisis line takes some, police
   backups, overrides, staffed shifts, follow-ups and referrals. Then
   `heart report --month 2024-03 --database` as a whole process. Target: <= 10 s.

Both write the PDF too. Prints the median wall time and peak memory of the repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared"))
OUT = ROOT / "bench" / "out" / "report"
HEART = [sys.executable, "-m", "heart.cli"]
PG = os.environ.get("HEART_BENCH_PG", "postgres://postgres@127.0.0.1:5432/test")


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one child process. CPU time (user +
    system) says less about the other work on a shared machine than wall time does."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def report_env(**extra) -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT / "src"))
    env.update(extra)
    return env


# ------------------------------------------------------------------ the store


def make_store(n: int) -> Path:
    store = OUT / f"store-{n}"
    if (store / "calls.parquet").exists():
        return store
    import csv

    import shapely
    from shapely.geometry import shape

    from heart.batch.synthetic import generate_calls, load_beat_layer

    OUT.mkdir(parents=True, exist_ok=True)
    with (SHARED / "data/durham/cad_nature_grouping.csv").open() as fh:
        natures = [row["nature"] for row in csv.DictReader(fh)] + ["PANHANDLING OR NUISANCE"]
    county = json.loads((SHARED / "data/durham/durham_county.geojson").read_text())
    area = shapely.union_all([shape(f["geometry"]) for f in county.get("features", [county])])
    beats = load_beat_layer(SHARED / "data/durham/police_beats_2022.geojson")
    frame = generate_calls(
        n,
        natures=natures,
        area=area,
        start=dt.date(2023, 1, 1),
        days=365,
        beat_layer=beats,
        seed=12,
    )
    export = OUT / f"calls-{n}.csv"
    frame.write_csv(export)
    started = time.perf_counter()
    subprocess.run(
        [
            *HEART,
            "plan",
            "import",
            str(export),
            "--mapping",
            "heart-standard",
            "--out",
            str(store),
            "--quiet",
        ],
        check=True,
        env=report_env(),
    )
    print(f"store: {n:,} calls imported in {time.perf_counter() - started:.1f} s ({store})")
    return store


def bench_store(repeat: int) -> dict:
    store = make_store(1_000_000)
    cmd = [
        *HEART,
        "report",
        "--month",
        "2023-12",
        "--store",
        str(store),
        "--basis",
        "cad",
        "--program",
        "durham-heart-2023",
        "--out",
        str(OUT / "from-store"),
        "--quiet",
        "--police-minutes",
        "40",
        "--police-minutes-source",
        "benchmark",
    ]
    runs = [timed(cmd, report_env(HEART_DATA_DIR=str(OUT / "var"))) for _ in range(repeat)]
    return _result("store, 1,000,000 calls a year, December report (year to date)", runs)


# ------------------------------------------------------------------ the database


def bench_database(repeat: int, per_month: int, keep: bool = False) -> dict:
    import psycopg

    name = "heart_bench_report" if keep else f"heart_bench_report_{os.getpid()}"
    admin = PG
    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (keep and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    env = report_env(DATABASE_URL=url, HEART_DATA_DIR=str(OUT / "var"))
    try:
        if not (keep and exists):
            subprocess.run([*HEART, "manage", "migrate", "-v0"], check=True, env=env)
            started = time.perf_counter()
            counts = fill(url, per_month)
            print(f"database: {counts} loaded in {time.perf_counter() - started:.1f} s")
        cmd = [
            *HEART,
            "report",
            "--month",
            "2024-03",
            "--database",
            "--out",
            str(OUT / "from-db"),
            "--quiet",
            "--police-minutes",
            "40",
            "--police-minutes-source",
            "benchmark",
        ]
        runs = [timed(cmd, env) for _ in range(repeat)]
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _result(f"PostgreSQL, {per_month:,} calls in March 2024 (+ January, February)", runs)


def fill(url: str, per_month: int) -> dict:
    """COPY the calls and their records straight into the tables (as fast as a restore)."""
    import numpy as np
    import psycopg

    rng = np.random.default_rng(7)
    natures = [
        "CRISIS",
        "WELFARE CHECK",
        "TRESPASS OR UNWANTED",
        "DISTURBANCE",
        "INTOXICATED PERSON",
        "SUICIDE THREAT",
        "ASSAULT",
        "LARCENY",
        "TRAFFIC STOP",
        "ALARM",
    ]
    utc = dt.UTC
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO teams_team (name, unit_key, status, active) VALUES "
            + ",".join(f"('BENCH-{i}', 'crt', 'out_of_service', true)" for i in range(12))
            + " RETURNING id"
        )
        teams = [r[0] for r in cur.fetchall()]
        cur.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined) VALUES "
            + ",".join(
                f"('!', false, 'bench{i}', '', '', '', false, true, now())" for i in range(3)
            )
            + " RETURNING id"
        )
        users = [r[0] for r in cur.fetchall()]
        calls = io.StringIO()
        timeline = io.StringIO()
        dispositions = io.StringIO()
        ccd = io.StringIO()
        next_id = 1
        months = [(2024, 1, 31), (2024, 2, 29), (2024, 3, 31)]
        team_calls = []
        for year, month, days in months:
            start = dt.datetime(year, month, 1, 5, tzinfo=utc)
            offsets = np.sort(rng.integers(0, days * 86400, per_month))
            kinds = rng.random(per_month)
            for k in range(per_month):
                cid = next_id
                next_id += 1
                at = start + dt.timedelta(seconds=int(offsets[k]))
                nature = natures[int(kinds[k] * 1000) % len(natures)]
                if kinds[k] < 0.35:
                    route, codes = "crt", ["nature_eligible", "route_crt"]
                elif kinds[k] < 0.45:
                    route, codes = "ccd", ["nature_eligible", "crt_closed_hours", "route_ccd"]
                elif kinds[k] < 0.5:
                    route, codes = "standard", ["nature_eligible", "route_crt", "crt_unavailable"]
                else:
                    route, codes = "standard", ["nature_not_eligible", "route_standard"]
                reasons = json.dumps([{"code": c, "text": c} for c in codes])
                lon, lat = -78.9 + rng.normal(0, 0.03), 35.99 + rng.normal(0, 0.03)
                calls.write(
                    "\t".join(
                        [
                            str(cid),
                            f"BENCH-{cid}",
                            "cad",
                            at.isoformat(),
                            nature,
                            "3",
                            "111",
                            f"{lon:.6f}",
                            f"{lat:.6f}",
                            "",
                            "",
                            "\\N",
                            "\\N",
                            "",
                            "\\N",
                            "\\N",
                            "closed",
                            at.isoformat(),
                            route,
                            reasons.replace("\\", "\\\\"),
                            "durham-heart-2023@bench",
                            "durham-heart-2023",
                            at.isoformat(),
                            at.isoformat(),
                        ]
                    )
                    + "\n"
                )
                if route == "crt":
                    team = teams[cid % len(teams)]
                    d = at + dt.timedelta(minutes=2 + int(rng.integers(0, 8)))
                    o = d + dt.timedelta(minutes=8 + int(rng.integers(0, 25)))
                    c = o + dt.timedelta(minutes=15 + int(rng.integers(0, 60)))
                    for kind, when in (
                        ("dispatched", d),
                        ("en_route", d),
                        ("on_scene", o),
                        ("cleared", c),
                    ):
                        timeline.write(
                            f"{cid}\t{kind}\t{when.isoformat()}\tbench\t{team}\t{kind}\t{{}}\n"
                        )
                    outcome = ("resolved_on_scene", "transported", "referred", "refused")[cid % 4]
                    dispositions.write(
                        f"{cid}\t{team}\t{outcome}\t\t\t\tf\t\t\t\t{c.isoformat()}\tbench\n"
                    )
                    team_calls.append((cid, at, team))
                elif route == "ccd":
                    outcome = ("resolved_by_phone", "send_team", "hand_back")[cid % 3]
                    ccd.write(
                        f"{cid}\t{outcome}\t\t{users[0]}\t{(at + dt.timedelta(minutes=9)).isoformat()}\n"
                    )
        cols = (
            "id, cad_incident_id, source, received_at, nature, priority, beat, lon, lat, address, "
            "narrative, weapon_flag, violence_flag, incident_type_text, source_updated_at, parent_id, "
            "state, closed_at, route, reasons, rules_version, program, created_at, updated_at"
        )
        # columns whose defaults live in Django, not the table: give them table defaults in
        # this scratch database so the COPY and the INSERTs below need not list them
        cur.execute(
            "ALTER TABLE calls_call ALTER COLUMN source_key SET DEFAULT 'system', "
            "ALTER COLUMN callback SET DEFAULT ''"
        )
        for table, columns, buffer in (
            ("calls_call", cols, calls),
            (
                "calls_timelineevent",
                "call_id, kind, at, actor_label, team_id, text, data",
                timeline,
            ),
            (
                "calls_disposition",
                "call_id, team_id, outcome, destination, referred_to, notes, "
                "consent_follow_up, contact_name, contact_phone, contact_notes, recorded_at, recorded_by_label",
                dispositions,
            ),
            ("calls_ccdoutcome", "call_id, outcome, notes, clinician_id, recorded_at", ccd),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        cur.execute("SELECT setval('calls_call_id_seq', %s)", [next_id])
        # backups on 3% of team calls, overrides on 1%
        backups = [t for i, t in enumerate(team_calls) if i % 33 == 0]
        for cid, at, _team in backups:
            cur.execute(
                "INSERT INTO calls_call (source, received_at, nature, priority, beat, address, narrative, "
                "incident_type_text, state, route, reasons, rules_version, program, parent_id, created_at, "
                "updated_at) VALUES ('backup', %s, 'POLICE BACKUP REQUEST', '1', '111', '', '', '', 'closed', "
                "'standard', '[{\"code\": \"backup_request\", \"text\": \"\"}]', 'x', 'x', %s, now(), now())",
                [at + dt.timedelta(minutes=30), cid],
            )
        for i, (cid, at, team) in enumerate(team_calls):
            if i % 100 == 0:
                cur.execute(
                    "INSERT INTO events_event (name, at, call_id, actor_label, payload) VALUES "
                    "('dispatch.override', %s, %s, 'bench', %s)",
                    [
                        at + dt.timedelta(minutes=1),
                        cid,
                        json.dumps({"call_id": cid, "team_id": team, "route": "crt"}),
                    ],
                )
        # staffed 12-hour shifts: 6 teams a day, every day of the three months
        day = dt.datetime(2024, 1, 1, 13, tzinfo=utc)
        while day < dt.datetime(2024, 4, 1, tzinfo=utc):
            for team in teams[:6]:
                cur.execute(
                    "INSERT INTO teams_shift (team_id, starts_at, ends_at) VALUES (%s, %s, %s) RETURNING id",
                    [team, day, day + dt.timedelta(hours=12)],
                )
                shift = cur.fetchone()[0]
                for user, discipline in zip(
                    users, ("clinician", "peer_support", "emt"), strict=True
                ):
                    cur.execute(
                        "INSERT INTO teams_shiftmember (shift_id, user_id, discipline) VALUES (%s, %s, %s)",
                        [shift, user, discipline],
                    )
            day += dt.timedelta(days=1)
        conn.commit()
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM calls_call")
        n_calls = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM calls_timelineevent")
        n_timeline = cur.fetchone()[0]
    return {"calls": n_calls, "timeline events": n_timeline, "team calls": len(team_calls)}


def _result(name: str, runs: list[tuple[float, float, float]]) -> dict:
    walls = [w for w, _, _ in runs]
    out = {
        "measure": name,
        "median_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "cpu_s": round(statistics.median(c for _, _, c in runs), 2),
        "peak_mib": round(max(m for _, m, _ in runs)),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-only", action="store_true")
    parser.add_argument("--database-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-month", type=int, default=100_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep (and reuse) the database heart_bench_report"
    )
    args = parser.parse_args()
    results = []
    if not args.database_only:
        results.append(bench_store(args.repeat))
    if not args.store_only:
        results.append(bench_database(args.repeat, args.per_month, args.keep))
    print(f"\n{dt.date.today()} (machine shared with other work: timings are noisy)")
    for r in results:
        print(
            f"  {r['measure']}: median {r['median_s']} s of {r['runs_s']} (CPU {r['cpu_s']} s), "
            f"peak {r['peak_mib']} MiB, load average {r['load_average']}"
        )


if __name__ == "__main__":
    main()

"""Benchmark: `heart triage` on 1,000,000 synthetic Durham-like calls vs a plain DuckDB read.

    .venv/bin/python bench/bench_triage.py [--calls 1000000] [--repeat 3] \
        [--baseline-src OLD/src] [--distinct-narratives]

Generates the calls once (natures drawn from the 149 Durham CAD codes in
../shared/data/durham/cad_nature_grouping.csv plus the newer PANHANDLING OR NUISANCE;
points over Durham County; a year of times; 30% with narratives, some with weapon or
violence phrases and some negated; 60% with the beat of the polygon the point is in),
then times whole processes, alternating, in the same run:

  * triage: `heart triage calls.csv --program durham-heart-2022 --out … --quiet`, and
            the same without --quiet (counts by route and reason, prints the tables)
  * read:   a Python process that reads every column of the same CSV with DuckDB
            into an Arrow table (`SELECT * FROM read_csv(…, all_varchar=true)`)

and prints wall time (median of the repeats), their ratio and each process's peak RSS.

``--baseline-src DIR`` also times `heart triage --quiet` with another checkout's source
(e.g. ``git archive <commit> src | tar -x -C /tmp/old``) in the same alternation, so a
change is measured side by side with the code before it. ``--distinct-narratives``
makes every narrative distinct (a real export's are), so the phrase rules run once per
call that has one instead of once per 16 texts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HEART_SHARED_DIR", ROOT.parent / "shared"))
OUT = ROOT / "bench" / "out"

READ_SCRIPT = """
import sys, duckdb
t = duckdb.sql(f"SELECT * FROM read_csv('{sys.argv[1]}', all_varchar=true, header=true)").fetch_arrow_table()
print(t.num_rows, t.num_columns)
"""


def generate(n: int, path: Path, *, distinct: bool = False) -> None:
    import csv

    import shapely
    from shapely.geometry import shape

    from heart.batch.synthetic import generate_calls, load_beat_layer

    with (SHARED / "data/durham/cad_nature_grouping.csv").open() as fh:
        natures = [row["nature"] for row in csv.DictReader(fh)] + ["PANHANDLING OR NUISANCE"]
    county = json.loads((SHARED / "data/durham/durham_county.geojson").read_text())
    features = county.get("features", [county])
    area = shapely.union_all([shape(f["geometry"]) for f in features])
    beats = load_beat_layer(SHARED / "data/durham/police_beats_2022.geojson")
    frame = generate_calls(
        n,
        natures=natures,
        area=area,
        start=dt.date(2023, 1, 1),
        days=365,
        beat_layer=beats,
        seed=2024,
    )
    if distinct:  # "… (unit 12 on scene 10:41)": a different text on every call
        import polars as pl

        frame = frame.with_columns(
            pl.when(pl.col("narrative").is_not_null())
            .then(
                pl.format(
                    "{} (unit {} on scene {}:{})",
                    pl.col("narrative"),
                    pl.int_range(pl.len()) % 97,
                    pl.int_range(pl.len()) % 24,
                    pl.int_range(pl.len()) // 24 % 60,
                )
            )
            .alias("narrative")
        )
    frame.write_csv(path)


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="time this src tree too (side by side)")
    parser.add_argument("--distinct-narratives", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_distinct" if args.distinct_narratives else ""
    calls = OUT / f"calls_{args.calls}{suffix}.csv"
    if not calls.exists():
        t0 = time.perf_counter()
        generate(args.calls, calls, distinct=args.distinct_narratives)
        print(f"generated {args.calls:,} calls in {time.perf_counter() - t0:.1f} s -> {calls}")
    size = calls.stat().st_size / 2**20
    heart = str(Path(sys.executable).with_name("heart"))
    triage_cmd = [
        heart,
        "triage",
        str(calls),
        "--program",
        "durham-heart-2022",
        "--out",
        str(OUT / "decisions.csv"),
        "--quiet",
    ]
    read_cmd = [sys.executable, "-c", READ_SCRIPT, str(calls)]
    summary_cmd = triage_cmd[:-1]  # without --quiet: also counts and prints the summary
    triage_runs, read_runs, summary_runs, baseline_runs = [], [], [], []
    baseline_env = None
    if args.baseline_src:
        baseline_env = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
        baseline_cmd = list(triage_cmd)
        baseline_cmd[baseline_cmd.index(str(OUT / "decisions.csv"))] = str(OUT / "baseline.csv")
    for _ in range(args.repeat):  # alternate so all see the same machine state
        read_runs.append(timed(read_cmd))
        triage_runs.append(timed(triage_cmd))
        summary_runs.append(timed(summary_cmd))
        if baseline_env is not None:
            baseline_runs.append(timed(baseline_cmd, baseline_env))
    t_wall = statistics.median(w for w, _ in triage_runs)
    r_wall = statistics.median(w for w, _ in read_runs)
    t_mem = max(m for _, m in triage_runs)
    r_mem = max(m for _, m in read_runs)
    print(
        f"input: {args.calls:,} calls, {size:.0f} MiB CSV; {os.cpu_count()} cores; median of {args.repeat}"
    )
    print(f"duckdb read : {r_wall:6.2f} s  peak {r_mem:7.0f} MiB")
    s_wall = statistics.median(w for w, _ in summary_runs)
    s_mem = max(m for _, m in summary_runs)
    print(f"heart triage: {t_wall:6.2f} s  peak {t_mem:7.0f} MiB  (--quiet)")
    print(f"heart triage: {s_wall:6.2f} s  peak {s_mem:7.0f} MiB  (with the summary table)")
    print(f"ratio triage/read: {t_wall / r_wall:.2f}x quiet, {s_wall / r_wall:.2f}x with summary")
    if baseline_runs:
        b_wall = statistics.median(w for w, _ in baseline_runs)
        b_mem = max(m for _, m in baseline_runs)
        print(
            f"baseline    : {b_wall:6.2f} s  peak {b_mem:7.0f} MiB  (--quiet, {args.baseline_src});"
            f" ratio to read {b_wall / r_wall:.2f}x; this tree / baseline {t_wall / b_wall:.2f}"
        )
    print("targets: <= 3x, < 15 s, < 2048 MiB")


if __name__ == "__main__":
    main()

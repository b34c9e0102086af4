"""Batch triage of a CSV export: read, triage in chunks, write decisions and rejects."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from heart.batch.io import parse_calls, read_raw
from heart.domain.mapping import ColumnMapping
from heart.domain.program import Program
from heart.domain.triage_batch import decide_frame

CHUNK_ROWS = 1_000_000  # bounds memory on very large files; one chunk shares one codebook


@dataclass
class BatchSummary:
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    by_route: Counter = field(default_factory=Counter)
    by_route_reason: Counter = field(default_factory=Counter)
    rules_version: str = ""
    decisions: pl.DataFrame | None = None  # kept only when asked (run_batch with_texts)


def triage_frame(
    program: Program,
    calls: pl.DataFrame,
    *,
    rules_as_of: dt.date | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
    with_texts: bool = False,
) -> pl.DataFrame:
    parts = []
    # decisions per distinct facts, shared by the chunks (hashing facts costs more than it
    # saves when the whole file is one chunk)
    cache: dict | None = {} if calls.height > chunk_rows else None
    for start in range(0, max(calls.height, 1), chunk_rows):  # an empty input is one chunk
        chunk = calls.slice(start, chunk_rows)
        parts.append(
            decide_frame(
                program, chunk, rules_as_of=rules_as_of, cache=cache, with_texts=with_texts
            )
        )
        if on_chunk:
            on_chunk(chunk.height)
    return pl.concat(parts)


def summarise(decisions: pl.DataFrame, rejects: pl.DataFrame, summary: BatchSummary) -> None:
    summary.accepted = decisions.height
    summary.rejected = rejects.height
    summary.rows_read = decisions.height + rejects.height
    for route, n in decisions.group_by("route").len().iter_rows():
        summary.by_route[route] += n
    for route, reasons, n in decisions.group_by("route", "reasons").len().iter_rows():
        for code in reasons.split(";"):
            summary.by_route_reason[(route, code)] += n


def run_batch(
    *,
    input_path: Path,
    program: Program,
    mapping: ColumnMapping,
    out_path: Path,
    rejects_path: Path,
    rules_as_of: dt.date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    by_reason: bool = True,
    with_texts: bool = False,
) -> BatchSummary:
    """Triage a whole file; ``progress(stage, done, total)`` drives a progress bar.

    ``by_reason=False`` skips the counts by route and reason (a quiet run prints none).
    ``with_texts=True`` keeps the decisions, with their sentences, on the summary (the
    written file has the codes only).
    """
    report = progress or (lambda stage, done, total: None)
    report("read", 0, 1)
    raw = read_raw(input_path, mapping)
    report("read", 1, 1)
    calls, rejects = parse_calls(raw, mapping)
    del raw
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        report("triage", done, calls.height)

    report("triage", 0, calls.height)
    decisions = triage_frame(
        program, calls, rules_as_of=rules_as_of, on_chunk=on_chunk, with_texts=with_texts
    )
    report("write", 0, 1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    decisions.drop("reason_texts", strict=False).write_csv(out_path)
    rejects.write_csv(rejects_path)
    report("write", 1, 1)
    summary = BatchSummary(rules_version=program.rules_version)
    if by_reason:
        summarise(decisions, rejects, summary)
    else:
        summary.accepted, summary.rejected = decisions.height, rejects.height
        summary.rows_read = summary.accepted + summary.rejected
    if with_texts:
        summary.decisions = decisions
    return summary

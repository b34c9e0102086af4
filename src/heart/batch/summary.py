"""A batch summary on a rich console: calls by route, reasons by route, where files went."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from heart.batch.run import BatchSummary


def print_summary(
    summary: BatchSummary, out_path: Path, rejects_path: Path, *, console: Console
) -> None:
    table = Table(title=f"Triage — {summary.rules_version}")
    table.add_column("route")
    table.add_column("calls", justify="right")
    table.add_column("share", justify="right")
    total = max(summary.accepted, 1)
    for route, n in sorted(summary.by_route.items(), key=lambda kv: -kv[1]):
        table.add_row(route, f"{n:,}", f"{n / total:.1%}")
    console.print(table)
    reasons = Table(title="Reasons by route (a call has several)")
    reasons.add_column("route")
    reasons.add_column("reason")
    reasons.add_column("calls", justify="right")
    for (route, code), n in sorted(
        summary.by_route_reason.items(), key=lambda kv: (kv[0][0], -kv[1])
    ):
        reasons.add_row(route, code, f"{n:,}")
    console.print(reasons)
    console.print(
        f"{summary.rows_read:,} rows read, {summary.accepted:,} triaged -> {out_path}, "
        f"{summary.rejected:,} rejected -> {rejects_path}",
        highlight=False,
    )

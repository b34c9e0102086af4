"""Charts for the planning report and analyst page (matplotlib, written as PNG files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def call_types(results: Sequence, path: Path) -> Path:
    """Eligible calls and calls a team would take, by call type, one bar group per program."""
    types = sorted({t for r in results for t in r.by_call_type["call_type"].to_list() if t})
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(types) + 1.8))
    y = np.arange(len(types))
    height = 0.8 / max(len(results), 1)
    for k, r in enumerate(results):
        rows = {t: (e, m) for t, _, e, m, *_ in r.by_call_type.iter_rows()}
        elig = [rows.get(t, (0, 0))[0] for t in types]
        team = [rows.get(t, (0, 0))[1] for t in types]
        ax.barh(
            y + k * height, elig, height, alpha=0.35, color=f"C{k}", label=f"{r.program}: eligible"
        )
        ax.barh(y + k * height, team, height, color=f"C{k}", label=f"{r.program}: team sent")
    ax.set_yticks(y + height * (len(results) - 1) / 2, types)
    ax.invert_yaxis()
    ax.set_xlabel("calls")
    ax.legend(fontsize=8)
    ax.set_title("Eligible calls by call type")
    return _save(fig, path)


def hour_of_week(result, path: Path) -> Path:
    grid = np.zeros((7, 24))
    for weekday, hour, n in result.by_hour_of_week.iter_rows():
        grid[weekday, hour] = n
    fig, ax = plt.subplots(figsize=(9, 3.2))
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), DAYS)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("local hour")
    ax.set_title(f"Eligible calls by hour of week ({result.program})")
    fig.colorbar(im, ax=ax, label="calls")
    return _save(fig, path)


def area_map(
    zones: dict,
    counts: dict,
    proposal: Sequence[str],
    current: Sequence[str],
    path: Path,
    *,
    title: str,
) -> Path:
    fig, ax = plt.subplots(figsize=(7, 7))
    top = max(counts.values(), default=1) or 1
    cmap = plt.get_cmap("Oranges")
    for zid, zone in zones.items():
        for poly in getattr(zone.geometry, "geoms", [zone.geometry]):
            x, y = poly.exterior.xy
            ax.fill(
                x,
                y,
                color=cmap(0.1 + 0.9 * counts.get(zid, 0) / top),
                linewidth=0.3,
                edgecolor="grey",
            )
    for ids, colour, label in ((proposal, "blue", "proposal"), (current, "red", "current area")):
        first = True
        for zid in ids:
            if zid not in zones:
                continue
            for poly in getattr(zones[zid].geometry, "geoms", [zones[zid].geometry]):
                x, y = poly.exterior.xy
                ax.plot(
                    x,
                    y,
                    color=colour,
                    linewidth=1.6 if colour == "blue" else 1.0,
                    linestyle="-" if colour == "blue" else "--",
                    label=label if first else None,
                )
                first = False
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def quantile_plot(real: np.ndarray, sim: np.ndarray, path: Path, *, title: str, ks: float) -> Path:
    """Quantile-quantile plot: real quantiles against simulated ones, with the 45° line."""
    probs = np.linspace(0.01, 0.99, 99)
    q_real = np.quantile(real[np.isfinite(real)], probs)
    q_sim = np.quantile(sim[np.isfinite(sim)], probs)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot(q_real, q_sim, "o", markersize=3)
    top = float(max(q_real.max(), q_sim.max(), 1))
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
    ax.set_xlabel("real (minutes)")
    ax.set_ylabel("simulated (minutes)")
    ax.set_title(f"{title}\nKS D = {ks:.3f}", fontsize=9)
    return _save(fig, path)


def sweep(rows: Sequence[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, hours in enumerate(dict.fromkeys(r["hours"] for r in rows)):
        mine = sorted((r for r in rows if r["hours"] == hours), key=lambda r: r["teams"])
        x = [r["teams"] for r in mine]
        mean = [r["share_reached"]["mean"] for r in mine]
        low = [r["share_reached"]["low"] for r in mine]
        high = [r["share_reached"]["high"] for r in mine]
        ax.plot(x, mean, marker="o", color=f"C{k}", label=hours)
        ax.fill_between(x, low, high, color=f"C{k}", alpha=0.2)
    ax.set_xlabel("teams")
    ax.set_ylabel("share of eligible calls reached")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Staffing sweep (95% CI over replications)")
    return _save(fig, path)

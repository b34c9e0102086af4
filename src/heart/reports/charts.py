"""The report's charts as PNG files (matplotlib), drawn from the *published* summaries
only, so a chart can never show a number the tables hide. Hidden cells are drawn
hatched grey and say "fewer than N" in the legend. Maps shade areas (H3 cells or beats),
never points. No Django.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.patches import Polygon as PolygonPatch  # noqa: E402

# Okabe-Ito: distinguishable with every common colour-vision deficiency
BLUE, ORANGE, GREEN, GREY = "#0072B2", "#E69F00", "#009E73", "#BBBBBB"
INK = "#1a1a1a"
DPI = 120  # sharp on a phone and on paper; fast to draw and to print


def _new(width: float = 7.0, height: float = 3.2):
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    return fig, ax


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def monthly_trend(months: list[dict], path: Path, *, threshold: int) -> Path:
    """Calls of the eligible types and calls a team reached, month by month."""
    fig, ax = _new()
    labels = [m["period"]["label"] for m in months]
    x = range(len(labels))
    eligible = [m["eligible"] for m in months]
    reached = [m["reached"] for m in months]
    ax.bar(
        [i - 0.2 for i in x], [v or 0 for v in eligible], 0.4, color=BLUE, label="Eligible calls"
    )
    ax.bar(
        [i + 0.2 for i in x],
        [v or 0 for v in reached],
        0.4,
        color=ORANGE,
        label="Reached by a team",
    )
    for i, (e, r) in enumerate(zip(eligible, reached, strict=True)):
        for dx, value in ((-0.2, e), (0.2, r)):
            if value is None:
                ax.bar(i + dx, threshold, 0.4, color="white", edgecolor=GREY, hatch="///")
    ax.set_xticks(list(x), labels, rotation=0 if len(labels) < 7 else 45)
    ax.set_ylabel("calls", color=INK)
    handles, names = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="white", edgecolor=GREY, hatch="///"))
    names.append(f"fewer than {threshold} (not shown)")
    ax.legend(handles, names, frameon=False, fontsize=8, loc="upper left")
    ax.set_title("Month by month", color=INK, fontsize=10, loc="left")
    return _save(fig, path)


def hour_of_week(summary: dict, path: Path, *, threshold: int) -> Path:
    """All calls by local weekday and hour; hidden cells hatched."""
    import numpy as np

    grid = summary["hour_of_week"]["calls"]
    data = np.array([[np.nan if v is None else v for v in row] for row in grid], dtype=float)
    fig, ax = _new(7.0, 2.8)
    masked = np.ma.masked_invalid(data)
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="white")
    im = ax.imshow(masked, aspect="auto", cmap=cmap, vmin=0)
    for d in range(7):
        for h in range(24):
            if np.isnan(data[d, h]):
                ax.add_patch(
                    plt.Rectangle(
                        (h - 0.5, d - 0.5), 1, 1, fill=False, hatch="///", edgecolor=GREY, lw=0
                    )
                )
    ax.set_yticks(range(7), summary["hour_of_week"]["weekdays"])
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_xlabel("hour of the day (local time)", color=INK, fontsize=8)
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.ax.tick_params(labelsize=7)
    cbar.set_label("calls", fontsize=8)
    ax.set_title(
        f"When calls come in (hatched: fewer than {threshold})", color=INK, fontsize=10, loc="left"
    )
    return _save(fig, path)


def bars(
    values: dict[str, int | None], labels: dict[str, str], path: Path, *, title: str, threshold: int
) -> Path:
    """Horizontal bars (dispositions, missed calls by cause)."""
    keys = [k for k in values if values[k] is None or values[k]]
    fig, ax = _new(7.0, 0.45 * max(len(keys), 2) + 0.9)
    shown = [values[k] or 0 for k in keys]
    y = range(len(keys))
    ax.barh(list(y), shown, color=BLUE)
    for i, k in enumerate(keys):
        if values[k] is None:
            ax.barh(i, threshold, color="white", edgecolor=GREY, hatch="///")
            ax.text(threshold, i, f"  fewer than {threshold}", va="center", fontsize=8, color=INK)
        else:
            ax.text(values[k], i, f" {values[k]:,}", va="center", fontsize=8, color=INK)
    ax.set_yticks(list(y), [labels.get(k, k) for k in keys])
    ax.invert_yaxis()
    ax.set_title(title, color=INK, fontsize=10, loc="left")
    if not keys:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, path)


def response_distribution(summary: dict, path: Path, *, threshold: int) -> Path:
    """Minutes from the call to the team's arrival, in bins (hidden bins hatched)."""
    dist = summary["response_distribution"]
    keys = list(dist)
    fig, ax = _new()
    ax.bar(range(len(keys)), [v or 0 for v in dist.values()], color=GREEN)
    for i, k in enumerate(keys):
        if dist[k] is None:
            ax.bar(i, threshold, color="white", edgecolor=GREY, hatch="///")
    ax.set_xticks(range(len(keys)), keys)
    ax.set_xlabel("minutes from the call to the team's arrival", color=INK, fontsize=8)
    ax.set_ylabel("calls", color=INK, fontsize=8)
    stats = summary["response_minutes"]
    if stats["p50"] is not None:
        ax.set_title(
            f"Response time: median {stats['p50']:.0f} min, 90% within {stats['p90']:.0f} min",
            color=INK,
            fontsize=10,
            loc="left",
        )
    return _save(fig, path)


def area_map(
    values: dict[str, int | None],
    shapes: dict[str, list[list[tuple[float, float]]]],
    outlines: list[list[tuple[float, float]]],
    path: Path,
    *,
    threshold: int,
    title: str,
) -> Path | None:
    """A choropleth: each area shaded by its calls; hidden areas hatched; the service
    area outline on top. Areas without a shape (e.g. 'unknown') are left out."""
    drawable = {k: v for k, v in values.items() if k in shapes}
    if not drawable:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 6.0), dpi=DPI)
    counts = [v for v in drawable.values() if v is not None]
    top = max(counts) if counts else threshold
    cmap = matplotlib.colormaps["Oranges"]
    shown_rings, shown_colors, hidden_rings = [], [], []
    for key, value in drawable.items():
        for ring in shapes[key]:
            if value is None:
                hidden_rings.append(ring)
            else:
                shown_rings.append(ring)
                shown_colors.append(cmap(0.15 + 0.85 * value / top))
    # one collection per kind: thousands of cells draw in a fraction of a second
    ax.add_collection(
        PolyCollection(shown_rings, facecolors=shown_colors, edgecolors="white", linewidths=0.3)
    )
    ax.add_collection(
        PolyCollection(
            hidden_rings, facecolors="white", edgecolors=GREY, hatch="///", linewidths=0.3
        )
    )
    for ring in outlines:
        ax.add_patch(PolygonPatch(ring, closed=True, fill=False, edgecolor=INK, lw=1.0))
    ax.autoscale_view()
    ax.set_aspect(1 / 0.81)  # about right for the mid latitudes of US cities
    ax.set_axis_off()
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, top))
    cbar = fig.colorbar(sm, ax=ax, fraction=0.035, pad=0.02)
    cbar.set_label("calls", fontsize=8)
    ax.legend(
        [Patch(facecolor="white", edgecolor=GREY, hatch="///"), Patch(fill=False, edgecolor=INK)],
        [f"fewer than {threshold} (not shown)", "service area"],
        frameon=False,
        fontsize=8,
        loc="lower left",
    )
    ax.set_title(title, color=INK, fontsize=10, loc="left")
    return _save(fig, path)

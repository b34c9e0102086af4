"""A published summary (dict) -> rows and tiles the templates show. The same shape
serves the report file, the PDF, the staff page and the public site, so every page says
the same numbers in the same words."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from heart.reports import labels

# the pages list the most frequent call types; the open data has every one (a table of
# all 149 Durham CAD natures would fill pages of the PDF)
TOP_CALL_TYPES = 25


@dataclass(frozen=True)
class Row:
    label: str
    value: int | float | None
    share: float | None = None  # of the table's total, when it means something

    @property
    def hidden(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class HeatCell:
    value: int | None
    level: int  # 0-9 for the CSS class heat-N; -1 hidden


def _rows(
    values: dict, table: dict, total: int | None = None, *, skip_zero: bool = False
) -> list[Row]:
    out = []
    for key, value in values.items():
        if skip_zero and value == 0:
            continue
        share = round(value / total, 4) if value is not None and total else None
        out.append(Row(labels.label(table, key), value, share))
    return out


def heat(summary: dict) -> list[tuple[str, list[HeatCell]]]:
    grid = summary["hour_of_week"]["calls"]
    top = max((v for row in grid for v in row if v is not None), default=0)
    out = []
    for day, row in zip(summary["hour_of_week"]["weekdays"], grid, strict=True):
        cells = []
        for v in row:
            if v is None:
                cells.append(HeatCell(None, -1))
            else:
                cells.append(HeatCell(v, 0 if not top or not v else min(9, 1 + int(8 * v / top))))
        out.append((labels.label(labels.WEEKDAYS, day), cells))
    return out


def present(summary: dict) -> dict:
    """Everything a template needs from one published summary."""
    team = summary["team_responses"]
    backups = summary["backup_requests"]
    return {
        "s": summary,
        "routes": _rows(summary["by_route"], labels.ROUTES, summary["calls_total"]),
        "call_types": sorted(
            _rows(summary["by_call_type"], {}, summary["calls_total"]),
            key=lambda r: (r.value is None, -(r.value or 0), r.label),
        )[:TOP_CALL_TYPES],
        "call_types_count": len(summary["by_call_type"]),
        "missed": _rows(summary["missed_by_cause"], labels.MISSED),
        "dispositions": _rows(summary["dispositions"], labels.DISPOSITIONS, team, skip_zero=True),
        "crisis_line": _rows(summary["crisis_line"]["outcomes"], labels.CRISIS_LINE),
        "backup_causes": _rows(backups["by_cause"], {"not_recorded": _("Not recorded")}),
        "backup_types": _rows(backups["by_call_type"], {}),
        "override_routes": _rows(summary["overrides"]["by_route"], labels.ROUTES),
        "distribution": [Row(k, v) for k, v in summary["response_distribution"].items()],
        "heat": heat(summary),
        "hours": list(range(24)),
        "basis": labels.label(labels.BASIS, summary["basis"]),
        "areas": sorted(
            ((k, v) for k, v in summary["by_area"].items()),
            key=lambda kv: (kv[1] is None, -(kv[1] or 0), kv[0]),
        ),
        "times": [
            (_("Call to team on scene"), summary["response_minutes"]),
            (_("Call to team dispatched"), summary["dispatch_minutes"]),
            (_("Time on scene"), summary["on_scene_minutes"]),
        ],
    }

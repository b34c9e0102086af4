"""The reports app's one view of the settings (HEART_REPORTS, the program in force)."""

from __future__ import annotations

from django.conf import settings

from heart.domain.metrics import ReportSettings
from heart.program_in_force import current_program
from heart.reports.build import report_settings


def values() -> dict:
    return dict(getattr(settings, "HEART_REPORTS", {}) or {})


def settings_for_program() -> ReportSettings:
    v = values()
    return report_settings(
        current_program(),
        {
            k: x
            for k, x in v.items()
            if k
            not in ("area_by", "h3_resolution", "published_dir", "beat_layer", "beat_id_property")
        },
    )


def area_by() -> str:
    return str(values().get("area_by") or "h3")


def h3_resolution() -> int:
    return int(values().get("h3_resolution") or 8)

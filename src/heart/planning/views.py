"""The analyst page: the planning report written by `heart plan report`, in a browser.

Read-only and thin: it reads ``report.json`` and the charts from the report folder
(setting or environment ``HEART_PLAN_REPORT_DIR``, default ``$HEART_DATA_DIR/plan-report``)
and renders them. Chart files are served only if they are in that folder's listing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

# aggregates only, but still for the roles that read reports (analyst, supervisor, admin)
log = logging.getLogger(__name__)
analyst_only = permission_required("accounts.view_reports", raise_exception=True)


def report_dir() -> Path:
    configured = getattr(settings, "HEART_PLAN_REPORT_DIR", None) or os.environ.get(
        "HEART_PLAN_REPORT_DIR"
    )
    return Path(configured) if configured else Path(settings.DATA_DIR) / "plan-report"


@login_required
@analyst_only
def index(request: HttpRequest) -> HttpResponse:
    folder = report_dir()
    path = folder / "report.json"
    # the page never shows a server path or a command: those are for the operator's log
    # and docs/planning.md ("publishing the planning report")
    context: dict = {"report": None, "problem": None}
    if not path.exists():
        context["problem"] = (
            "No planning report has been published yet. Ask the administrator who runs "
            "HEART to publish one; it then appears here."
        )
        return render(request, "planning/index.html", context, status=200)
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("planning report %s cannot be read: %s", path, type(exc).__name__)
        context["problem"] = (
            "The planning report could not be read. Ask the administrator who runs HEART "
            "to publish it again."
        )
        return render(request, "planning/index.html", context, status=200)
    charts = sorted(p.name for p in folder.glob("*.png"))
    # in sample: fitted and compared on the same records (older reports call it "validation")
    validation = report.get("in_sample_validation") or report.get("validation") or {}
    best = validation.get("best_teams_by_request_to_dispatch")
    overall = validation.get("best_overall") or {"teams": best, "model": "queueing only"}
    delay = "_delay" if overall["model"] != "queueing only" else ""
    best_suffix = f"_{overall['teams']}teams{delay}.png"
    held_out = report.get("held_out_validation") or {}
    chosen = (held_out.get("summary") or {}).get("teams")
    simulate = report.get("simulate") or {}
    context.update(
        report=report,
        eligibility=(report.get("eligibility") or {}).get("programs", []),
        area=report.get("area"),
        staffing=simulate.get("sweep") or ([simulate] if "share_reached" in simulate else []),
        validation=validation,
        held_out=held_out,
        held_out_rows=[r for r in held_out.get("by_teams", [])],
        held_out_charts=[
            c for c in charts if c.startswith("qq_") and c.endswith(f"_{chosen}teams.png")
        ],
        eligibility_charts=[c for c in charts if c.startswith("eligibility")],
        area_charts=[c for c in charts if c.startswith("area")],
        staffing_charts=[c for c in charts if c.startswith("simulate")],
        validation_charts=[
            c for c in charts if c.startswith("insample_qq_") and c.endswith(best_suffix)
        ],
    )
    return render(request, "planning/index.html", context)


@login_required
@analyst_only
def chart(request: HttpRequest, name: str) -> FileResponse:
    folder = report_dir()
    if name not in {p.name for p in folder.glob("*.png")}:
        raise Http404("no such chart")
    return FileResponse((folder / name).open("rb"), content_type="image/png")

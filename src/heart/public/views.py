"""The public pages: no sign-in, English at / and Spanish at /es/ (Django i18n).

Everything about hours and area is read from the program file in force
(heart.program_in_force) for the date asked (``?date=YYYY-MM-DD``, default today in the
program's time zone), so the pages are right on any date. Published reports come from
the folder ``settings.HEART_REPORTS_DIR`` (one sub-folder per month, as written by
``heart report``); the pages only read the summaries there, which are already
suppressed. Addresses typed into the coverage check are used for one lookup and never
stored or logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse, translate_url
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from heart.board.views import home as staff_home
from heart.care.config import rules as care_rules
from heart.domain.service_hours import clock, day_service, next_change, open_at, week
from heart.geocoding import GeocodeError, GeocoderConfigError, geocoder_from_config
from heart.program_in_force import current_program
from heart.public import labels
from heart.public.forms import CoverageForm
from heart.reports.present import present

log = logging.getLogger(__name__)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# files of a published report folder the public may download
DOWNLOADS = re.compile(
    r"^(report\.pdf|summary\.json|ytd\.json|data/[a-z_]+\.csv|charts/[a-z-]+\.png)$"
)


# ------------------------------------------------------------------ shared context


def _site() -> dict:
    return dict(getattr(settings, "HEART_PUBLIC", {}) or {})


def _day(request: HttpRequest) -> tuple[dt.date, dt.datetime | None, str | None]:
    """The date the page is about (``?date=``) and, when it is today, the local now."""
    program = current_program()
    now = timezone.now().astimezone(program.zone)
    text = request.GET.get("date", "").strip()
    if text:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return (
                now.date(),
                now,
                _("The date %(value)s is not a date like 2024-05-31; showing today.")
                % {"value": text[:20]},
            )
        return day, (now if day == now.date() else None), None
    return now.date(), now, None


def _languages(request: HttpRequest) -> list[dict]:
    current = translation.get_language()
    out = []
    for code, name in settings.LANGUAGES:
        out.append(
            {
                "code": code,
                "name": name,
                "url": translate_url(request.get_full_path(), code),
                "current": code == current,
            }
        )
    return out


def _context(request: HttpRequest, page: str, **extra) -> dict:
    return {
        "site": _site(),
        "page": page,
        "languages": _languages(request),
        **extra,
    }


def _unit_service(program, unit: str | None, day: dt.date, now: dt.datetime | None) -> dict | None:
    if unit is None or unit not in program.units:
        return None
    today = day_service(program, unit, day)
    area = program.areas.get(today.area) if today.area else None
    minute = now.hour * 60 + now.minute if now is not None else None
    return {
        "unit": unit,
        "today": today,
        "windows": [(clock(a), clock(b)) for a, b in today.windows],
        "open_now": open_at(today, minute) if minute is not None else None,
        "week": [
            {
                "day": d.day,
                "status": d.status,
                "windows": [(clock(a), clock(b)) for a, b in d.windows],
            }
            for d in week(program, unit, day)
        ],
        "area": area,
        "area_label": labels.area_label(area) if area else None,
        "next_change": next_change(program, unit, day),
    }


def _services(day: dt.date, now: dt.datetime | None) -> dict:
    program = current_program()
    phone_unit = program.unit_for_route("ccd")
    return {
        "team": _unit_service(program, program.team_unit, day, now),
        "phone": _unit_service(program, phone_unit, day, now),
    }


# ------------------------------------------------------------------ pages


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        # staff keep their landing page (the board's routing by role)
        return staff_home(request)
    day, now, problem = _day(request)
    program = current_program()
    return render(
        request,
        "public/home.html",
        _context(
            request,
            "home",
            day=day,
            problem=problem,
            services=_services(day, now),
            categories=labels.categories(program),
            latest=_latest_report(),
        ),
    )


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    program = current_program()
    return render(
        request,
        "public/about.html",
        _context(
            request,
            "about",
            categories=labels.categories(program),
            follow_up_hours=int(care_rules().follow_up_due_hours),
        ),
    )


@require_http_methods(["GET", "POST"])
def coverage(request: HttpRequest) -> HttpResponse:
    day, now, problem = _day(request)
    geocoder, geocoder_problem = _geocoder()
    form = CoverageForm(request.POST or None, with_address=geocoder is not None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = _check(form.cleaned_data, geocoder, day)
    return render(
        request,
        "public/coverage.html",
        _context(
            request,
            "coverage",
            day=day,
            problem=problem,
            services=_services(day, now),
            form=form,
            result=result,
            geocoder=geocoder is not None,
            map_config={
                "areaUrl": f"{reverse('public-area')}?date={day.isoformat()}",
                "tiles": getattr(settings, "HEART_MAP_TILES", ""),
                "labels": {"pick": _("Selected point"), "area": _("Service area")},
            },
            geocoder_problem=geocoder_problem,
        ),
        status=200 if result is not None or request.method == "GET" or form.is_valid() else 422,
    )


def _geocoder():
    try:
        return geocoder_from_config(getattr(settings, "HEART_GEOCODER", None)), None
    except GeocoderConfigError as exc:
        log.error("HEART_GEOCODER: %s", exc)  # configuration, not the visitor's input
        return None, None


def _check(data: dict, geocoder, day: dt.date) -> dict:
    """Is a point (or an address) inside the team's and the phone line's areas on a day."""
    program = current_program()
    lon, lat, matched = data.get("lon"), data.get("lat"), None
    if lon is None and data.get("address"):
        try:
            matches = geocoder.search(data["address"], limit=1) if geocoder else []
        except GeocodeError:
            return {"state": "geocoder_down"}
        if not matches:
            return {"state": "not_found"}
        lon, lat, matched = matches[0].lon, matches[0].lat, matches[0].label
    out = {"state": "checked", "matched": matched, "lon": round(lon, 5), "lat": round(lat, 5)}
    for key, unit in (("team", program.team_unit), ("phone", program.unit_for_route("ccd"))):
        if unit is None:
            out[key] = None
            continue
        service = day_service(program, unit, day)
        area = program.areas.get(service.area) if service.area else None
        if area is None or area.geometry is None:
            out[key] = "unknown" if area is not None else "not_operating"
        else:
            out[key] = "inside" if area.contains_point(lon, lat) else "outside"
    return out


@require_GET
def area_geojson(request: HttpRequest) -> JsonResponse:
    """The team's service area in force on ``?date=`` as GeoJSON outlines (no points)."""
    day, _now, _problem = _day(request)
    program = current_program()
    features = []
    for key, unit in (("team", program.team_unit), ("phone", program.unit_for_route("ccd"))):
        if unit is None:
            continue
        service = day_service(program, unit, day)
        area = program.areas.get(service.area) if service.area else None
        if area is None or area.geometry is None:
            continue
        from shapely.geometry import mapping

        features.append(
            {
                "type": "Feature",
                "properties": {"service": key, "area": area.key, "label": area.label},
                "geometry": mapping(area.geometry),
            }
        )
    response = JsonResponse({"type": "FeatureCollection", "features": features})
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "public/privacy.html",
        _context(
            request,
            "privacy",
            threshold=_threshold(),
            follow_up_hours=int(care_rules().follow_up_due_hours),
        ),
    )


@require_GET
def feedback(request: HttpRequest) -> HttpResponse:
    return render(request, "public/feedback.html", _context(request, "feedback"))


# ------------------------------------------------------------------ reports


def _threshold() -> int:
    return int((getattr(settings, "HEART_REPORTS", {}) or {}).get("suppression_threshold", 10))


def reports_dir() -> Path:
    return Path(getattr(settings, "HEART_REPORTS_DIR", Path(settings.DATA_DIR) / "reports"))


def published_months() -> list[str]:
    folder = reports_dir()
    if not folder.is_dir():
        return []
    return sorted(
        (p.name for p in folder.iterdir() if MONTH.match(p.name) and (p / "summary.json").exists()),
        reverse=True,
    )


def _read(month: str, name: str) -> dict | None:
    try:
        return json.loads((reports_dir() / month / name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _latest_report() -> dict | None:
    for month in published_months():
        summary = _read(month, "summary.json")
        if summary:
            return {"month": month, **present(summary)}
    return None


@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    day, _now, problem = _day(request)
    months = published_months()
    this_year = [m for m in months if m.startswith(f"{day.year}-") and m <= day.strftime("%Y-%m")]
    dashboard = None
    if this_year:
        doc = _read(this_year[0], "ytd.json")
        if doc and doc.get("year_to_date"):
            dashboard = {
                "through": this_year[0],
                "months": doc.get("months", []),
                **present(doc["year_to_date"]),
                "trend_url": reverse(
                    "public-report-file", args=[this_year[0], "charts/monthly-trend.png"]
                )
                if (reports_dir() / this_year[0] / "charts" / "monthly-trend.png").exists()
                else None,
            }
    archive = []
    for m in months:
        archive.append(
            {
                "month": m,
                "first": dt.date.fromisoformat(f"{m}-01"),
                "pdf": (reports_dir() / m / "report.pdf").exists(),
            }
        )
    return render(
        request,
        "public/reports.html",
        _context(
            request,
            "reports",
            archive=archive,
            dashboard=dashboard,
            year=day.year,
            problem=problem,
            threshold=_threshold(),
        ),
    )


@require_GET
def report_month(request: HttpRequest, month: str) -> HttpResponse:
    if not MONTH.match(month):
        raise Http404("no such month")
    summary = _read(month, "summary.json")
    if summary is None:
        raise Http404("no report published for this month")
    folder = reports_dir() / month
    charts = {
        key: reverse("public-report-file", args=[month, f"charts/{name}"])
        for key, name in (
            ("heat", "hour-of-week.png"),
            ("dispositions", "dispositions.png"),
            ("response", "response-times.png"),
            ("map", "map.png"),
        )
        if (folder / "charts" / name).exists()
    }
    data = (
        sorted(p.name for p in (folder / "data").glob("*.csv"))
        if (folder / "data").is_dir()
        else []
    )
    return render(
        request,
        "public/report_month.html",
        _context(
            request,
            "reports",
            month=month,
            first=dt.date.fromisoformat(f"{month}-01"),
            charts=charts,
            data_files=data,
            pdf=(folder / "report.pdf").exists(),
            **present(summary),
        ),
    )


@require_GET
def report_file(request: HttpRequest, month: str, name: str) -> FileResponse:
    """A published file (PDF, JSON, CSV, chart); only names from the allowed list."""
    if not MONTH.match(month) or not DOWNLOADS.match(name):
        raise Http404("no such file")
    path = reports_dir() / month / name
    if not path.is_file():
        raise Http404("no such file")
    response = FileResponse(path.open("rb"), as_attachment=name.endswith((".csv", ".json")))
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response

"""Project-level endpoints that belong to no app: the CSP violation report sink."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

log = logging.getLogger("heart.csp")
MAX_REPORT_BYTES = 16_384


def _path(url: str) -> str:
    """A URL without its query string or fragment (they may carry personal data)."""
    if not url or "://" not in url:
        return (url or "")[:40]
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]


@csrf_exempt  # browsers post these without a token; nothing is stored
@require_POST
def csp_report(request):
    """Browsers report Content-Security-Policy violations here (report-uri): logged as
    a warning with the page and blocked resource (no query strings), nothing kept."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REPORT_BYTES:
        return HttpResponse(status=413)
    try:
        body = json.loads(request.body or b"{}")
        report = body.get("csp-report", body) if isinstance(body, dict) else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        report = {}
    if isinstance(report, dict):
        log.warning(
            "CSP violation: %s on %s blocked %s",
            str(report.get("violated-directive") or report.get("effective-directive"))[:60],
            _path(str(report.get("document-uri", ""))),
            _path(str(report.get("blocked-uri", ""))),
        )
    return HttpResponse(status=204)

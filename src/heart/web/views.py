"""Project-level endpoints that belong to no app: the CSP violation report sink, and the
friendly 403 page (which roles may open a page, and how to ask for access)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
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


def forbidden(request, exception=None):
    """handler403: for people, a page naming the roles that may open this one and how to
    ask for access; for API and script requests, JSON as before ({"detail": ...})."""
    from heart.accounts.forbidden import roles_for
    from heart.accounts.roles import ROLE_LABELS
    from heart.accounts.services import current_role

    reason = str(exception or "") or "your role may not open this page"
    wants_html = "text/html" in request.headers.get("Accept", "")
    if request.path.startswith("/api/") or not wants_html:
        return JsonResponse({"detail": reason}, status=403)
    user = request.user
    role = current_role(user) if user.is_authenticated else None
    allowed = roles_for(request.path) or []
    context = {
        "username": user.get_username() if user.is_authenticated else "",
        "your_role": ROLE_LABELS.get(role, role) if role else "",
        "allowed": [ROLE_LABELS[r] for r in allowed],
        "reason": reason[:200],
    }
    return render(request, "accounts/forbidden.html", context, status=403)

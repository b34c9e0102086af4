"""The Content-Security-Policy header (heart.web.csp): built once, yet the same as
django-csp's own, following the settings, and per-view policies still apply."""

from __future__ import annotations

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_exempt, csp_update
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from heart.web.csp import CSPMiddleware

HEADER = "Content-Security-Policy"


def _run(view, path="/somewhere"):
    middleware = CSPMiddleware(view)
    return middleware(RequestFactory().get(path))


def test_the_header_is_django_csps_own():
    r = _run(lambda request: HttpResponse("ok"))
    assert r[HEADER] == build_policy()
    assert "script-src 'self'" in r[HEADER] and "unsafe-inline" not in r[HEADER]


def test_the_header_follows_the_settings(settings):
    first = _run(lambda request: HttpResponse("ok"))[HEADER]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert _run(lambda request: HttpResponse("ok"))[HEADER] == "default-src 'none'"
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    r = _run(lambda request: HttpResponse("ok"))
    assert r["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    assert "img-src 'self'" in r["Content-Security-Policy-Report-Only"]
    assert first != r[HEADER]


def test_a_views_own_policy_and_exemption_still_apply():
    @csp_update({"img-src": ["https://tiles.example.org"]})
    def with_tiles(request):
        return HttpResponse("ok")

    @csp_exempt()
    def exempt(request):
        return HttpResponse("ok")

    assert "https://tiles.example.org" in _run(with_tiles)[HEADER]
    assert HEADER not in _run(exempt)


def test_a_header_the_view_set_is_kept():
    def own(request):
        response = HttpResponse("ok")
        response[HEADER] = "default-src 'none'"
        return response

    assert _run(own)[HEADER] == "default-src 'none'"


def test_a_nonce_asked_for_goes_into_the_header(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}

    def uses_nonce(request):
        return HttpResponse(str(request.csp_nonce))

    r = _run(uses_nonce)
    assert f"'nonce-{r.content.decode()}'" in r[HEADER]


def test_a_nonce_asked_for_after_the_header_is_an_error():
    from csp.exceptions import CSPNonceError

    request = RequestFactory().get("/x")
    middleware = CSPMiddleware(lambda req: HttpResponse("ok"))
    middleware(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)

"""Session policy for signed-in people (API bearer tokens never reach it):

* idle timeout: a session unused for longer than its role's limit is signed out
  (``HEART_IDLE_MINUTES`` for desk roles, ``HEART_RESPONDER_IDLE_MINUTES`` for
  responders), and no session outlives ``SESSION_COOKIE_AGE`` (a shift). The live pages
  ping /accounts/alive while they are on screen, so an open board never times out
  under a dispatcher's eyes; a forgotten tab or a copied cookie does.
* second factor: a person who enrolled a TOTP device, or whose role must use one
  (``HEART_REQUIRE_OTP`` + ``HEART_OTP_ROLES``), reaches nothing but the second-factor
  pages until the code is given.

Pages get a redirect to the sign-in (or second-factor) page, API and stream requests
a 401 JSON body. The idle stamp is written at most once a minute (no session write per
request).
"""

from __future__ import annotations

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from heart.accounts import otp

SEEN = "heart_seen"
SINCE = "heart_since"
IDLE = "heart_idle_seconds"
TOUCH_SECONDS = 60
# reachable before the second factor is given
_OPEN_PREFIXES = ("/accounts/otp/", "/accounts/logout/", "/static/", "/healthz", "/csp-report")


def idle_seconds(user) -> float:
    minutes = (
        settings.HEART_RESPONDER_IDLE_MINUTES
        if user.has_perm("accounts.respond")
        else settings.HEART_IDLE_MINUTES
    )
    return float(minutes) * 60


def _wants_json(request) -> bool:
    return request.path.startswith(
        ("/api/", "/live/")
    ) or "application/json" in request.headers.get("Accept", "")


def _refuse(request, detail: str, to: str, **params):
    if _wants_json(request):
        return JsonResponse({"detail": detail, "errors": []}, status=401)
    query = {"next": request.get_full_path(), **params}
    return redirect(f"{reverse(to)}?{urlencode(query)}")


def check(request):
    """A response refusing the request, or None to let it through."""
    user = request.user
    if not user.is_authenticated:
        return None
    session = request.session
    now = time.time()
    limit = session.get(IDLE)
    if limit is None:
        limit = session[IDLE] = idle_seconds(user)
    seen, since = session.get(SEEN), session.get(SINCE)
    if since is None:
        since = session[SINCE] = now
    if seen is not None and now - seen > limit:
        minutes = round(limit / 60)
        logout(request)
        return _refuse(
            request,
            f"signed out after {minutes} minutes without use; sign in again",
            "login",
            idle=minutes,
        )
    if now - since > settings.SESSION_COOKIE_AGE:
        logout(request)
        return _refuse(request, "the session has ended; sign in again", "login", ended=1)
    if seen is None or now - seen > TOUCH_SECONDS:
        session[SEEN] = now
        # the cookie and the stored session last as long as the idle limit allows
        session.set_expiry(int(min(limit + TOUCH_SECONDS, settings.SESSION_COOKIE_AGE)))
    if not request.path.startswith(_OPEN_PREFIXES) and otp.must_verify(request):
        if otp.has_device(user):
            return _refuse(request, "second factor required: /accounts/otp/verify", "otp-verify")
        return _refuse(request, "second factor required: enrol at /accounts/otp/", "otp-enrol")
    return None


class SessionPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            refused = check(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    async def __acall__(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            refused = await sync_to_async(check)(request)
            if refused is not None:
                return refused
        return await self.get_response(request)

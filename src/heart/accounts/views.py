"""Pages of the accounts app: second-factor enrolment and check, the supervisors'
sign-in security page (lockouts, unlock), and the live pages' keep-alive."""

from __future__ import annotations

import base64
import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from heart.accounts import lockout, otp
from heart.accounts.actors import Actor
from heart.accounts.models import AuditEntry
from heart.accounts.roles import ADMIN, SUPERVISOR


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return "/"
    return target


@never_cache
@login_required
def otp_verify(request):
    """The second step of signing in: a code from the authenticator app."""
    if not otp.has_device(request.user):
        return redirect("otp-enrol")
    error = None
    if request.method == "POST":
        if otp.verify(request, request.POST.get("token", "")):
            return redirect(_next(request))
        error = "That code is not right (or came too soon after a wrong one). Try the next code."
    return render(
        request,
        "accounts/otp_verify.html",
        {"error": error, "next": _next(request)},
        status=422 if error else 200,
    )


@never_cache
@login_required
def otp_enrol(request):
    """Enrol an authenticator app: scan the code (or type the key), confirm with a code."""
    device = otp.pending_device(request.user)
    error = None
    if request.method == "POST":
        if otp.confirm(request, request.POST.get("token", "")):
            return render(request, "accounts/otp_enrolled.html", {"next": _next(request)})
        error = "That code does not match. Check the phone's clock and try the next code."
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/otp_enrol.html",
        {
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "required": otp.role_requires(request.user),
            "enrolled": otp.has_device(request.user),
            "error": error,
            "next": _next(request),
        },
        status=422 if error else 200,
    )


@never_cache
@login_required
@require_GET
def otp_qr(request):
    """The pending device's otpauth:// URL as an SVG QR code (no secret in any URL)."""
    import qrcode
    import qrcode.image.svg

    device = otp.pending_device(request.user)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    image.save(buf)
    response = HttpResponse(buf.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


def _require_supervisor(user) -> None:
    if not (user.is_superuser or user.groups.filter(name__in=[SUPERVISOR, ADMIN]).exists()):
        raise PermissionDenied("supervisors and admins only")


@login_required
def security(request):
    """Sign-in lockouts now and in the last weeks; a supervisor can lift one."""
    _require_supervisor(request.user)
    if request.method == "POST":
        try:
            attempt_id = int(request.POST.get("attempt_id", ""))
        except ValueError:
            attempt_id = 0
        lockout.unlock(attempt_id=attempt_id, actor=Actor.for_user(request.user))
        return redirect("accounts-security")
    recent = AuditEntry.objects.filter(action__startswith="login.").order_by("-seq")[:100]
    return render(
        request,
        "accounts/security.html",
        {"locked": lockout.current_lockouts(), "recent": recent},
    )


@require_GET
def alive(request):
    """The live pages' keep-alive while on screen: 204 signed in, 401 not."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return HttpResponse(status=204)

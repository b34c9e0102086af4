"""Second factor (TOTP, django-otp): who must give one, enrolment and verification.

Optional for everyone: whoever enrols a device must give a code at every sign-in.
Required for the roles in ``HEART_OTP_ROLES`` (default supervisor, admin) and for
superusers when ``HEART_REQUIRE_OTP=1``: they are sent to enrol before anything else.
A lost phone: an admin deletes the device in the Django admin (OTP > TOTP devices) and
the person enrols again. Codes are checked with django-otp's own throttling (each wrong
code doubles the wait before the next one is accepted).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from heart.accounts.actors import Actor
from heart.accounts.models import AuditEntry

NEEDED = "heart_otp_needed"
DEVICE_NAME = "authenticator app"


def role_requires(user) -> bool:
    if not getattr(settings, "HEART_REQUIRE_OTP", False):
        return False
    roles = getattr(settings, "HEART_OTP_ROLES", ["supervisor", "admin"])
    return user.is_superuser or user.groups.filter(name__in=roles).exists()


def has_device(user) -> bool:
    return user_has_device(user, confirmed=True)


def must_verify(request) -> bool:
    """Whether this signed-in session still owes a second factor (cached per session)."""
    user = request.user
    needed = request.session.get(NEEDED)
    if needed is None:
        needed = request.session[NEEDED] = role_requires(user) or has_device(user)
    return bool(needed) and not user.is_verified()


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled (made once, kept until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def confirm(request, token: str) -> bool:
    """Check a code against the pending device; on success the device is confirmed,
    any older device removed and this session verified (audited)."""
    user = request.user
    device = pending_device(user)
    if not device.verify_token(token.strip().replace(" ", "")):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        AuditEntry.objects.create(
            actor=user,
            actor_label=Actor.for_user(user).label,
            action="otp.enrolled",
            object_type="user",
            object_id=str(user.pk),
            data={"device": device.name},
        )
    otp_login(request, device)
    request.session[NEEDED] = True
    return True


def verify(request, token: str) -> bool:
    """Verify this session with a code from one of the person's confirmed devices."""
    device = match_token(request.user, token.strip().replace(" ", ""))
    if device is None:
        return False
    otp_login(request, device)
    return True

"""Sign-in throttling with django-axes: who is locked out, for how long, and the audit.

* A user at one address is locked after ``AXES_FAILURE_LIMIT`` failed sign-ins, an
  address (any user) after ``HEART_LOGIN_ADDRESS_FAILURE_LIMIT``: the desks of a 911
  center share one public address, so one person's typos must not lock the room, and
  a lock by user name alone would let anyone on the internet lock a dispatcher out.
* Back-off: the lock lasts ``HEART_LOGIN_COOLOFF_MINUTES`` and doubles with every
  further failure (attempts while locked count), up to ``HEART_LOGIN_COOLOFF_MAX_MINUTES``.
* Every lockout writes an AuditEntry (``login.locked_out``); supervisors see recent
  lockouts on /accounts/security and can lift one there (``login.unlocked``).

The API's bearer tokens never pass through here (they are not sign-ins).
"""

from __future__ import annotations

import datetime as dt

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import AuditEntry


def _minutes(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def cool_off(request=None) -> dt.timedelta:
    """How long failed attempts count (AXES_COOLOFF_TIME): the base wait, doubled for
    every failure of this user at this address beyond the limit."""
    base = _minutes("HEART_LOGIN_COOLOFF_MINUTES", 5)
    cap = _minutes("HEART_LOGIN_COOLOFF_MAX_MINUTES", 60)
    over = 0
    if request is not None:
        username = get_client_username(request)
        ip = getattr(request, "axes_ip_address", None)
        if username and ip:
            failures = (
                AccessAttempt.objects.filter(username=username, ip_address=ip).aggregate(
                    n=Sum("failures_since_start")
                )["n"]
                or 0
            )
            over = max(0, failures - int(settings.AXES_FAILURE_LIMIT))
    return dt.timedelta(minutes=min(cap, base * 2 ** min(over, 20)))


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler with two limits: AXES_LOCKOUT_PARAMETERS is
    [[username, ip_address], ip_address]; the address count is scaled so that
    HEART_LOGIN_ADDRESS_FAILURE_LIMIT failures from one address reach the same lock."""

    def get_failures(self, request, credentials=None) -> int:
        counts = [
            qs.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for qs in self.get_user_attempts(request, credentials)
        ]
        if len(counts) != 2:  # configured otherwise: axes' own rule
            return max(counts, default=0)
        per_user_address, per_address = counts
        limit = int(settings.AXES_FAILURE_LIMIT)
        address_limit = max(1, int(getattr(settings, "HEART_LOGIN_ADDRESS_FAILURE_LIMIT", 50)))
        return max(per_user_address, per_address * limit // address_limit)


def lockout_response(request, original_response=None, credentials=None):
    """The 429 page (or JSON for API-style requests) a locked-out sign-in gets."""
    minutes = max(1, round(cool_off(request).total_seconds() / 60))
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        from django.http import JsonResponse

        return JsonResponse(
            {
                "detail": f"too many failed sign-ins; try again in {minutes} minutes "
                "or ask a supervisor to unlock",
                "errors": [],
            },
            status=429,
            headers={"Retry-After": str(minutes * 60)},
        )
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """axes' user_locked_out signal -> one AuditEntry per lockout (no password, no body).
    axes signals again at every try while locked; those extend the same lockout and are
    not written again (a flood of tries must not become a flood of audit rows)."""
    from django.utils import timezone

    username = (username or "")[:150]
    recent = timezone.now() - cool_off(request)
    if AuditEntry.objects.filter(
        action="login.locked_out",
        object_id=username[:40],
        at__gte=recent,
        data__ip=ip_address or "",
    ).exists():
        return
    AuditEntry.objects.create(
        actor=None,
        actor_label=SYSTEM.label,
        action="login.locked_out",
        object_type="login",
        object_id=username[:40],
        data={
            "username": username,
            "ip": ip_address or "",
            "path": getattr(request, "path", "")[:100],
            "minutes": round(cool_off(request).total_seconds() / 60, 1),
        },
    )


def current_lockouts() -> list[dict]:
    """Users and addresses locked right now (for the supervisors' page)."""
    from axes.handlers.proxy import AxesProxyHandler  # noqa: F401 (axes' handler set-up)
    from django.utils import timezone

    now = timezone.now()
    rows = []
    for a in AccessAttempt.objects.select_related("expiration").order_by("-attempt_time")[:200]:
        expires = getattr(getattr(a, "expiration", None), "expires_at", None)
        if expires is not None and expires <= now:
            continue
        if a.failures_since_start < int(settings.AXES_FAILURE_LIMIT):
            continue
        rows.append(
            {
                "id": a.pk,
                "username": a.username or "",
                "ip": a.ip_address or "",
                "failures": a.failures_since_start,
                "last": a.attempt_time,
                "until": expires,
            }
        )
    return rows


def unlock(*, attempt_id: int, actor: Actor) -> int:
    """Lift a lockout (a supervisor's act, audited); how many attempt rows were cleared."""
    a = AccessAttempt.objects.filter(pk=attempt_id).first()
    if a is None:
        return 0
    count, _ = AccessAttempt.objects.filter(username=a.username, ip_address=a.ip_address).delete()
    AuditEntry.objects.create(
        actor=actor.user,
        actor_label=actor.label,
        action="login.unlocked",
        object_type="login",
        object_id=(a.username or "")[:40],
        data={"username": a.username or "", "ip": a.ip_address or ""},
    )
    return count

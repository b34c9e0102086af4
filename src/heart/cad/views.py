"""The CAD write-back page (/staff/cad/): dead letters, replay and discard (admin role)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from heart.accounts.actors import Actor
from heart.cad import config, selectors, services
from heart.cad.models import OutboxMessage
from heart.errors import ServiceError


def _need_admin(request) -> None:
    if not request.user.has_perm("accounts.manage_integrations"):
        raise PermissionDenied("your role may not look after the CAD write-back")


@login_required
@require_GET
def dead_letters(request):
    _need_admin(request)
    cfg = config.cad() if config.enabled() else None
    kinds = {
        "unit_status": _("Unit status"),
        "disposition": _("Call closed (disposition)"),
        "backup_request": _("Police backup request"),
        "route_override": _("Route override"),
    }
    rows = selectors.dead_letters()
    for m in rows:
        m.kind_label = kinds.get(m.kind, m.kind)
        what, _sep, number = m.stream.partition(":")
        m.stream_label = (_("Call %(n)s") if what == "call" else _("Team %(n)s")) % {"n": number}
    states = dict(OutboxMessage.State.choices)
    counts = [(states[k], n) for k, n in selectors.counts().items()]
    return render(
        request,
        "cad/dead_letters.html",
        {"rows": rows, "counts": counts, "cfg": cfg},
    )


def _act(request, message_id: int, action, done: str):
    _need_admin(request)
    m = OutboxMessage.objects.filter(pk=message_id).first()
    if m is None:
        messages.error(request, _("message: no message %(id)s") % {"id": message_id})
        return redirect("cad-dead-letters")
    try:
        action(message=m, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("cad-dead-letters")
    messages.success(request, done % {"id": m.pk})
    return redirect("cad-dead-letters")


@login_required
@require_POST
def replay(request, message_id: int):
    return _act(request, message_id, services.replay, _("Message %(id)s will be sent again."))


@login_required
@require_POST
def discard(request, message_id: int):
    return _act(request, message_id, services.discard, _("Message %(id)s was discarded."))

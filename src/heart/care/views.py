"""Care navigator pages (HTML, CSRF-protected): the queue, a follow-up, a person.

Every page showing person details writes PersonAudit rows through the selectors.
A refused input shows the service's message (naming the field) and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.care import selectors, services
from heart.care.access import can_merge_people, can_supervise_people, client_ip
from heart.care.fhir import person_bundle_json
from heart.care.models import SERVICES
from heart.domain.care import CHANNELS, OUTCOMES
from heart.errors import Forbidden, Invalid, NotFound, ServiceError


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _guard(fn):
    """Forbidden -> 403 page, NotFound -> 404 page (never a 500)."""

    def wrapped(request, *args, **kwargs):
        try:
            return fn(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except NotFound as exc:
            return HttpResponse(exc.message, status=404, content_type="text/plain")
        except Invalid as exc:  # e.g. a mangled ?cursor=
            return HttpResponse(exc.message, status=400, content_type="text/plain")

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return login_required(wrapped)


@_guard
def queue(request):
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    q = selectors.queue_page(
        actor=_actor(request), page=page, ip=client_ip(request), what="page:queue"
    )
    return render(request, "care/queue.html", {"q": q})


def _post_action(request, action) -> bool:
    try:
        action()
        return True
    except ServiceError as exc:
        if isinstance(exc, Forbidden):
            raise
        messages.error(request, exc.message)
        return False


def _field_action(action, errors: dict, fields: tuple[str, ...]) -> bool:
    """Run a service call; a refusal goes beside its field (``errors[path]``), or under
    the form (``errors["form"]``) when it names no field of this form."""
    try:
        action()
        return True
    except ServiceError as exc:
        if isinstance(exc, Forbidden):
            raise
        errors[exc.path if exc.path in fields else "form"] = exc.message
        return False


ATTEMPT_FIELDS = ("channel", "outcome", "note")
REFERRAL_FIELDS = ("provider_id", "service", "note")


def _attempt(task_id, actor, post, ip):
    outcome = post.get("outcome", "")
    if not outcome:  # no default: a navigator says what happened
        raise Invalid("outcome: choose what happened on this attempt", path="outcome")
    channel = post.get("channel", "")
    if not channel:
        raise Invalid("channel: choose how you tried to reach them", path="channel")
    return services.log_attempt(
        task_id=task_id,
        actor=actor,
        channel=channel,
        outcome=outcome,
        note=post.get("note", ""),
        consent_share=True if post.get("consent_share") == "on" else None,
        ip=ip,
    )


def _referral(task_id, actor, post, ip):
    raw = post.get("provider_id", "")
    if not raw.isdigit():
        raise Invalid(
            "provider_id: choose a provider (add one on the provider directory)",
            path="provider_id",
        )
    return services.create_referral(
        actor=actor,
        task_id=task_id,
        provider_id=int(raw),
        service=post.get("service", ""),
        note=post.get("note", ""),
        ip=ip,
    )


@_guard
def task(request, task_id: int):
    actor, ip = _actor(request), client_ip(request)
    status = 200
    errors: dict[str, str] = {}
    op = ""
    if request.method == "POST":
        op = request.POST.get("op", "")
        if op == "take":
            ok = _post_action(request, lambda: services.take_task(task_id=task_id, actor=actor))
        elif op == "attempt":
            ok = _field_action(
                lambda: _attempt(task_id, actor, request.POST, ip), errors, ATTEMPT_FIELDS
            )
        elif op == "referral":
            ok = _field_action(
                lambda: _referral(task_id, actor, request.POST, ip), errors, REFERRAL_FIELDS
            )
        else:
            messages.error(request, f"op: unknown action {op!r}")
            ok = False
        if ok:
            messages.success(request, "Saved.")
            return redirect("care-task", task_id=task_id)
        status = 409 if op == "take" else 422
    t = selectors.task_for(task_id=task_id, actor=actor, ip=ip, what="page:task")
    return render(
        request,
        "care/task.html",
        {
            "t": t,
            "now": timezone.now(),
            "channels": [(c, c.replace("_", " ").capitalize()) for c in CHANNELS],
            "outcomes": [(k, v[1]) for k, v in OUTCOMES.items()],
            "providers": selectors.active_providers(),
            "services": SERVICES,
            "mine": t.taken_by_id == request.user.pk,
            "can_edit_providers": can_merge_people(actor),
            "op": op,
            "errors": errors,
            "posted": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


# ------------------------------------------------------------------ provider directory

PROVIDER_FIELDS = ("name", "services", "hours", "address", "phone", "walk_in", "languages")


def _provider_input(post) -> dict:
    return {
        "name": post.get("name", ""),
        "services": post.getlist("services"),
        "hours": post.get("hours", ""),
        "address": post.get("address", ""),
        "phone": post.get("phone", ""),
        "walk_in": post.get("walk_in") == "on",
        "languages": [x for x in post.get("languages", "").replace(",", " ").split() if x],
    }


def _provider_form_values(p=None, post=None) -> dict:
    if post is not None:
        v = _provider_input(post)
        v["languages"] = post.get("languages", "")
        return v
    if p is None:
        return {"services": [], "languages": "en", "walk_in": False}
    return {
        "name": p.name,
        "services": p.services,
        "hours": p.hours,
        "address": p.address,
        "phone": p.phone,
        "walk_in": p.walk_in,
        "languages": ", ".join(p.languages),
    }


@_guard
def providers(request):
    """The provider directory: every provider (active first) and a form to add one.
    Care navigators, supervisors and admins (the people who refer)."""
    actor = _actor(request)
    rows = selectors.directory(actor=actor)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        ok = _field_action(
            lambda: services.create_provider(actor=actor, **_provider_input(request.POST)),
            errors,
            PROVIDER_FIELDS,
        )
        if ok:
            messages.success(request, "Provider added.")
            return redirect("care-providers")
        status = 422
    return render(
        request,
        "care/providers.html",
        {
            "rows": rows,
            "errors": errors,
            "v": _provider_form_values(post=request.POST if request.method == "POST" else None),
            "services": SERVICES,
        },
        status=status,
    )


@_guard
def provider_edit(request, provider_id: int):
    actor = _actor(request)
    p = selectors.provider(actor=actor, provider_id=provider_id)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "save")
        if op in ("deactivate", "activate"):
            ok = _field_action(
                lambda: services.set_provider_active(
                    actor=actor,
                    provider_id=p.pk,
                    active=op == "activate",
                    reason=request.POST.get("reason", ""),
                ),
                errors,
                ("reason",),
            )
        elif op == "save":
            ok = _field_action(
                lambda: services.update_provider(
                    actor=actor, provider_id=p.pk, **_provider_input(request.POST)
                ),
                errors,
                PROVIDER_FIELDS,
            )
        else:
            errors["form"] = f"op: unknown action {op!r}"
            ok = False
        if ok:
            messages.success(request, "Saved.")
            return redirect("care-providers")
        status = 422
    return render(
        request,
        "care/provider.html",
        {
            "p": p,
            "errors": errors,
            "v": _provider_form_values(p, request.POST if request.method == "POST" else None),
            "services": SERVICES,
        },
        status=status,
    )


@_guard
def person(request, person_id: int):
    actor, ip = _actor(request), client_ip(request)
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        raw = request.POST.get("id", "")
        n = int(raw) if raw.isdigit() else None
        if op == "merge":
            ok = _post_action(
                request,
                lambda: services.merge_people(
                    survivor_id=person_id, duplicate_id=n, actor=actor, ip=ip
                ),
            )
        elif op == "unmerge":
            ok = _post_action(
                request, lambda: services.unmerge_people(merge_id=n, actor=actor, ip=ip)
            )
        else:
            messages.error(request, f"op: unknown action {op!r}")
            ok = False
        if ok:
            messages.success(request, "Saved.")
            return redirect("care-person", person_id=person_id)
        status = 422
    p = selectors.person_for(person_id=person_id, actor=actor, ip=ip, what="page:person")
    ctx = {
        "p": p,
        "repeat": selectors.repeat_for_person(p),
        "timeline": selectors._timeline(p),
        "duplicates": selectors.duplicates_for(person_id=p.pk, actor=actor, ip=ip)
        if p.active
        else [],
        "merges": selectors.merges_for(p),
        "can_merge": can_merge_people(actor),
        "supervisor": can_supervise_people(actor),
    }
    return render(request, "care/person.html", ctx, status=status)


@_guard
def person_audit(request, person_id: int):
    page = selectors.who_viewed(
        person_id=person_id,
        actor=_actor(request),
        ip=client_ip(request),
        cursor=request.GET.get("cursor") or None,
        limit=200,
    )
    return render(
        request, "care/audit.html", {"rows": page.items, "page": page, "person_id": person_id}
    )


@_guard
def person_fhir(request, person_id: int):
    p = selectors.person_for(
        person_id=person_id, actor=_actor(request), ip=client_ip(request), what="page:fhir"
    )
    resp = HttpResponse(
        person_bundle_json(p, now=timezone.now()), content_type="application/fhir+json"
    )
    resp["Content-Disposition"] = f'attachment; filename="person-{p.pk}-referrals.json"'
    return resp


@login_required
def sla(request):
    """Follow-up timeliness per ISO week and per navigator (aggregates, no person data)."""
    if not (
        request.user.has_perm("accounts.view_reports")
        or request.user.has_perm("accounts.follow_up")
    ):
        raise PermissionDenied("your role does not see follow-up reports")
    return render(request, "care/sla.html", {"r": selectors.sla()})

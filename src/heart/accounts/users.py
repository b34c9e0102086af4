"""The users page (/accounts/users): supervisors and admins create sign-ins, set their
role and deactivate them, all through heart.accounts.services (checked and audited).
Only an admin may make an admin or change one (the service says so)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from heart.accounts.actors import Actor
from heart.accounts.models import Discipline
from heart.accounts.roles import ROLE_LABELS, ROLES
from heart.accounts.services import create_user, current_role, set_active, set_role
from heart.errors import ServiceError

ROLE_CHOICES = [(r, ROLE_LABELS[r]) for r in ROLES]


class NewUserForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Sign-in name"), max_length=150)
    password = forms.CharField(
        label=gettext_lazy("First password (at least 12 characters)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)
    discipline = forms.ChoiceField(
        label=gettext_lazy("Discipline (responders)"),
        choices=[("", "—"), *Discipline.choices],
        required=False,
    )
    email = forms.EmailField(label=gettext_lazy("E-mail (optional)"), required=False)


def _need(request) -> None:
    if not request.user.has_perm("accounts.manage_users"):
        raise PermissionDenied("your role may not manage sign-ins and roles")


def _page(request, *, form=None, status=200):
    User = get_user_model()
    users = list(
        User.objects.prefetch_related("groups")
        .select_related("heart_profile")
        .order_by("-is_active", "username")
    )
    for u in users:
        role = current_role(u)
        u.role_code = role or ""
        u.role_label = ROLE_LABELS.get(role, _("no role")) if role else _("no role")
        profile = getattr(u, "heart_profile", None)
        u.discipline_label = (
            profile.get_discipline_display() if profile and profile.discipline else ""
        )
    return render(
        request,
        "accounts/users.html",
        {"users": users, "form": form or NewUserForm(), "roles": ROLE_CHOICES},
        status=status,
    )


@login_required
@require_GET
def users(request):
    _need(request)
    return _page(request)


@login_required
@require_POST
def new_user(request):
    _need(request)
    form = NewUserForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    d = form.cleaned_data
    try:
        u = create_user(
            username=d["username"],
            password=d["password"],
            role=d["role"],
            discipline=d["discipline"],
            email=d["email"],
            actor=Actor.for_user(request.user),
        )
    except ServiceError as exc:
        field = exc.path if exc.path in form.fields else None
        text = exc.message
        if exc.path and text.startswith(exc.path + ": "):
            text = text[len(exc.path) + 2 :]
        form.add_error(field, text)
        return _page(request, form=form, status=exc.status)
    messages.success(request, _("Sign-in %(name)s created.") % {"name": u.get_username()})
    return redirect("accounts-users")


def _user_or_none(request, user_id: int):
    u = get_user_model().objects.filter(pk=user_id).first()
    if u is None:
        messages.error(request, _("user: no user %(id)s") % {"id": user_id})
    return u


@login_required
@require_POST
def change_role(request, user_id: int):
    _need(request)
    u = _user_or_none(request, user_id)
    if u is None:
        return redirect("accounts-users")
    role = request.POST.get("role", "")
    try:
        set_role(user=u, role=role, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("accounts-users")
    messages.success(
        request,
        _("%(name)s is now %(role)s.") % {"name": u.get_username(), "role": ROLE_LABELS[role]},
    )
    return redirect("accounts-users")


@login_required
@require_POST
def change_active(request, user_id: int):
    _need(request)
    u = _user_or_none(request, user_id)
    if u is None:
        return redirect("accounts-users")
    active = request.POST.get("active") == "1"
    try:
        set_active(user=u, active=active, actor=Actor.for_user(request.user))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("accounts-users")
    done = _("%(name)s can sign in again.") if active else _("%(name)s can no longer sign in.")
    messages.success(request, done % {"name": u.get_username()})
    return redirect("accounts-users")

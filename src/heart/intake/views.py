"""Call-taker form (HTML, CSRF-protected). The board and responder pages live elsewhere."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from heart.accounts.actors import Actor
from heart.domain.triage import CallInput
from heart.intake.forms import CallForm
from heart.intake.services import receive_call


@login_required
def new_call(request):
    if not request.user.has_perm("accounts.intake_call"):
        raise PermissionDenied("your role may not enter calls")
    result = None
    if request.method == "POST":
        form = CallForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            result = receive_call(
                call=CallInput(
                    received_at=d["received_at"],
                    nature=d["nature"],
                    priority=d["priority"] or None,
                    lon=d["lon"],
                    lat=d["lat"],
                    beat=d["beat"] or None,
                    narrative=d["narrative"] or None,
                    weapon_flag=d["weapon_flag"] or None,
                    violence_flag=d["violence_flag"] or None,
                ),
                actor=Actor.for_user(request.user),
                source="call_taker",
                address=d["address"],
            )
            form = CallForm()
    else:
        form = CallForm()
    status = 422 if request.method == "POST" and result is None else 200
    return render(request, "intake/call_form.html", {"form": form, "result": result}, status=status)

"""Call-taker form (HTML, CSRF-protected). The board and responder pages live elsewhere.

After saving, the page shows the saved call (its route and reasons in words) above an
empty form for the next call, and says so: the browser is sent to ``?saved=<id>`` (a
reload never enters the call twice)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from heart.accounts.actors import Actor
from heart.calls.models import Call, TimelineEvent
from heart.domain.triage import CallInput
from heart.errors import ServiceError
from heart.intake import locate
from heart.intake.forms import CallForm
from heart.intake.services import receive_call
from heart.program_in_force import current_program

# words the page's script shows (translated here, passed as JSON)
LABELS = {
    "looking": _("Looking up…"),
    "silent": _("The address lookup did not answer: click the map to place the call."),
    "noMatch": _("No match for “{q}”: check the spelling, or click the map to place the call."),
    "matches": _("{n} match(es): the best is placed on the map."),
    "score": _("score"),
    "saveUnknown": _("Save with location unknown"),
    "point": _("Call point"),
}


def _location_reasons(d: dict) -> tuple[dict, ...]:
    if d["lon"] is None:
        return ()
    if d.get("location_how") == "geocoder" and d.get("location_label"):
        return (
            locate.located_reason(
                label=d["location_label"],
                score=d["location_score"] if d.get("location_score") is not None else 0.0,
                source=d.get("location_source") or "the address lookup",
            ),
        )
    if d.get("location_how") == "map":
        return (locate.placed_on_map_reason(),)
    return ()


def _saved(request, actor: Actor) -> dict | None:
    """The call this person just saved (``?saved=<id>``): route, reasons, what happened next."""
    raw = request.GET.get("saved", "")
    if not raw.isdigit():
        return None
    c = Call.objects.filter(pk=int(raw), source_key=actor.source_key).first()
    if c is None:
        return None
    lines = list(
        c.timeline.filter(
            kind__in=[
                TimelineEvent.Kind.RECOMMENDED,
                TimelineEvent.Kind.FELL_BACK,
                TimelineEvent.Kind.WAITING,
            ]
        ).order_by("at", "id")
    )
    return {"call": c, "lines": lines}


@login_required
def new_call(request):
    if not request.user.has_perm("accounts.intake_call"):
        raise PermissionDenied("your role may not enter calls")
    program = current_program()
    actor = Actor.for_user(request.user)
    error = None
    if request.method == "POST":
        form = CallForm(request.POST, program=program)
        if form.is_valid():
            d = form.cleaned_data
            try:
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
                    actor=actor,
                    program=program,
                    source="call_taker",
                    address=d["address"],
                    callback=d["callback"],
                    location_reasons=_location_reasons(d),
                )
            except ServiceError as exc:
                error = exc.message
            else:
                return redirect(f"{reverse('call-new')}?saved={result.call.pk}")
    else:
        form = CallForm(program=program)
    team = program.team_unit
    context = {
        "form": form,
        "error": error,
        "saved": _saved(request, actor) if request.method == "GET" else None,
        "call_types": program.call_types(),
        "other": "OTHER",
        "team_label": program.units[team].label if team else "team",
        "map_config": {
            "areaUrl": reverse("board-areas"),
            "tiles": getattr(settings, "HEART_MAP_TILES", ""),
            "geocodeUrl": "/api/geocode",
            "geocoder": locate.configured(),
            "t": {k: str(v) for k, v in LABELS.items()},
        },
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "intake/call_form.html", context, status=status)

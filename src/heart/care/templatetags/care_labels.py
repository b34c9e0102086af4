"""Human words for the codes the care pages show ({{ value|human }}): attempt channels and
outcomes, encounter modes and outcomes, task and referral states, services. An unknown
code still reads as words ("some_code" -> "Some code"), never as the raw value."""

from __future__ import annotations

from functools import cache

from django import template

register = template.Library()


@cache
def _labels() -> dict[str, str]:
    from heart.calls.models import CcdOutcome, Disposition
    from heart.care.models import SERVICES, Encounter, FollowUpTask, Referral
    from heart.domain.care import CHANNELS, OUTCOMES

    out: dict[str, str] = {}
    for choices in (
        Disposition.Outcome.choices,
        CcdOutcome.Outcome.choices,
        Encounter.Mode.choices,
        Encounter.Source.choices,
        FollowUpTask.State.choices,
        Referral.Status.choices,
        SERVICES,
    ):
        out.update({k: str(v) for k, v in choices})
    out.update({c: c.replace("_", " ").capitalize() for c in CHANNELS})
    out.update({k: v[1] for k, v in OUTCOMES.items()})
    return out


def human_label(value) -> str:
    code = "" if value is None else str(value)
    return _labels().get(code) or code.replace("_", " ").strip().capitalize()


@register.filter
def human(value) -> str:
    return human_label(value)

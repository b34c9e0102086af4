"""Public words for what the program file names in English: call-type categories and
service areas. Known keys are translated here; anything else is shown as the program
file words it, marked as English (lang="en") on a Spanish page."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from heart.domain.geo import Area
from heart.domain.program import Program

CATEGORIES = {
    "mental_health_crisis": _("a mental health crisis"),
    "suicide_threat": _("thoughts of suicide, with no weapon"),
    "trespass_unwanted": _("someone trespassing or not welcome somewhere"),
    "welfare_check": _("a check on someone's wellbeing"),
    "intoxicated_person": _("someone who is intoxicated"),
    "panhandling": _("panhandling"),
    "nuisance": _("a nuisance complaint"),
    "indecency": _("public indecency, such as public urination"),
    "verbal_disturbance": _("a dispute or disturbance with no violence"),
}
AREAS = {
    "city": _("the whole city"),
    "pilot": _("the pilot area (part of the city)"),
}


@dataclass(frozen=True)
class Text:
    text: str
    lang: str | None  # set when the words are not in the page's language


def _text(table: dict, key: str, fallback: str) -> Text:
    if key in table:
        return Text(str(table[key]), None)
    return Text(fallback, "en" if get_language() != "en" else None)


def categories(program: Program) -> list[Text]:
    return [_text(CATEGORIES, k, c.label) for k, c in program.categories.items()]


def area_label(area: Area) -> Text:
    return _text(AREAS, area.key, area.label)

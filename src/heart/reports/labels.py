"""Words for the keys the measures use (translated: the public site shows them in
English and Spanish; the report files use the language they are written in)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ROUTES = {
    "crt": _("Community response team"),
    "co_response": _("Co-response (clinician with police)"),
    "ccd": _("Crisis call diversion (by phone)"),
    "standard": _("Police (standard response)"),
}
MISSED = {
    "override": _("Dispatcher override"),
    "no_team_free": _("No team free"),
    "out_of_hours": _("Outside operating hours"),
    "out_of_area": _("Outside the service area"),
    "location_unknown": _("Location unknown"),
    "not_reached": _("Team sent but did not arrive"),
}
DISPOSITIONS = {
    "resolved_on_scene": _("Resolved on scene"),
    "transported": _("Transported to care"),
    "referred": _("Referred to services"),
    "refused": _("Refused services"),
    "unable_to_locate": _("Unable to locate"),
    "police_took_over": _("Police took over"),
    "other": _("Other"),
    "not_recorded": _("Not recorded"),
}
CRISIS_LINE = {
    "resolved_by_phone": _("Resolved by phone"),
    "send_team": _("Team sent"),
    "hand_back": _("Handed back to police"),
}
BASIS = {
    "live": _("Recorded by the program's dispatch system"),
    "responses": _("A crisis team's own dispatch records"),
    "cad": _("A 911 (CAD) export replayed through the program's rules"),
}
WEEKDAYS = {
    "Mon": _("Mon"),
    "Tue": _("Tue"),
    "Wed": _("Wed"),
    "Thu": _("Thu"),
    "Fri": _("Fri"),
    "Sat": _("Sat"),
    "Sun": _("Sun"),
}


def label(table: dict, key: str) -> str:
    return str(table.get(key, key.replace("_", " ")))

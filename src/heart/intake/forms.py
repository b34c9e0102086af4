"""The call-taker form: a call typed in directly (no CAD).

The call type and priority come from the program in force (a searchable list and a
choice, never free text); the point comes from the address lookup or the map, and the
form says which (``location_how``, with the match's words, score and source), so the
stored call's reasons tell where its point came from."""

from __future__ import annotations

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from heart.domain.program import Program

OTHER = "OTHER"
_PHONE = re.compile(r"^\+?[0-9(][0-9 ().\-]{2,30}[0-9]$")


class CallForm(forms.Form):
    nature = forms.CharField(
        label=_("Call type"),
        max_length=120,
        help_text=_("Type to search the program's call types"),
        widget=forms.TextInput(attrs={"list": "call-types", "autocomplete": "off"}),
    )
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    received_at = forms.DateTimeField(
        label=_("Received at"),
        required=False,
        help_text=_("Leave empty for now"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    callback = forms.CharField(
        label=_("Callback number"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    beat = forms.CharField(label=_("Beat"), max_length=20, required=False)
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    lon = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    narrative = forms.CharField(
        label=_("Narrative"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    weapon_flag = forms.BooleanField(required=False, label=_("Weapon involved"))
    violence_flag = forms.BooleanField(required=False, label=_("Violence toward others"))
    # where the point came from (filled by the page's lookup and map)
    location_how = forms.ChoiceField(
        required=False,
        choices=[("", ""), ("geocoder", "geocoder"), ("map", "map")],
        widget=forms.HiddenInput,
    )
    location_label = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)
    location_source = forms.CharField(required=False, max_length=120, widget=forms.HiddenInput)
    location_score = forms.FloatField(
        required=False, min_value=0, max_value=1, widget=forms.HiddenInput
    )

    def __init__(self, *args, program: Program, **kwargs):
        super().__init__(*args, **kwargs)
        self.program = program
        self.fields["priority"].choices = [("", _("(none)"))] + [(p, p) for p in program.priorities]
        self.codes = {code.upper(): code for code, _ in program.call_types()}

    def clean_nature(self) -> str:
        value = " ".join(self.cleaned_data["nature"].split())
        code = self.codes.get(value.upper())
        if code is None and value.upper() == OTHER:
            return OTHER
        if code is None:
            raise forms.ValidationError(
                _(
                    "Choose a call type from the program's list (type a few letters to "
                    "search); for a call type the program does not know choose OTHER."
                )
            )
        return code

    def clean_callback(self) -> str:
        value = self.cleaned_data["callback"].strip()
        if value and not _PHONE.match(value):
            raise forms.ValidationError(
                _("A phone number: digits, spaces, dashes, dots or brackets.")
            )
        return value

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            raise forms.ValidationError(_("Give both longitude and latitude, or neither."))
        if not data.get("received_at"):
            data["received_at"] = timezone.now()
        elif timezone.is_naive(data["received_at"]):
            data["received_at"] = timezone.make_aware(data["received_at"])
        return data

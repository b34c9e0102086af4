"""Forms of the responder and crisis-line pages (CSRF-protected, server-validated)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from heart.calls.models import CcdOutcome, Disposition
from heart.domain.dispatch import UnitState


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.value) for s in UnitState])


class BackupForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)


class DispositionForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=Disposition.Outcome.choices, widget=forms.RadioSelect
    )
    destination = forms.CharField(
        label=_("Destination (when transported)"), max_length=200, required=False
    )
    referred_to = forms.CharField(label=_("Referred to"), max_length=200, required=False)
    notes = forms.CharField(
        label=_("Notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    consent_follow_up = forms.BooleanField(label=_("Consents to follow-up"), required=False)
    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    contact_notes = forms.CharField(
        label=_("Contact notes"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CcdOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=CcdOutcome.Outcome.choices)
    notes = forms.CharField(max_length=5000, required=False)

"""Forms of the responder and crisis-line pages (CSRF-protected, server-validated)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from heart.calls.models import CcdOutcome, Disposition
from heart.domain.dispatch import UnitState


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.value) for s in UnitState])
    # the phone's own key for this tap (replays of a queued tap carry the same one)
    idempotency_key = forms.CharField(max_length=64, required=False)


class BackupForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)


class DescribedErrorsForm(forms.Form):
    """A field with an error points at it (aria-describedby="err-<name>", shown beside
    the field by the template) and says it is invalid (aria-invalid)."""

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-describedby": f"err-{name}", "aria-invalid": "true"}
                )

    def add_error(self, field, error):
        super().add_error(field, error)
        if field in self.fields:
            self.fields[field].widget.attrs.update(
                {"aria-describedby": f"err-{field}", "aria-invalid": "true"}
            )


class DispositionForm(DescribedErrorsForm):
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
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    contact_notes = forms.CharField(
        label=_("Contact notes"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CcdOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=CcdOutcome.Outcome.choices)
    notes = forms.CharField(max_length=5000, required=False)

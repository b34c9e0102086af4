"""Forms of the staffing page (supervisors): a shift with its positions, a training
record. Server-validated; the services decide (discipline, training, double-booking)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from heart.accounts.models import Discipline
from heart.accounts.roles import RESPONDER
from heart.teams.models import Team

LOCAL_MINUTE = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


def responders(discipline: str | None = None):
    qs = get_user_model().objects.filter(is_active=True, groups__name=RESPONDER)
    if discipline:
        qs = qs.filter(heart_profile__discipline=discipline)
    return qs.order_by("username").distinct()


class PersonChoice(forms.ModelChoiceField):
    """A responder, labelled with what the page knows about their training."""

    def __init__(self, *args, notes: dict[int, str] | None = None, **kwargs):
        self.notes = notes or {}
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj) -> str:
        note = self.notes.get(obj.pk)
        return f"{obj.get_username()}{' — ' + note if note else ''}"


class ShiftForm(forms.Form):
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.filter(active=True).order_by("name")
    )
    starts_at = forms.DateTimeField(
        label=_("Starts"),
        input_formats=LOCAL_MINUTE,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE[0]),
    )
    ends_at = forms.DateTimeField(
        label=_("Ends"),
        input_formats=LOCAL_MINUTE,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE[0]),
    )

    def __init__(self, *args, notes: dict[int, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # one position per discipline; each lists the responders of that discipline
        for value, label in Discipline.choices:
            self.fields[value] = PersonChoice(
                label=label, queryset=responders(value), required=False, notes=notes
            )

    def clean(self):
        data = super().clean()
        if not any(data.get(v) for v in Discipline.values):
            raise forms.ValidationError(_("Choose at least one person."))
        return data

    def members(self) -> list[tuple[object, str]]:
        """(person, discipline) in position order; the field names give the order back."""
        return [(self.cleaned_data[v], v) for v in Discipline.values if self.cleaned_data.get(v)]


class TrainingRecordForm(forms.Form):
    person = PersonChoice(label=_("Person"), queryset=responders())
    training = forms.ChoiceField(label=_("Training"))
    completed_on = forms.DateField(
        label=_("Completed on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    expires_on = forms.DateField(
        label=_("Certificate expires on (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    note = forms.CharField(
        label=_("Note (provider, certificate number)"), max_length=200, required=False
    )

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["training"].choices = [
            (t.key, f"{t.label} (renew every {t.renew_every_months} months)")
            for t in program.trainings.values()
        ]


class TeamForm(forms.Form):
    """A team: its name, the program's field unit it serves, and whether it is in use."""

    name = forms.CharField(label=_("Name"), max_length=60)
    unit_key = forms.ChoiceField(label=_("Serves"))
    active = forms.BooleanField(label=_("In service (on the board)"), required=False, initial=True)

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit_key"].choices = [
            (k, u.label) for k, u in program.units.items() if u.kind in ("team", "co_response")
        ]


class ShiftEndForm(forms.Form):
    """A shift's new end (longer or shorter); the service checks training and overlaps."""

    ends_at = forms.DateTimeField(
        label=_("New end"),
        input_formats=LOCAL_MINUTE,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE[0]),
    )

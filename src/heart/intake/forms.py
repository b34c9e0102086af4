"""The call-taker form: a call typed in directly (no CAD)."""

from __future__ import annotations

from django import forms
from django.utils import timezone


class CallForm(forms.Form):
    nature = forms.CharField(max_length=120, help_text="CAD nature code, e.g. CRISIS")
    priority = forms.CharField(max_length=20, required=False)
    received_at = forms.DateTimeField(
        required=False, help_text="Leave empty for now", widget=forms.DateTimeInput()
    )
    address = forms.CharField(max_length=300, required=False)
    beat = forms.CharField(max_length=20, required=False)
    lon = forms.FloatField(required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    narrative = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    weapon_flag = forms.BooleanField(required=False, label="Weapon involved")
    violence_flag = forms.BooleanField(required=False, label="Violence toward others")

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            raise forms.ValidationError("Give both longitude and latitude, or neither.")
        if not data.get("received_at"):
            data["received_at"] = timezone.now()
        elif timezone.is_naive(data["received_at"]):
            data["received_at"] = timezone.make_aware(data["received_at"])
        return data

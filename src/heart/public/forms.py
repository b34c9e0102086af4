"""The coverage check: an address (when a geocoder is configured) or a point."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CoverageForm(forms.Form):
    address = forms.CharField(
        label=_("Street address"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)

    def __init__(self, *args, with_address: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_address = with_address
        if not with_address:
            del self.fields["address"]

    def clean(self):
        data = super().clean()
        lat, lon = data.get("lat"), data.get("lon")
        if (lat is None) != (lon is None):
            raise forms.ValidationError(
                _("Give both latitude and longitude, or pick a point on the map.")
            )
        if lat is None and not data.get("address"):
            if self.with_address:
                raise forms.ValidationError(_("Type an address, or pick a point on the map."))
            raise forms.ValidationError(
                _("Pick a point on the map, or give latitude and longitude.")
            )
        return data

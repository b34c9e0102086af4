"""The provider directory in Django admin, for the superusers who run the system
(`heart manage createsuperuser`); navigators can also add providers through the API.

People, encounters and follow-ups are deliberately NOT in the admin: every read of a
person must go through the care services, which write the audit row.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from heart.care.models import SERVICES, Provider
from heart.care.services import validation
from heart.errors import Invalid


class ProviderForm(forms.ModelForm):
    services = forms.MultipleChoiceField(choices=SERVICES, widget=forms.CheckboxSelectMultiple)
    languages = forms.CharField(
        initial="en", help_text="Language codes separated by commas, e.g. en, es"
    )

    class Meta:
        model = Provider
        fields = ["name", "services", "hours", "address", "phone", "walk_in", "languages", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["languages"] = ", ".join(self.instance.languages)

    # the same checks as the API's create_provider, with the field named
    def clean_languages(self) -> list[str]:
        codes = [c for c in self.cleaned_data["languages"].split(",") if c.strip()]
        try:
            return validation.clean_languages(codes)
        except Invalid as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_phone(self) -> str:
        try:
            return validation.clean_phone(self.cleaned_data["phone"])
        except Invalid as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ("name", "walk_in", "hours", "phone", "active")
    list_filter = ("active", "walk_in")
    search_fields = ("name", "address")

from django.contrib import admin

from heart.calls.models import Call


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("cad_incident_id", "received_at", "nature", "beat", "route", "rules_version")
    list_filter = ("route", "program")
    search_fields = ("cad_incident_id", "nature")
    readonly_fields = ("route", "reasons", "rules_version", "program")

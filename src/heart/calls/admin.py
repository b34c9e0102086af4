from django.contrib import admin

from heart.calls.models import Call


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("cad_incident_id", "received_at", "nature", "beat", "route", "rules_version")
    list_filter = ("route", "program")
    search_fields = ("cad_incident_id", "nature")
    readonly_fields = ("route", "reasons", "rules_version", "program")

    # calls change only through intake (which re-triages) and the dispatch services
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

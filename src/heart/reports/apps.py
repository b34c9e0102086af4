from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Monthly reports. Route overrides are counted from the stored `dispatch.override`
    events, which the event stream keeps although nobody subscribes (teams' ready():
    heart.events.bus.keep)."""

    name = "heart.reports"
    label = "reports"
    verbose_name = "Reports"

from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "heart.calls"
    label = "calls"
    verbose_name = "Calls"

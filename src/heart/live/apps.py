from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "heart.live"
    label = "live"
    verbose_name = "Live events"

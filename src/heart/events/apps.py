from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "heart.events"
    label = "events"
    verbose_name = "Event stream"

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "heart.teams"
    label = "teams"
    verbose_name = "Teams in the field"

from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "heart.planning"
    label = "planning"
    verbose_name = "Planning"

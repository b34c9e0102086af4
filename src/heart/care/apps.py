from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "heart.care"
    label = "care"
    verbose_name = "Care navigation"

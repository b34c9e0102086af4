from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "heart.public"
    label = "public"
    verbose_name = "Public website"

from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "heart.care"
    label = "care"
    verbose_name = "Care navigation"

    def ready(self) -> None:
        # the one deliberate plugin import: care subscribes to dispatch's events here,
        # once the apps are loaded (dispatch never imports care)
        from heart.care import handlers

        handlers.connect()

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """How a call arrives (CAD EIDO, plain JSON, the call-taker form) and gets its route.

    Sits above calls and teams: it stores the call, asks teams for a recommendation and
    falls back along the run card; nothing below imports it.
    """

    name = "heart.intake"
    label = "intake"
    verbose_name = "Intake"

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "heart.teams"
    label = "teams"
    verbose_name = "Teams in the field"

    def ready(self) -> None:
        from heart.events.bus import keep

        # nobody subscribes to overrides, but the public monthly report counts them
        # from the stored stream (heart.teams.selectors.override_counts)
        keep(
            names=["dispatch.override"],
            why="dispatch overrides are counted per month in the public report",
        )

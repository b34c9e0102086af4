from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "heart.teams"
    label = "teams"
    verbose_name = "Teams in the field"

    def ready(self) -> None:
        from heart.events.bus import keep
        from heart.jobs import register
        from heart.teams.services import purge_positions

        # nobody subscribes to overrides, but the public monthly report counts them
        # from the stored stream (heart.teams.selectors.override_counts)
        keep(
            names=["dispatch.override"],
            why="dispatch overrides are counted per month in the public report",
        )
        register(
            name="teams.purge_positions",
            cron="17 3 * * *",  # daily, 03:17 UTC
            func=purge_positions,
            description="Delete GPS history older than HEART_GPS_RETENTION_DAYS (90).",
        )

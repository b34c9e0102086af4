from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "heart.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # The event stream stores an event only when someone subscribes to its name.
        # Reports count route overrides from the stored `dispatch.override` events, so
        # this app subscribes (the handler has nothing to do: the stored row is the
        # record).
        from heart.events.bus import subscribe

        subscribe(key="reports.overrides", names={"dispatch.override"}, handler=_keep)


def _keep(event, actor) -> None:
    """Nothing to do: storing the event is the point (heart.reports.selectors reads it)."""

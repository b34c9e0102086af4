from django.apps import AppConfig


class CadConfig(AppConfig):
    name = "heart.cad"
    label = "cad"
    verbose_name = "CAD write-back"

    def ready(self) -> None:
        from heart.cad import config
        from heart.cad.delivery import deliver_due
        from heart.cad.services import EVENT_NAMES, write_outbox
        from heart.events.bus import on_store
        from heart.jobs import register

        # the outbox row commits with the change itself (see services.write_outbox)
        on_store(key="cad.outbox", names=EVENT_NAMES, writer=write_outbox, active=config.enabled)
        if config.enabled():
            register(
                name="cad.deliver",
                cron=config.cron(),
                func=deliver_due,
                description="Send the CAD write-back outbox (in order per call, with retries).",
            )

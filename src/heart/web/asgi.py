"""The ASGI application `heart serve` runs: Django + its static files (Leaflet, CSS, JS).

ASGIStaticFilesHandler serves /static/ from the finders (app static dirs and
node_modules/leaflet/dist), so no separate web server is needed for a small site. Each
server process also retries event deliveries that failed or never ran (heart.events)
and checks calls waiting for a team (heart.intake.services.check_held_calls).
"""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
application = ASGIStaticFilesHandler(get_asgi_application())


def _start_background_work() -> None:
    from django.conf import settings

    from heart.events.bus import start_sweeper
    from heart.intake.services import start_hold_checker
    from heart.jobs import start_in_process_scheduler
    from heart.live.broadcast import get_backend

    start_sweeper(settings.HEART_EVENT_SWEEP_SECONDS)
    # hear other processes' events from the start (token revocations included), not
    # only once a screen connects
    get_backend().start_listening()
    start_in_process_scheduler()  # scheduled jobs on SQLite (PostgreSQL: `heart worker`)
    # calls waiting for a team under a [no_team_free] hold: deadlines checked this often
    start_hold_checker(getattr(settings, "HEART_HOLD_CHECK_SECONDS", 15.0))


_start_background_work()

"""The ASGI application `heart serve` runs: Django + its static files (Leaflet, CSS, JS).

ASGIStaticFilesHandler serves /static/ from the finders (app static dirs and
node_modules/leaflet/dist), so no separate web server is needed for a small site. Each
server process also retries event deliveries that failed or never ran (heart.events).
"""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heart.web.settings")
application = ASGIStaticFilesHandler(get_asgi_application())


def _start_background_work() -> None:
    from django.conf import settings

    from heart.events.bus import start_sweeper
    from heart.jobs import start_in_process_scheduler
    from heart.live.broadcast import get_backend

    start_sweeper(settings.HEART_EVENT_SWEEP_SECONDS)
    # hear other processes' events from the start (token revocations included), not
    # only once a screen connects
    get_backend().start_listening()
    start_in_process_scheduler()  # scheduled jobs on SQLite (PostgreSQL: `heart worker`)


_start_background_work()

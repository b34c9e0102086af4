"""Django settings, all from the environment.

DATABASE_URL  e.g. postgres://postgres@127.0.0.1:5432/test; unset: SQLite file var/heart.sqlite3
HEART_SECRET_KEY, HEART_DEBUG, HEART_ALLOWED_HOSTS (comma-separated), HEART_DATA_DIR
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HEART_DATA_DIR", Path.cwd() / "var"))

DEBUG = os.environ.get("HEART_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("HEART_SECRET_KEY") or "dev-only-not-secret-set-HEART_SECRET_KEY"
ALLOWED_HOSTS = [
    h for h in os.environ.get("HEART_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "heart.accounts",
    "heart.events",
    "heart.calls",
    "heart.planning",
    "heart.teams",
    "heart.intake",
    "heart.live",
    "heart.board",
    "heart.care",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "heart.web.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "heart.web.wsgi.application"


# `heart serve`: threads per server process for the synchronous requests (heart.web.asgi)
HEART_SERVER_THREADS = int(os.environ.get("HEART_SERVER_THREADS", "8"))


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        return _postgresql(url)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "heart.sqlite3"),
        # WAL lets the board read while intake writes; wait rather than fail on a lock
        "OPTIONS": {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }


def _postgresql(url: str) -> dict:
    """PostgreSQL through a connection pool per server process (psycopg_pool).

    Under ASGI every request runs its sync view in a thread of its own, so Django's
    persistent connections (CONN_MAX_AGE) would open one connection per request and
    keep it until the thread is collected: under load PostgreSQL ran out of connection
    slots and intake answered 503. A pool hands each request a warm connection and
    takes it back at the end (HEART_DB_POOL_SIZE per process, default: the request
    threads + 4; a request waits up to HEART_DB_POOL_TIMEOUT seconds, default 5).
    """
    db = dj_database_url.parse(url, conn_max_age=0)
    try:
        import psycopg_pool  # noqa: F401
    except ImportError:  # pragma: no cover - installed with psycopg[pool]
        return db
    if os.environ.get("HEART_DB_POOL", "1") != "0":
        db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("HEART_DB_POOL_SIZE", HEART_SERVER_THREADS + 4)),
            "timeout": float(os.environ.get("HEART_DB_POOL_TIMEOUT", "5")),
            "max_idle": 60,
        }
    return db


DATABASES = {"default": _database()}
if os.environ.get("HEART_TEST_DB_NAME"):  # parallel test runs on one PostgreSQL server
    DATABASES["default"]["TEST"] = {"NAME": os.environ["HEART_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
USE_I18N = True
TIME_ZONE = os.environ.get("HEART_TIME_ZONE", "America/New_York")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Leaflet from npm (scripts/frontend.sh) served as /static/leaflet/
REPO_DIR = BASE_DIR.parent.parent
STATICFILES_DIRS = [
    ("leaflet", d)
    for d in [
        Path(os.environ.get("HEART_NODE_MODULES", REPO_DIR / "node_modules")) / "leaflet" / "dist"
    ]
    if d.is_dir()
]
LOGIN_REDIRECT_URL = "home"

HEART_PROGRAM = os.environ.get("HEART_PROGRAM", "durham-heart-2023")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("HEART_LOG_LEVEL", "WARNING")},
}

# live operations (issue 3)
HEART_GPS_STALE_SECONDS = int(os.environ.get("HEART_GPS_STALE_SECONDS", "300"))
HEART_OSRM_URL = os.environ.get("HEART_OSRM_URL", "")  # e.g. http://127.0.0.1:5000
HEART_OSRM_TIMEOUT = float(os.environ.get("HEART_OSRM_TIMEOUT", "0.5"))
HEART_TRAVEL: dict = {}  # TravelModel overrides: road_factor, speed_kmh, turnout_minutes
HEART_BACKUP_NATURE = "POLICE BACKUP REQUEST"
HEART_BACKUP_PRIORITY = "1"  # the CAD's top priority
HEART_EVENT_PUBLISHER = os.environ.get("HEART_EVENT_PUBLISHER", "")  # dotted path; overrides
# live events across processes: auto = PostgreSQL LISTEN/NOTIFY when the database is
# PostgreSQL, else in process (one server process). See docs/realtime.md.
HEART_EVENT_BACKEND = os.environ.get("HEART_EVENT_BACKEND", "auto")
# optional map tiles for the board, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png
HEART_MAP_TILES = os.environ.get("HEART_MAP_TILES", "")

# care navigation (issue 4): keys of heart.domain.care.CareRules (docs/care.md)
HEART_CARE: dict = {}  # e.g. {"follow_up_due_hours": 48, "max_failed_attempts": 3}

# the event stream (heart.events): seconds between retries of pending deliveries in each
# server process (0: only `heart manage deliver_events`)
HEART_EVENT_SWEEP_SECONDS = float(os.environ.get("HEART_EVENT_SWEEP_SECONDS", "30"))

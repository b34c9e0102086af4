"""Django settings, all from the environment.

DATABASE_URL  e.g. postgres://postgres@127.0.0.1:5432/test; unset: SQLite file var/heart.sqlite3
HEART_SECRET_KEY, HEART_DEBUG, HEART_ALLOWED_HOSTS (comma-separated), HEART_DATA_DIR
HEART_PRODUCTION=1: refuse to start without a real key and host names; HTTPS-only cookies,
HSTS, redirect to HTTPS (docs/operations.md, "Production settings")
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from heart.web import production

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HEART_DATA_DIR", Path.cwd() / "var"))

PRODUCTION = production.flag(os.environ, "HEART_PRODUCTION")
if PRODUCTION and (_problems := production.problems(os.environ)):
    raise ImproperlyConfigured(
        "HEART_PRODUCTION=1 refuses these settings:\n  - " + "\n  - ".join(_problems)
    )
DEBUG = production.flag(os.environ, "HEART_DEBUG")
# development without a key: a random one made once in DATA_DIR (never a published default)
SECRET_KEY = os.environ.get("HEART_SECRET_KEY") or production.development_secret_key(DATA_DIR)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "HEART_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1"
    ).split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # the API docs page from local static files (no CDN, CSP-clean)
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "heart.accounts",
    "heart.events",
    "heart.calls",
    "heart.planning",
    "heart.teams",
    "heart.intake",
    "heart.live",
    "heart.board",
    "heart.care",
    "heart.cad",
    "heart.reports",
    "heart.public",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "heart.web.csp.CSPMiddleware",  # django-csp, the header built once
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "heart.accounts.middleware.SessionPolicyMiddleware",  # idle timeout, second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the 429 page
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins
    "django.contrib.auth.backends.ModelBackend",
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
LOGIN_URL = "login"

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
# or an offline center's own raster tiles, served by the app at /board/tiles/{z}/{x}/{y}:
# a folder of z/x/y.png (or .jpg) files, or one MBTiles file (SQLite). None set: no base map
HEART_MAP_TILES_DIR = os.environ.get("HEART_MAP_TILES_DIR", "")
HEART_MAP_MBTILES = os.environ.get("HEART_MAP_MBTILES", "")
HEART_MAP_ATTRIBUTION = os.environ.get("HEART_MAP_ATTRIBUTION", "© OpenStreetMap contributors")
# the board: a team's time in its status turns amber / red past these minutes, and a team
# on scene this long is prompted for a check-in
HEART_BOARD_STATUS_WARN_MINUTES = int(os.environ.get("HEART_BOARD_STATUS_WARN_MINUTES", "20"))
HEART_BOARD_STATUS_ALERT_MINUTES = int(os.environ.get("HEART_BOARD_STATUS_ALERT_MINUTES", "45"))
HEART_BOARD_CHECKIN_MINUTES = int(os.environ.get("HEART_BOARD_CHECKIN_MINUTES", "30"))
# the live pages' clock, chosen once: "24h" (14:05) or "12h" (2:05 PM); board and phone alike
HEART_CLOCK = "12h" if os.environ.get("HEART_CLOCK", "24h").lower() == "12h" else "24h"

# care navigation (issue 4): keys of heart.domain.care.CareRules (docs/care.md)
HEART_CARE: dict = {}  # e.g. {"follow_up_due_hours": 48, "max_failed_attempts": 3}

# the event stream (heart.events): seconds between retries of pending deliveries in each
# server process (0: only `heart manage deliver_events`)
HEART_EVENT_SWEEP_SECONDS = float(os.environ.get("HEART_EVENT_SWEEP_SECONDS", "30"))

# ---------------------------------------------------------------- security (issue 11)
# docs/operations.md explains each; README "Security" summarises.

# request bodies: a bigger one gets 413 (JSON on the API); intake bodies are a few KB
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("HEART_MAX_BODY_BYTES", str(2 * 1024 * 1024)))

# sessions: an idle limit per role (accounts.middleware) inside an absolute one (a shift)
SESSION_COOKIE_AGE = int(float(os.environ.get("HEART_SESSION_MAX_HOURS", "12")) * 3600)
HEART_IDLE_MINUTES = float(os.environ.get("HEART_IDLE_MINUTES", "30"))  # desk roles
# responders: a phone in a pocket through a quiet stretch of the shift stays signed in
HEART_RESPONDER_IDLE_MINUTES = float(os.environ.get("HEART_RESPONDER_IDLE_MINUTES", "240"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # the pages' scripts read the token from <meta name=csrf-token>
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("HEART_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
if os.environ.get("HEART_PROXY_SSL_HEADER"):  # behind a TLS proxy, e.g. X-Forwarded-Proto
    _header = os.environ["HEART_PROXY_SSL_HEADER"].strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (f"HTTP_{_header}", "https")
if PRODUCTION:
    SECURE_SSL_REDIRECT = production.flag(os.environ, "HEART_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's plain-HTTP probe
    SECURE_HSTS_SECONDS = int(os.environ.get("HEART_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = production.flag(os.environ, "HEART_HSTS_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = production.flag(os.environ, "HEART_HSTS_PRELOAD", True)


def _tile_origin(url: str) -> list[str]:
    """The map tile server's origin, for img-src ({s} subdomains become a wildcard)."""
    if not url:
        return []
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}", "*"))
    return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme and parts.netloc else []


# Content-Security-Policy on every response (django-csp): scripts and styles only from
# this site's static files, never inline; violations are reported to /csp-report.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *_tile_origin(os.environ.get("HEART_MAP_TILES", ""))],
        "connect-src": [SELF],
        # the responder phone's service worker (/responder/sw.js: offline page + queue)
        "worker-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "report-uri": ["/csp-report"],
        **({"upgrade-insecure-requests": True} if PRODUCTION else {}),
    }
}

# sign-in throttling (django-axes): a user at one address is locked after
# HEART_LOGIN_FAILURE_LIMIT failures, an address after HEART_LOGIN_ADDRESS_FAILURE_LIMIT
# (a 911 center's desks share one address); the wait doubles with every further failure
AXES_HANDLER = "heart.accounts.lockout.LoginAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = int(os.environ.get("HEART_LOGIN_FAILURE_LIMIT", "5"))
HEART_LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("HEART_LOGIN_ADDRESS_FAILURE_LIMIT", "50"))
AXES_COOLOFF_TIME = "heart.accounts.lockout.cool_off"
AXES_USE_ATTEMPT_EXPIRATION = True
HEART_LOGIN_COOLOFF_MINUTES = float(os.environ.get("HEART_LOGIN_COOLOFF_MINUTES", "5"))
HEART_LOGIN_COOLOFF_MAX_MINUTES = float(os.environ.get("HEART_LOGIN_COOLOFF_MAX_MINUTES", "60"))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "heart.accounts.lockout.lockout_response"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    (f"HTTP_{os.environ['HEART_CLIENT_IP_HEADER'].upper().replace('-', '_')}", "REMOTE_ADDR")
    if os.environ.get("HEART_CLIENT_IP_HEADER")  # e.g. X-Forwarded-For behind a proxy
    else ("REMOTE_ADDR",)
)
AXES_VERBOSE = False

# second factor (django-otp, TOTP): optional for everyone; required for these roles when
# HEART_REQUIRE_OTP=1. Whoever has enrolled a device must use it at every sign-in.
HEART_REQUIRE_OTP = production.flag(os.environ, "HEART_REQUIRE_OTP")
HEART_OTP_ROLES = [
    r.strip() for r in os.environ.get("HEART_OTP_ROLES", "supervisor,admin").split(",") if r.strip()
]
OTP_TOTP_ISSUER = os.environ.get("HEART_OTP_ISSUER", "HEART")

# the audit trail (accounts.AuditEntry, care.PersonAudit): append-only, hash-chained;
# `heart manage verify_audit` checks the chains

# scheduled jobs (heart.jobs): PostgreSQL runs them with procrastinate workers (`heart
# worker`, started by `heart serve`); SQLite from a thread in the server process
HEART_JOBS_BACKEND = os.environ.get("HEART_JOBS_BACKEND", "auto")  # auto | procrastinate | thread
HEART_GPS_RETENTION_DAYS = float(os.environ.get("HEART_GPS_RETENTION_DAYS", "90"))
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # its migrations are PostgreSQL SQL; last, so every app has registered its jobs
    INSTALLED_APPS.append("procrastinate.contrib.django")
    PROCRASTINATE_ON_APP_READY = "heart.jobs.worker.register_tasks"
    PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""

# monthly public reports and the public website (issue 12). HEART_REPORTS keys:
# heart.reports.build.SETTING_KEYS (docs/metrics.md), e.g. {"police_minutes_per_call": 40,
# "police_minutes_source": "mean unit time on these call types, city CAD 2023",
# "annual_budget": 4_200_000, "budget_source": "FY2024 adopted budget"}
HEART_REPORTS: dict = json.loads(os.environ.get("HEART_REPORTS", "{}"))
# the folder of published monthly reports (`heart report --out $HEART_REPORTS_DIR/YYYY-MM`)
HEART_REPORTS_DIR = Path(os.environ.get("HEART_REPORTS_DIR", DATA_DIR / "reports"))
HEART_PUBLIC = {
    "name": os.environ.get("HEART_PUBLIC_NAME", "HEART"),
    "city": os.environ.get("HEART_PUBLIC_CITY", "Durham"),
    "feedback_url": os.environ.get("HEART_PUBLIC_FEEDBACK_URL", ""),
    "feedback_email": os.environ.get("HEART_PUBLIC_FEEDBACK_EMAIL", ""),
    "records_contact": os.environ.get("HEART_PUBLIC_RECORDS_CONTACT", ""),
}
# address lookup for the public coverage check (and call entry): heart.geocoding,
# e.g. {"kind": "file", "path": "/srv/address_points.csv"} or {"kind": "nominatim",
# "url": "https://nominatim.example.org", "user_agent": "HEART Durham (ops@example.org)"}
HEART_GEOCODER: dict = json.loads(os.environ.get("HEART_GEOCODER", "{}"))
# intake's use of it (heart.intake.locate): how long a call waits for the lookup, and the
# lowest score it places a call on unseen, e.g. {"timeout": 1.0, "min_score": 0.5}
HEART_INTAKE_GEOCODE: dict = json.loads(os.environ.get("HEART_INTAKE_GEOCODE", "{}"))

# write-back to the CAD (heart.cad, docs/cad-writeback.md): off without a url. JSON in the
# environment, e.g. HEART_CAD='{"url": "https://cad.example/heart", "secret": "…",
# "format": "webhook"}' (format "eido": NENA-STA-021 documents)
HEART_CAD: dict = json.loads(os.environ.get("HEART_CAD", "{}"))

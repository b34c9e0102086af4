"""The CAD write-back's one view of the settings: ``HEART_CAD`` (a dict; the
``HEART_CAD`` environment variable holds it as JSON).

    {"url": "https://cad.example/heart", "secret": "...", "format": "webhook" | "eido",
     "agency": "heart.city.gov", "timeout": 10, "max_attempts": 12,
     "backoff_base": 2, "backoff_cap": 600, "cron": "* * * * * */5"}

No ``url``: the write-back is off (nothing is written to the outbox).
"""

from __future__ import annotations

from django.conf import settings

FORMATS = ("webhook", "eido")
DEFAULTS = {
    "format": "webhook",
    "agency": "heart.local",
    "timeout": 10.0,  # seconds per request (connect + read)
    "max_attempts": 12,  # then the message is a dead letter
    "backoff_base": 2.0,  # seconds before the 2nd attempt; doubles each time
    "backoff_cap": 600.0,  # never more than this between attempts
    "cron": "* * * * * */5",  # the delivery job: every 5 seconds
}


def cad() -> dict:
    raw = getattr(settings, "HEART_CAD", None) or {}
    merged = {**DEFAULTS, **raw}
    if merged["format"] not in FORMATS:
        raise ValueError(f"HEART_CAD format: {merged['format']!r} is not one of {FORMATS}")
    url = str(merged.get("url") or "")
    if url and not url.startswith(("https://", "http://")):
        raise ValueError(f"HEART_CAD url: {url[:60]!r} is not an http(s) address")
    if url and not merged.get("secret"):
        raise ValueError("HEART_CAD secret: needed with a url (the CAD checks the signature)")
    for key in ("timeout", "backoff_base", "backoff_cap", "max_attempts"):
        try:
            ok = float(merged[key]) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"HEART_CAD {key}: must be a positive number")
    return merged


def enabled() -> bool:
    return bool((getattr(settings, "HEART_CAD", None) or {}).get("url"))


def cron() -> str:
    return str(cad()["cron"])

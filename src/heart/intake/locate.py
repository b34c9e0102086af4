"""Address -> point for intake: the configured geocoder (heart.geocoding, settings
``HEART_GEOCODER``) behind a time limit, so a slow or broken lookup never holds up a call.

Two users: the call-taker form's lookup (``GET /api/geocode``: the matches, best first)
and :func:`heart.intake.services.receive_call`, which fills the coordinates of a call
that carries only an address (an EIDO civic address, a plain-JSON ``address``). What
happened is said in a reason (code + sentence) stored after the triage reasons: where
the point came from (the source and its score), or why the call has none.

Settings: ``HEART_GEOCODER`` (the source; none configured = no lookup, as before) and
``HEART_INTAKE_GEOCODE`` = ``{"timeout": 1.0, "min_score": 0.5}`` (seconds intake waits;
the lowest score it places a call on without a person looking).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings

from heart.geocoding import (
    GeocodeError,
    Geocoder,
    GeocoderConfigError,
    Match,
    geocoder_from_config,
)

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, Geocoder | None] = {}
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="heart-geocode")


class LookupFailed(RuntimeError):
    """The lookup did not answer (down, slow, misconfigured): the message says which."""


def configured() -> bool:
    """Whether a geocoder is configured (cheap: nothing is loaded)."""
    return bool(getattr(settings, "HEART_GEOCODER", None))


def geocoder() -> Geocoder | None:
    """The configured geocoder, loaded once per configuration (an address file is read
    once, not per call: about 0.05 ms a point, so a city of 200,000 points takes ~10 s,
    spent on the lookup pool under the time limit, never by a caller); None when none
    is configured or the configuration is wrong (logged once: the key, never an
    address)."""
    config = getattr(settings, "HEART_GEOCODER", None) or {}
    key = json.dumps(config, sort_keys=True, default=str)
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = geocoder_from_config(config)
            except GeocoderConfigError as exc:
                log.error("HEART_GEOCODER: %s", exc)
                _cache[key] = None
        return _cache[key]


def _options() -> dict:
    opts = getattr(settings, "HEART_INTAKE_GEOCODE", None) or {}
    return {
        "timeout": float(opts.get("timeout", 1.0)),
        "min_score": float(opts.get("min_score", 0.5)),
    }


def _search(text: str, limit: int) -> list[Match]:
    g = geocoder()
    if g is None:
        raise GeocodeError("the geocoder's configuration is wrong (see the server log)")
    return g.search(text, limit=limit)


def search(text: str, *, limit: int = 5, timeout: float | None = None) -> list[Match]:
    """Matches for an address, best first, within ``timeout`` seconds (LookupFailed).
    Loading the source (the first time) happens on the pool too: until it is loaded,
    lookups time out and say so, and the load goes on."""
    if not configured():
        return []
    wait = _options()["timeout"] if timeout is None else timeout
    future = _pool.submit(_search, text, limit)
    try:
        return future.result(timeout=wait)
    except FutureTimeout:
        future.cancel()
        raise LookupFailed(f"no answer within {wait:g} s") from None
    except GeocodeError as exc:
        raise LookupFailed(str(exc)) from None
    except Exception as exc:  # a broken source never takes intake down  # noqa: BLE001
        log.warning("geocoder failed: %s", type(exc).__name__)
        raise LookupFailed(f"the lookup failed ({type(exc).__name__})") from None


@dataclass(frozen=True, slots=True)
class Located:
    lon: float | None
    lat: float | None
    reason: dict  # {"code", "text"}: where the point came from, or why there is none


def located_reason(*, label: str, score: float, source: str) -> dict:
    return {
        "code": "location_geocoded",
        "text": (
            f"The point comes from the address lookup: {source} matched “{label}” "
            f"(score {score:.2f})."
        )[:500],
    }


def placed_on_map_reason() -> dict:
    return {
        "code": "location_from_map",
        "text": "The point was placed on the map by the call taker.",
    }


def locate(address: str) -> Located | None:
    """The point of an address for a call that has none; None when no geocoder is
    configured (nothing to say). A failure or a weak match leaves the call without a
    point, and the reason says so: triage then routes it as a call of unknown location."""
    if not configured() or not (address or "").strip():
        return None
    try:
        matches = search(address, limit=1)
    except LookupFailed as exc:
        return Located(
            None,
            None,
            {
                "code": "geocoder_unavailable",
                "text": (
                    f"The address lookup did not answer ({exc}): the call was triaged "
                    "without a location."
                ),
            },
        )
    best = matches[0] if matches else None
    if best is None or best.score < _options()["min_score"]:
        return Located(
            None,
            None,
            {
                "code": "location_not_found",
                "text": "The address lookup found no match for the address: the call has "
                "no location.",
            },
        )
    return Located(
        best.lon, best.lat, located_reason(label=best.label, score=best.score, source=best.source)
    )

"""Address -> coordinates behind one small interface (no Django).

Used by the public "is my address covered?" check and meant for call entry too: both
ask ``geocoder.search(text)`` and get :class:`Match` es (lon/lat, the matched label, a
score 0-1, the source's name), best first. Sources, chosen by configuration
(Django: ``settings.HEART_GEOCODER``; see docs/geocoding.md):

* ``{"kind": "file", "path": "address_points.csv"}``: the city's address-point file,
  CSV (columns ``address``, ``lon``, ``lat``; other names through ``address_column``,
  ``lon_column``, ``lat_column``) or GeoJSON points (``address_property``). Matching is
  on the normalised address (street words abbreviated as USPS does, punctuation gone),
  exact first, then close spellings (rapidfuzz, ``min_score`` default 0.9).
* ``{"kind": "nominatim", "url": "https://nominatim.example.org", "user_agent": ...}``:
  a Nominatim server (``/search?format=jsonv2``), optional ``countrycodes`` and
  ``viewbox`` ("lon1,lat1,lon2,lat2": results only inside it).
* ``{"kind": "pelias", "url": "http://pelias:4000"}``: a Pelias server
  (``/v1/search``), optional ``api_key``, ``boundary_country``, ``boundary_rect``.

A server that is down or slow raises :class:`GeocodeError` (callers say "try the map
instead"); a wrong configuration raises :class:`GeocoderConfigError` naming the key.
Addresses looked up are never logged.
"""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from heart.domain.care import normalize_address

KINDS = ("file", "nominatim", "pelias")


class GeocoderConfigError(ValueError):
    """The geocoder configuration is wrong; the message names the key."""


class GeocodeError(RuntimeError):
    """The geocoding source could not answer (down, slow, bad reply)."""


@dataclass(frozen=True, slots=True)
class Match:
    lon: float
    lat: float
    label: str
    score: float  # 0-1, 1 = exact
    source: str


class Geocoder(Protocol):
    name: str

    def search(self, text: str, *, limit: int = 5) -> list[Match]: ...


def _valid(lon: float, lat: float) -> bool:
    return -180 <= lon <= 180 and -90 <= lat <= 90


# ------------------------------------------------------------------ address-point file


class AddressFile:
    """A city's address points (CSV or GeoJSON), matched on the normalised address."""

    def __init__(
        self, points: dict[str, tuple[float, float, str]], *, name: str, min_score: float = 0.9
    ):
        self._points = points  # normalised address -> (lon, lat, label)
        self.name = name
        self.min_score = min_score

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        address_column: str = "address",
        lon_column: str = "lon",
        lat_column: str = "lat",
        address_property: str = "address",
        min_score: float = 0.9,
    ) -> AddressFile:
        path = Path(path)
        if not path.exists():
            raise GeocoderConfigError(f"path: {path} does not exist")
        points: dict[str, tuple[float, float, str]] = {}
        if path.suffix.lower() in (".geojson", ".json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise GeocoderConfigError(f"path: {path} is not readable GeoJSON ({exc})") from None
            for feature in data.get("features", []):
                geometry = feature.get("geometry") or {}
                label = str((feature.get("properties") or {}).get(address_property) or "").strip()
                coords = geometry.get("coordinates")
                if geometry.get("type") != "Point" or not label or not coords:
                    continue  # a feature without a point or an address is skipped
                lon, lat = float(coords[0]), float(coords[1])
                if _valid(lon, lat):
                    points.setdefault(normalize_address(label), (lon, lat, label))
        else:
            try:
                with path.open(newline="", encoding="utf-8-sig") as fh:
                    reader = csv.DictReader(fh)
                    header = reader.fieldnames or []
                    for column in (address_column, lon_column, lat_column):
                        if column not in header:
                            raise GeocoderConfigError(
                                f"path: {path} has no column {column!r} (it has {header})"
                            )
                    for row in reader:
                        label = (row.get(address_column) or "").strip()
                        try:
                            lon, lat = float(row[lon_column]), float(row[lat_column])
                        except (TypeError, ValueError):
                            continue  # a bad row in a big file: skipped, the rest is used
                        if label and _valid(lon, lat):
                            points.setdefault(normalize_address(label), (lon, lat, label))
            except (OSError, UnicodeDecodeError) as exc:
                raise GeocoderConfigError(f"path: {path} cannot be read ({exc})") from None
        if not points:
            raise GeocoderConfigError(f"path: {path} holds no usable address point")
        return cls(points, name=f"address file {path.name}", min_score=min_score)

    def search(self, text: str, *, limit: int = 5) -> list[Match]:
        key = normalize_address(text)
        if not key:
            return []
        exact = self._points.get(key)
        if exact is not None:
            return [Match(exact[0], exact[1], exact[2], 1.0, self.name)]
        from rapidfuzz import fuzz, process

        found = process.extract(
            key,
            self._points.keys(),
            scorer=fuzz.token_sort_ratio,
            limit=limit,
            score_cutoff=100 * self.min_score,
        )
        out = []
        for k, score, _ in found:
            lon, lat, label = self._points[k]
            out.append(Match(lon, lat, label, round(score / 100, 3), self.name))
        return out


# ------------------------------------------------------------------ HTTP servers


def _get_json(url: str, *, timeout: float, user_agent: str):
    request = urllib.request.Request(
        url, headers={"User-Agent": user_agent, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise GeocodeError(f"the geocoder did not answer ({type(exc).__name__})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GeocodeError("the geocoder's reply is not JSON") from None


class Nominatim:
    def __init__(
        self,
        url: str,
        *,
        user_agent: str,
        timeout: float = 3.0,
        countrycodes: str = "",
        viewbox: str = "",
    ):
        self.url = url.rstrip("/")
        self.user_agent = user_agent
        self.timeout = timeout
        self.countrycodes = countrycodes
        self.viewbox = viewbox
        self.name = f"Nominatim {urllib.parse.urlsplit(self.url).netloc}"

    def search(self, text: str, *, limit: int = 5) -> list[Match]:
        if not text.strip():
            return []
        params = {"q": text, "format": "jsonv2", "limit": str(limit)}
        if self.countrycodes:
            params["countrycodes"] = self.countrycodes
        if self.viewbox:
            params["viewbox"] = self.viewbox
            params["bounded"] = "1"
        data = _get_json(
            f"{self.url}/search?{urllib.parse.urlencode(params)}",
            timeout=self.timeout,
            user_agent=self.user_agent,
        )
        if not isinstance(data, list):
            raise GeocodeError("the geocoder's reply is not a list of places")
        out = []
        for place in data[:limit]:
            try:
                lon, lat = float(place["lon"]), float(place["lat"])
            except (KeyError, TypeError, ValueError):
                continue
            if _valid(lon, lat):
                score = place.get("importance")
                score = float(score) if isinstance(score, int | float) else 0.5
                out.append(
                    Match(lon, lat, str(place.get("display_name", "")), min(1.0, score), self.name)
                )
        return out


class Pelias:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        api_key: str = "",
        boundary_country: str = "",
        boundary_rect: str = "",
        user_agent: str = "HEART",
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.api_key = api_key
        self.boundary_country = boundary_country
        self.boundary_rect = boundary_rect
        self.user_agent = user_agent
        self.name = f"Pelias {urllib.parse.urlsplit(self.url).netloc}"

    def search(self, text: str, *, limit: int = 5) -> list[Match]:
        if not text.strip():
            return []
        params = {"text": text, "size": str(limit)}
        if self.api_key:
            params["api_key"] = self.api_key
        if self.boundary_country:
            params["boundary.country"] = self.boundary_country
        if self.boundary_rect:
            lon1, lat1, lon2, lat2 = self.boundary_rect.split(",")
            params.update(
                {
                    "boundary.rect.min_lon": lon1,
                    "boundary.rect.min_lat": lat1,
                    "boundary.rect.max_lon": lon2,
                    "boundary.rect.max_lat": lat2,
                }
            )
        data = _get_json(
            f"{self.url}/v1/search?{urllib.parse.urlencode(params)}",
            timeout=self.timeout,
            user_agent=self.user_agent,
        )
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise GeocodeError("the geocoder's reply is not a GeoJSON FeatureCollection")
        out = []
        for feature in data["features"][:limit]:
            try:
                lon, lat = (float(x) for x in feature["geometry"]["coordinates"][:2])
            except (KeyError, TypeError, ValueError):
                continue
            props = feature.get("properties") or {}
            if _valid(lon, lat):
                confidence = props.get("confidence")
                score = float(confidence) if isinstance(confidence, int | float) else 0.5
                out.append(Match(lon, lat, str(props.get("label", "")), min(1.0, score), self.name))
        return out


# ------------------------------------------------------------------ configuration

_KEYS = {
    "file": {
        "kind",
        "path",
        "address_column",
        "lon_column",
        "lat_column",
        "address_property",
        "min_score",
    },
    "nominatim": {"kind", "url", "user_agent", "timeout", "countrycodes", "viewbox"},
    "pelias": {
        "kind",
        "url",
        "timeout",
        "api_key",
        "boundary_country",
        "boundary_rect",
        "user_agent",
    },
}


def geocoder_from_config(config: Mapping | None) -> Geocoder | None:
    """The configured geocoder, or None when none is configured (coordinates only)."""
    if not config:
        return None
    config = dict(config)
    kind = config.get("kind")
    if kind not in KINDS:
        raise GeocoderConfigError(f"kind: {kind!r} is not one of {KINDS}")
    unknown = sorted(set(config) - _KEYS[kind])
    if unknown:
        raise GeocoderConfigError(f"{unknown[0]}: unknown key for a {kind} geocoder")
    timeout = config.get("timeout", 3.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise GeocoderConfigError("timeout: must be a number of seconds above 0")
    if kind == "file":
        if not config.get("path"):
            raise GeocoderConfigError("path: required for a file geocoder")
        options = {
            k: config[k]
            for k in ("address_column", "lon_column", "lat_column", "address_property")
            if k in config
        }
        min_score = config.get("min_score", 0.9)
        if (
            isinstance(min_score, bool)
            or not isinstance(min_score, int | float)
            or not 0 < min_score <= 1
        ):
            raise GeocoderConfigError("min_score: must be between 0 and 1")
        return AddressFile.load(Path(config["path"]), min_score=float(min_score), **options)
    url = str(config.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise GeocoderConfigError(f"url: {url!r} is not an http(s) URL")
    if kind == "nominatim":
        agent = str(config.get("user_agent") or "")
        if not agent:
            # Nominatim's usage policy asks every application to identify itself
            raise GeocoderConfigError(
                "user_agent: required by Nominatim (name the deployment and a contact)"
            )
        return Nominatim(
            url,
            user_agent=agent,
            timeout=float(timeout),
            countrycodes=str(config.get("countrycodes") or ""),
            viewbox=str(config.get("viewbox") or ""),
        )
    rect = str(config.get("boundary_rect") or "")
    if rect and len(rect.split(",")) != 4:
        raise GeocoderConfigError("boundary_rect: must be 'min_lon,min_lat,max_lon,max_lat'")
    return Pelias(
        url,
        timeout=float(timeout),
        api_key=str(config.get("api_key") or ""),
        boundary_country=str(config.get("boundary_country") or ""),
        boundary_rect=rect,
        user_agent=str(config.get("user_agent") or "HEART"),
    )

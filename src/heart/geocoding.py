"""Address -> coordinates behind one small interface (no Django).

Used by the public "is my address covered?" check and meant for call entry too: both
ask ``geocoder.search(text)`` and get :class:`Match` es (lon/lat, the matched label, a
score 0-1, the source's name), best first. Sources, chosen by configuration
(Django: ``settings.HEART_GEOCODER``; see docs/geocoding.md):

* ``{"kind": "file", "path": "address_points.csv"}``: the city's address-point file,
  CSV (columns ``address``, ``lon``, ``lat``; other names through ``address_column``,
  ``lon_column``, ``lat_column``) or GeoJSON points (``address_property``). Both the
  file's addresses and the typed one are parsed into house number, street and unit
  (``usaddress``, a maintained CRF parser of US addresses: CAD shorthand such as
  "123 W MAIN ST APT 4" or "123 w. main street, Durham NC" alike), the street
  normalised (USPS abbreviations, punctuation gone). The house number must be one the
  file has (a number out of range never lands on a neighbour's door); the street is
  matched exactly first, then by close spelling (rapidfuzz, ``min_score`` default 0.9).
  The unit is kept for the label but never used to place the point.
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
from functools import lru_cache
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


# ------------------------------------------------------------------ parsing

_STREET_PARTS = (
    "StreetNamePreModifier",
    "StreetNamePreDirectional",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
    "StreetNamePostModifier",
)
_UNIT_PARTS = ("OccupancyType", "OccupancyIdentifier", "SubaddressType", "SubaddressIdentifier")
_TYPE_WORDS = frozenset(
    [
        "st",
        "ave",
        "rd",
        "dr",
        "blvd",
        "ln",
        "ct",
        "pl",
        "way",
        "cir",
        "pkwy",
        "hwy",
        "ter",
        "trl",
        "sq",
        "loop",
        "run",
        "pass",
    ]
)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """A street address taken apart: ``number`` (house number, digits and a letter
    suffix at most, '' when none), ``street`` (normalised: "w main st"), ``unit``
    ("apt 4", '' when none). ``key`` is what address points are matched on."""

    number: str
    street: str
    unit: str

    @property
    def key(self) -> str:
        return f"{self.number} {self.street}".strip()

    @property
    def street_without_type(self) -> str:
        words = self.street.split()
        if words and words[-1] in _TYPE_WORDS:
            words = words[:-1]
        elif len(words) > 1 and words[-2] in _TYPE_WORDS and len(words[-1]) == 1:
            words = words[:-2] + words[-1:]  # "main st w"
        return " ".join(words)


@lru_cache(maxsize=4096)
def parse_address(text: str) -> ParsedAddress:
    """House number, street and unit of a typed or CAD address (messy input welcome:
    "123 W MAIN ST APT 4", "123 w. main street", "123 Main St #4, Durham NC 27701").
    The parser is ``usaddress``; when it cannot label a string unambiguously the first
    token of each kind is used, and a text it cannot parse at all is matched whole."""
    import usaddress

    text = " ".join((text or "").replace("#", " # ").split())[:300]
    if not text:
        return ParsedAddress("", "", "")
    try:
        tagged, _ = usaddress.tag(text)
        parts = {k: v for k, v in tagged.items()}
    except usaddress.RepeatedLabelError as exc:
        parts = {}
        for token, label in exc.parsed_string:
            parts.setdefault(label, token)
    number = "".join(ch for ch in parts.get("AddressNumber", "") if ch.isalnum()).lower()
    if number and not number[0].isdigit():
        number = ""  # "ONE" or a stray word: not a house number we can match
    street = normalize_address(" ".join(parts[k] for k in _STREET_PARTS if parts.get(k)))
    unit = normalize_address(" ".join(parts[k] for k in _UNIT_PARTS if parts.get(k)))
    if not street:  # no street recognised: the whole text, normalised, minus the number
        words = normalize_address(text).split()
        if words and number and words[0] == number:
            words = words[1:]
        street = " ".join(words)
    return ParsedAddress(number, street, unit)


def query_text(text: str) -> str:
    """The address as a geocoding service reads it best: the unit left out
    ("123 W MAIN ST APT 4, Durham" -> "123 W MAIN ST Durham")."""
    import usaddress

    cleaned = " ".join((text or "").replace("#", " # ").split())
    try:
        tokens = usaddress.parse(cleaned)
    except Exception:  # the parser never blocks a lookup  # noqa: BLE001
        return cleaned
    kept = [t for t, label in tokens if label not in _UNIT_PARTS and t != "#"]
    return " ".join(kept) or cleaned


# ------------------------------------------------------------------ address-point file


class AddressFile:
    """A city's address points (CSV or GeoJSON), matched on the normalised address."""

    def __init__(
        self, points: dict[str, tuple[float, float, str]], *, name: str, min_score: float = 0.9
    ):
        self._points = points  # normalised address -> (lon, lat, label)
        self.name = name
        self.min_score = min_score
        # house number -> {parsed key ("123 w main st") -> (lon, lat, label)}
        self._by_number: dict[str, dict[str, tuple[float, float, str]]] = {}
        self._parsed: dict[str, tuple[float, float, str]] = {}
        for point in points.values():
            parsed = parse_address(point[2])
            if parsed.number:
                self._by_number.setdefault(parsed.number, {}).setdefault(parsed.key, point)
            self._parsed.setdefault(parsed.key, point)

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
        if not normalize_address(text):
            return []
        parsed = parse_address(text)
        exact = self._parsed.get(parsed.key) or self._points.get(normalize_address(text))
        if exact is not None:
            return [Match(exact[0], exact[1], exact[2], 1.0, self.name)]
        from rapidfuzz import fuzz

        # with a house number, only the points with that number: a close street
        # spelling, never a close number (1234 is not 123)
        candidates = self._by_number.get(parsed.number, {}) if parsed.number else self._parsed
        if not candidates:
            return []
        cutoff = 100 * self.min_score
        bare = f"{parsed.number} {parsed.street_without_type}".strip()
        scored: list[tuple[float, str]] = []
        typed_without_type = bare == parsed.key
        for key in candidates:
            score = fuzz.token_sort_ratio(parsed.key, key)
            if typed_without_type:  # "123 w main" against "123 w main st"
                other = parse_address(candidates[key][2])
                other_bare = f"{other.number} {other.street_without_type}".strip()
                score = max(score, 0.97 * fuzz.token_sort_ratio(bare, other_bare))
            if score >= cutoff:
                scored.append((score, key))
        scored.sort(key=lambda item: (-item[0], item[1]))
        out = []
        for score, key in scored[:limit]:
            lon, lat, label = candidates[key]
            out.append(Match(lon, lat, label, round(min(score, 99.9) / 100, 3), self.name))
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
        params = {"q": query_text(text), "format": "jsonv2", "limit": str(limit)}
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
        params = {"text": query_text(text), "size": str(limit)}
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

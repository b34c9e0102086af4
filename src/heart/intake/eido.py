"""NENA EIDO (NENA-STA-021) -> a HEART call.

Only the parts HEART uses are modelled (other components are accepted and ignored):

* idempotency key: the EIDO ``$id`` (the incident tracking identifier, stable across
  updates); ``lastUpdateTimeStamp`` orders updates (an older one is ignored)
* ``incidentComponent``: nature from ``incidentTypeInternalCode`` (the CAD's code),
  else ``incidentTypeInternalText``, else ``incidentTypeCommonRegistryText``; beat
  from ``beatOrDispatchGroupText``; priority from ``incidentPriorityInternalText`` or
  ``incidentCommonPriorityNumber``. The schema has one object; a list is accepted.
* ``locationComponent``: the one the incident references, else the first with
  ``locationByValue``: a PIDF-LO with a GML geodetic point / circle (``gml:pos`` is
  "lat lon") and/or a civic address (``ca:civicAddress``).
* ``notesComponent``: ``notesActionComments`` (HTML5) as text, joined as the narrative:
  tags and comments dropped, entities decoded in the same parse (a tag spelled with
  entities, ``&lt;img&gt;``, never becomes ``<img>``: see :func:`notes_text`).
* ``callComponent``: the earliest ``callStartTimestamp`` is the received time.
* ``callbackComponent``: the callback number, from the ``callBackInformationUri`` of the
  component a call references (``callBackReference``), else the first: a ``tel:`` URI,
  else a ``sip:`` URI whose user part is a phone number.

Errors are :class:`EidoError` with the field path (``locationComponent[0].locationByValue``).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from heart.calls.validation import check_value
from heart.domain.geo import valid_lon_lat
from heart.domain.triage import CallInput


class _Component(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="$id", min_length=1, max_length=200)
    lastUpdateTimeStamp: AwareDatetime | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _usable(cls, value):
        return check_value(value)


class Ref(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    ref: str = Field(alias="$ref", max_length=200)


MAX_COMPONENTS = 100  # per list: far more than any incident has


class IncidentComponent(_Component):
    incidentTypeCommonRegistryText: str | None = Field(default=None, max_length=200)
    incidentTypeInternalCode: str | None = Field(default=None, max_length=120)
    incidentTypeInternalText: str | None = Field(default=None, max_length=200)
    incidentPriorityInternalText: str | None = Field(default=None, max_length=20)
    incidentCommonPriorityNumber: int | None = None
    beatOrDispatchGroupText: str | None = Field(default=None, max_length=20)
    internalIncidentId: str | None = Field(default=None, max_length=200)
    locationReference: list[Ref] | None = Field(default=None, max_length=MAX_COMPONENTS)


class CallComponent(_Component):
    callStartTimestamp: AwareDatetime | None = None
    answerDate: AwareDatetime | None = None
    callBackReference: Ref | None = None


class CallbackComponent(_Component):
    callBackInformationUri: list[Annotated[str, Field(max_length=300)]] | None = Field(
        default=None, max_length=MAX_COMPONENTS
    )


class LocationComponent(_Component):
    locationTypeDescriptionRegistryText: str | None = Field(default=None, max_length=200)
    locationByValue: str | None = Field(default=None, max_length=200_000)
    locationByReferenceUrl: str | None = Field(default=None, max_length=2000)


class NotesComponent(_Component):
    notesActionComments: str = Field(max_length=20_000)


class EidoDocument(_Component):
    """An EIDO (NENA-STA-021) JSON document; unmodelled components are ignored."""

    lastUpdateTimeStamp: AwareDatetime
    eidoVersion: str | None = Field(default=None, max_length=20)
    incidentComponent: (
        IncidentComponent | Annotated[list[IncidentComponent], Field(max_length=MAX_COMPONENTS)]
    ) | None = None
    callComponent: list[CallComponent] | None = Field(default=None, max_length=MAX_COMPONENTS)
    callbackComponent: list[CallbackComponent] | None = Field(
        default=None, max_length=MAX_COMPONENTS
    )
    locationComponent: list[LocationComponent] | None = Field(
        default=None, max_length=MAX_COMPONENTS
    )
    notesComponent: list[NotesComponent] | None = Field(default=None, max_length=MAX_COMPONENTS)


class EidoError(ValueError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EidoCall:
    incident_id: str
    updated_at: dt.datetime
    call: CallInput
    address: str
    incident_type_text: str
    callback: str = ""


GML = "{http://www.opengis.net/gml}"
CIVIC = "{urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr}"
_CIVIC_ORDER = ("HNO", "HNS", "PRD", "RD", "STS", "POD", "A3", "A1", "PC")
# a "<" that would open markup in the decoded text: a letter, "/", "!" or "?" follows
_MARKUP_START = re.compile(r"<(?=[A-Za-z/!?])")
_SKIP_CONTENT = frozenset({"script", "style", "template"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_CONTENT:
            self._skip += 1
        self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in _SKIP_CONTENT and self._skip:
            self._skip -= 1
        self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def notes_text(html_text: str) -> str:
    """The text of an EIDO note (HTML5): tags, comments and script/style content dropped,
    entities decoded by the same parse, whitespace collapsed. Decoded text that would
    read as markup keeps a harmless angle quote instead of its "<" (``&lt;img&gt;`` ->
    "‹img>"), so no stored narrative holds a tag, whoever renders it later; a plain
    "SBP < 90" stays as written."""
    parser = _TextOf()
    parser.feed(html_text)
    parser.close()
    text = " ".join("".join(parser.parts).split())
    return _MARKUP_START.sub("\u2039", text)


def parse_pidf_lo(text: str, path: str) -> tuple[float | None, float | None, str]:
    """(lon, lat, civic address) from a PIDF-LO document."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise EidoError(path, "DTDs and entities are not accepted in PIDF-LO")
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise EidoError(path, f"not well-formed PIDF-LO XML ({exc})") from None
    lon = lat = None
    pos = root.find(f".//{GML}pos")
    if pos is not None:
        parts = (pos.text or "").split()
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            raise EidoError(
                path, f"gml:pos must be 'latitude longitude', got {pos.text!r}"
            ) from None
        if not valid_lon_lat(lon, lat):
            raise EidoError(path, f"gml:pos {pos.text!r} is out of range")
    address = ""
    civic = root.find(f".//{CIVIC}civicAddress")
    if civic is not None:
        parts = [(civic.findtext(f"{CIVIC}{tag}") or "").strip() for tag in _CIVIC_ORDER]
        address = " ".join(p for p in parts if p)[:300]
    return lon, lat, address


_PHONE = re.compile(r"^\+?[0-9][0-9\-.() ]{2,30}$")


def phone_from_uri(uri: str) -> str:
    """The phone number in a ``tel:`` URI (parameters dropped), or in the user part of a
    ``sip:`` / ``sips:`` URI when it is a number; '' otherwise."""
    uri = (uri or "").strip()
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "tel":
        number = rest.split(";")[0]
    elif scheme in ("sip", "sips"):
        number = rest.split("@")[0].split(";")[0]
    else:
        return ""
    return number[:40] if _PHONE.match(number) else ""


def callback_number(doc: EidoDocument) -> str:
    """The callback number: of the callback component a call references, else of any."""
    components = doc.callbackComponent or []
    wanted = {c.callBackReference.ref for c in doc.callComponent or [] if c.callBackReference}
    ordered = [c for c in components if c.id in wanted] + [
        c for c in components if c.id not in wanted
    ]
    for component in ordered:
        uris = component.callBackInformationUri or []
        # a tel: URI first, then a SIP URI with a number
        for uri in sorted(uris, key=lambda u: not u.lower().startswith("tel:")):
            number = phone_from_uri(uri)
            if number:
                return number
    return ""


def _first_incident(doc: EidoDocument) -> tuple[IncidentComponent | None, str]:
    inc = doc.incidentComponent
    if isinstance(inc, list):
        return (inc[0], "incidentComponent[0]") if inc else (None, "incidentComponent")
    return inc, "incidentComponent"


def to_call(doc: EidoDocument) -> EidoCall:
    incident, _ = _first_incident(doc)
    nature = None
    text = ""
    beat = priority = None
    wanted: set[str] = set()
    if incident is not None:
        nature = (
            incident.incidentTypeInternalCode
            or incident.incidentTypeInternalText
            or incident.incidentTypeCommonRegistryText
        )
        text = incident.incidentTypeInternalText or incident.incidentTypeCommonRegistryText or ""
        beat = incident.beatOrDispatchGroupText
        priority = incident.incidentPriorityInternalText or (
            str(incident.incidentCommonPriorityNumber)
            if incident.incidentCommonPriorityNumber is not None
            else None
        )
        wanted = {r.ref for r in incident.locationReference or []}

    lon = lat = None
    address = ""
    locations = list(enumerate(doc.locationComponent or []))
    chosen = [(i, loc) for i, loc in locations if loc.id in wanted and loc.locationByValue]
    chosen += [(i, loc) for i, loc in locations if loc.locationByValue and (i, loc) not in chosen]
    for i, loc in chosen:
        lo, la, addr = parse_pidf_lo(
            loc.locationByValue or "", f"locationComponent[{i}].locationByValue"
        )
        if lon is None and lo is not None:
            lon, lat = lo, la
        address = address or addr
        if lon is not None and address:
            break

    starts = [
        (c.callStartTimestamp or c.answerDate)
        for c in doc.callComponent or []
        if c.callStartTimestamp or c.answerDate
    ]
    received = (
        min(starts)
        if starts
        else (
            incident.lastUpdateTimeStamp
            if incident and incident.lastUpdateTimeStamp
            else doc.lastUpdateTimeStamp
        )
    )

    notes = [notes_text(n.notesActionComments) for n in doc.notesComponent or []]
    narrative = " / ".join(n for n in notes if n) or None
    return EidoCall(
        incident_id=doc.id,
        updated_at=doc.lastUpdateTimeStamp,
        call=CallInput(
            received_at=received,
            nature=nature,
            id=doc.id,
            priority=priority,
            lon=lon,
            lat=lat,
            beat=beat,
            narrative=narrative,
        ),
        address=address,
        incident_type_text=text[:200],
        callback=callback_number(doc),
    )

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
* ``notesComponent``: ``notesActionComments`` (HTML5) joined as the narrative.
* ``callComponent``: the earliest ``callStartTimestamp`` is the received time.

Errors are :class:`EidoError` with the field path (``locationComponent[0].locationByValue``).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

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
    ref: str = Field(alias="$ref")


class IncidentComponent(_Component):
    incidentTypeCommonRegistryText: str | None = None
    incidentTypeInternalCode: str | None = Field(default=None, max_length=120)
    incidentTypeInternalText: str | None = Field(default=None, max_length=200)
    incidentPriorityInternalText: str | None = Field(default=None, max_length=20)
    incidentCommonPriorityNumber: int | None = None
    beatOrDispatchGroupText: str | None = Field(default=None, max_length=20)
    internalIncidentId: str | None = None
    locationReference: list[Ref] | None = None


class CallComponent(_Component):
    callStartTimestamp: AwareDatetime | None = None
    answerDate: AwareDatetime | None = None


class LocationComponent(_Component):
    locationTypeDescriptionRegistryText: str | None = None
    locationByValue: str | None = Field(default=None, max_length=200_000)
    locationByReferenceUrl: str | None = None


class NotesComponent(_Component):
    notesActionComments: str = Field(max_length=20_000)


class EidoDocument(_Component):
    """An EIDO (NENA-STA-021) JSON document; unmodelled components are ignored."""

    lastUpdateTimeStamp: AwareDatetime
    eidoVersion: str | None = None
    incidentComponent: IncidentComponent | list[IncidentComponent] | None = None
    callComponent: list[CallComponent] | None = None
    locationComponent: list[LocationComponent] | None = None
    notesComponent: list[NotesComponent] | None = None


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


GML = "{http://www.opengis.net/gml}"
CIVIC = "{urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr}"
_CIVIC_ORDER = ("HNO", "HNS", "PRD", "RD", "STS", "POD", "A3", "A1", "PC")
_TAG = re.compile(r"<[^>]+>")


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

    notes = [
        " ".join(html.unescape(_TAG.sub(" ", n.notesActionComments)).split())
        for n in doc.notesComponent or []
    ]
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
    )

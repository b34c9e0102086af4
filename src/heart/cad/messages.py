"""What the CAD receives: a webhook body (HEART's own small JSON) or an EIDO document
(NENA-STA-021, the standard HEART also takes calls in: heart.intake.eido).

Bodies carry ids, statuses, codes, times and coordinates only: never a name, a phone
number or a narrative (the CAD has its own; a disposition's contact details stay here).
"""

from __future__ import annotations

from django.conf import settings

from heart.calls.models import Call, Disposition
from heart.events.models import Event
from heart.teams.models import Team

KINDS = {
    "team.status": "unit_status",
    "call.closed": "disposition",
    "backup.requested": "backup_request",
    "dispatch.override": "route_override",
}

# HEART's unit statuses -> the EIDO Primary Unit Status registry's words
EIDO_UNIT_STATUS = {
    "available": "Available",
    "dispatched": "Dispatched",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "transporting": "Transporting",
    "clearing": "Available",  # finishing on the call; the CAD sees it as not yet free
    "out_of_service": "OutOfService",
}


def stream_of(event: Event) -> str:
    if event.call_id is not None:
        return f"call:{event.call_id}"
    return f"team:{event.payload.get('team_id')}"


def _calls(*ids: int | None) -> dict[int, Call]:
    wanted = [i for i in ids if i is not None]
    return {c.pk: c for c in Call.objects.filter(pk__in=wanted).only("pk", "cad_incident_id")}


def _team_name(team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first()


def facts(event: Event) -> dict:
    """The plain facts of one event, the same for both formats."""
    p = event.payload
    kind = KINDS[event.name]
    call_id = p.get("call_id")
    backup_id = p.get("backup_call_id")
    calls = _calls(call_id, backup_id)
    call = calls.get(call_id) if call_id is not None else None
    out: dict = {
        "type": kind,
        "heart_event_id": event.pk,
        "at": (p.get("at") or event.at.isoformat()),
        "heart_call_id": call_id,
        "cad_incident_id": call.cad_incident_id if call else None,
        "unit": {"heart_team_id": p.get("team_id"), "name": _team_name(p.get("team_id"))},
    }
    if kind == "unit_status":
        out["status"] = p.get("status")
        out["status_label"] = str(Team.Status(p["status"]).label) if p.get("status") else None
        out["previous"] = p.get("previous")
    elif kind == "disposition":
        outcome = p.get("outcome")
        out["outcome"] = outcome
        out["outcome_label"] = str(Disposition.Outcome(outcome).label) if outcome else None
        out["call_closed"] = True
    elif kind == "backup_request":
        # a NEW incident for the CAD, top priority, linked to the team's call
        out["priority"] = 1
        out["heart_backup_call_id"] = backup_id
        out["nature"] = settings.HEART_BACKUP_NATURE
        out["linked_cad_incident_id"] = out["cad_incident_id"]
        out["location"] = {"lon": p.get("lon"), "lat": p.get("lat")}
    elif kind == "route_override":
        out["route"] = p.get("route")
    return out


def webhook_body(f: dict, *, key: str) -> dict:
    return {"message_id": key, **f}


def _prologue(ident: str, at: str, agency: str) -> dict:
    return {"$id": ident, "lastUpdateTimeStamp": at, "updatedByAgencyReference": {"$ref": agency}}


def incident_uri(*, cad_incident_id: str | None, heart_call_id: int | None, agency: str) -> str:
    """The EIDO incident tracking id: the CAD's own when the call came from it."""
    if cad_incident_id:
        return cad_incident_id
    return f"urn:emergency:uid:incidentid:heart-{heart_call_id}:{agency}"


def eido_body(f: dict, *, key: str, agency: str) -> dict:
    """One EIDO update document for the facts (NENA-STA-021 v1.0, JSON)."""
    at = f["at"]
    original = incident_uri(
        cad_incident_id=f["cad_incident_id"], heart_call_id=f["heart_call_id"], agency=agency
    )
    unit = f["unit"]
    agent = f"urn:heart:unit:{unit['heart_team_id']}@{agency}"
    doc: dict = {
        **_prologue(original, at, agency),
        "eidoVersion": "1.0",
        "issuingElementIdentification": agency,
        "updatedByAgentReference": {"$ref": agent},
        "agencyComponent": [
            {
                **_prologue(agency, at, agency),
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyType": ["Other"],
            }
        ],
        "agentComponent": [
            {
                **_prologue(agent, at, agency),
                "agentRoleRegistryText": ["Responder"],
                "agencyReference": {"$ref": agency},
            }
        ],
        "emergencyResourceComponent": [
            {
                **_prologue(f"urn:heart:resource:{unit['heart_team_id']}@{agency}", at, agency),
                "agentReference": [{"$ref": agent}],
                "emergencyResourceTypeCommonRegistryText": "Other",
                "emergencyResourceTypeInternalText": "Crisis response team",
                "resourceAttributeRegistryText": ["Other"],
                "resourceAttributeInternalText": ["unarmed crisis response"],
                "emergencyResourceName": unit["name"] or "",
                "primaryUnitStatusRegistryText": EIDO_UNIT_STATUS.get(
                    f.get("status") or "", "Available" if f["type"] == "disposition" else "OnScene"
                ),
                "secondaryUnitStatusRegistryText": [],
                "unitStatusInternal": [f.get("status") or f["type"]],
            }
        ],
        "extensionHeart": {
            "message_id": key,
            "type": f["type"],
            "heart_event_id": f["heart_event_id"],
        },
    }
    incident: dict = {
        **_prologue(original, at, agency),
        "incidentTypeCommonRegistryText": "Other",
        "incidentStatusInternalText": [f["type"]],
    }
    if f["cad_incident_id"]:
        incident["internalIncidentId"] = f["cad_incident_id"]
    if f["type"] == "disposition":
        incident["incidentStatusCommonRegistryText"] = ["Closed"]
        incident["dispositionComponent"] = [
            {
                **_prologue(f"{original}:disposition", at, agency),
                "dispositionCommonRegistryCode": "Other",
                "dispositionPrimaryIndicator": True,
                "dispositionCategoryText": f["outcome"],
                "dispositionDescriptionText": f["outcome_label"],
            }
        ]
    elif f["type"] == "route_override":
        incident["incidentStatusInternalText"] = ["route_override", f.get("route") or ""]
    elif f["type"] == "backup_request":
        new_id = f"urn:emergency:uid:incidentid:heart-backup-{f['heart_backup_call_id']}:{agency}"
        loc_id = f"{new_id}:location"
        doc["$id"] = new_id
        incident = {
            **_prologue(new_id, at, agency),
            "incidentTypeCommonRegistryText": "Other",
            "incidentTypeInternalText": f["nature"],
            "incidentPriorityInternalText": "1",
            "incidentCommonPriorityNumber": 1,
            "incidentStatusInternalText": ["backup_request"],
        }
        lon, lat = f["location"]["lon"], f["location"]["lat"]
        if lon is not None and lat is not None:
            incident["locationReference"] = [{"$ref": loc_id}]
            doc["locationComponent"] = [
                {
                    **_prologue(loc_id, at, agency),
                    "locationTypeDescriptionRegistryText": "Other",
                    "locationByValue": _pidf_point(loc_id, lat, lon),
                }
            ]
        doc["linkComponent"] = [
            {
                **_prologue(f"{new_id}:link", at, agency),
                "incidentTrackingIdentifier": original,
                "linkDirectionCode": "PARENT",
                "transactionReasonText": "Police backup requested by a crisis response team",
            }
        ]
    doc["incidentComponent"] = incident
    return doc


def _pidf_point(ident: str, lat: float, lon: float) -> str:
    return (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" '
        f'entity="pres:{ident}"><tuple id="t1"><status><gp:geopriv><gp:location-info>'
        f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{lat:.6f} {lon:.6f}</gml:pos>'
        "</gml:Point></gp:location-info></gp:geopriv></status></tuple></presence>"
    )

"""Writes for calls: every call is triaged on arrival and stored with its decision."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from heart.calls.models import Call
from heart.domain.program import Program
from heart.domain.triage import CallInput, Decision, decide


def _fields(call: CallInput, decision: Decision, program: Program) -> dict:
    return {
        "received_at": call.received_at,
        "nature": call.nature or "",
        "priority": call.priority or "",
        "beat": call.beat or "",
        "lon": call.lon,
        "lat": call.lat,
        "narrative": call.narrative or "",
        "weapon_flag": call.weapon_flag,
        "violence_flag": call.violence_flag,
        "route": decision.route,
        "reasons": [{"code": r.code, "text": r.text} for r in decision.reasons],
        "rules_version": decision.rules_version,
        "program": program.name,
    }


def record_call(
    *, call: CallInput, program: Program, cad_incident_id: str | None = None, source: str = "cad"
) -> tuple[Call, bool]:
    """Triage and store a call; a repeated CAD id updates the same call. (call, created)."""
    decision = decide(program, call)
    fields = _fields(call, decision, program)
    if cad_incident_id is None:
        with transaction.atomic():
            return Call.objects.create(source=source, **fields), True
    try:
        with transaction.atomic():
            obj, created = Call.objects.select_for_update().update_or_create(
                cad_incident_id=cad_incident_id, defaults={**fields, "source": source}
            )
            return obj, created
    except IntegrityError:
        # a concurrent delivery of the same incident won the insert: update theirs
        with transaction.atomic():
            obj = Call.objects.select_for_update().get(cad_incident_id=cad_incident_id)
            for key, value in fields.items():
                setattr(obj, key, value)
            obj.save()
            return obj, False

"""A person's referrals as a FHIR bundle, modelled on the SDOH Clinical Care pattern:
each referral = a ServiceRequest (what is asked, for whom, of whom) + a Task (the
provider's tracked status, ``focus`` -> the ServiceRequest), with the Patient and each
provider as an Organization (+ HealthcareService) in one ``collection`` Bundle.

Built with ``fhir.resources.R4B`` models (FHIR 4.3.0; the version-8 package's R4-line
models: ``fhir.resources`` 8 has no plain 4.0.1 subpackage). Only elements that exist
unchanged in R4 (4.0.1) are used, so the JSON is valid R4 for these resources. Every
resource is validated when built, and the serialised bundle is parsed back once more.
See docs/care.md for the status mapping.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from heart.care.config import fhir_system
from heart.care.models import SERVICES, Person, Provider, Referral

FHIR_VERSION = "4.0.1"  # the R4 line; models from fhir.resources.R4B (see module doc)
SERVICE_LABELS = dict(SERVICES)

# referral status -> (ServiceRequest.status, Task.status)
STATUS_MAP = {
    "sent": ("active", "requested"),
    "accepted": ("active", "accepted"),
    "declined": ("revoked", "rejected"),
    "completed": ("completed", "completed"),
    "cancelled": ("revoked", "cancelled"),
}


def _uuid(kind: str, pk) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fhir_system()}/{kind}/{pk}"))


def _ref(kind: str, pk) -> Reference:
    return Reference(reference=f"urn:uuid:{_uuid(kind, pk)}")


def _service_concept(code: str) -> CodeableConcept:
    return CodeableConcept(
        coding=[Coding(system=f"{fhir_system()}:service", code=code, display=SERVICE_LABELS[code])],
        text=SERVICE_LABELS[code],
    )


def _instant(v: dt.datetime) -> str:
    return v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def patient(p: Person) -> Patient:
    data: dict = {
        "id": _uuid("person", p.pk),
        "identifier": [Identifier(system=f"{fhir_system()}:person", value=str(p.pk))],
    }
    if p.name:
        data["name"] = [HumanName(text=p.name)]
    if p.date_of_birth:
        data["birthDate"] = p.date_of_birth
    if p.phone:
        data["telecom"] = [ContactPoint(system="phone", value=p.phone)]
    return Patient(**data)


def organization(pr: Provider) -> Organization:
    data: dict = {"id": _uuid("provider", pr.pk), "name": pr.name, "active": pr.active}
    if pr.phone:
        data["telecom"] = [ContactPoint(system="phone", value=pr.phone)]
    if pr.address:
        data["address"] = [{"text": pr.address}]
    return Organization(**data)


def healthcare_service(pr: Provider) -> HealthcareService:
    return HealthcareService(
        id=_uuid("service", pr.pk),
        providedBy=_ref("provider", pr.pk),
        name=pr.name,
        type=[_service_concept(c) for c in pr.services],
        appointmentRequired=not pr.walk_in,
        availabilityExceptions=pr.hours or None,
        communication=[
            CodeableConcept(coding=[Coding(system="urn:ietf:bcp:47", code=lang)])
            for lang in pr.languages
        ]
        or None,
    )


def service_request(r: Referral) -> ServiceRequest:
    sr_status, _ = STATUS_MAP[r.status]
    return ServiceRequest(
        id=_uuid("servicerequest", r.pk),
        identifier=[Identifier(system=f"{fhir_system()}:referral", value=str(r.pk))],
        status=sr_status,
        intent="order",
        category=[
            CodeableConcept(
                coding=[
                    Coding(
                        system="http://snomed.info/sct", code="3457005", display="Patient referral"
                    )
                ]
            )
        ],
        code=_service_concept(r.service),
        subject=_ref("person", r.person_id),
        authoredOn=_instant(r.created_at),
        performer=[_ref("provider", r.provider_id)],
        locationReference=None,
    )


def task(r: Referral) -> Task:
    _, task_status = STATUS_MAP[r.status]
    return Task(
        id=_uuid("task", r.pk),
        status=task_status,
        intent="order",
        code=CodeableConcept(
            coding=[
                Coding(
                    system="http://hl7.org/fhir/CodeSystem/task-code",
                    code="fulfill",
                    display="Fulfill the focal request",
                )
            ]
        ),
        focus=_ref("servicerequest", r.pk),
        for_fhir=_ref("person", r.person_id),
        authoredOn=_instant(r.created_at),
        lastModified=_instant(r.status_changed_at),
        owner=_ref("provider", r.provider_id),
    )


def person_bundle(p: Person, *, now: dt.datetime) -> Bundle:
    """The person's referrals (ServiceRequest + Task), the Patient and the providers."""
    refs = list(Referral.objects.filter(person=p).select_related("provider").order_by("pk"))
    providers = {r.provider_id: r.provider for r in refs}
    entries = [(_uuid("person", p.pk), patient(p))]
    for pr in providers.values():
        entries.append((_uuid("provider", pr.pk), organization(pr)))
        entries.append((_uuid("service", pr.pk), healthcare_service(pr)))
    for r in refs:
        entries.append((_uuid("servicerequest", r.pk), service_request(r)))
        entries.append((_uuid("task", r.pk), task(r)))
    bundle = Bundle(
        id=_uuid("bundle", f"{p.pk}-{now.timestamp()}"),
        type="collection",
        timestamp=_instant(now),
        entry=[BundleEntry(fullUrl=f"urn:uuid:{u}", resource=res) for u, res in entries],
    )
    return bundle


def person_bundle_json(p: Person, *, now: dt.datetime) -> str:
    """Serialised and validated once more by parsing it back with the same models."""
    text = person_bundle(p, now=now).model_dump_json()
    Bundle.model_validate_json(text)
    return text

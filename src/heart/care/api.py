"""Care navigation endpoints (mounted under /api/care). Thin: check, call, serialise.

Role checks live in the services/selectors (heart.care.access) so the HTML pages and
the API share them. Every endpoint returning person details writes a PersonAudit row.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import AwareDatetime, Field, StringConstraints

from heart.accounts.auth import require
from heart.apikit import DEFAULT_PAGE, ERRORS, MAX_PAGE, PageOut, object_or_404
from heart.calls.models import Call
from heart.care import selectors, services
from heart.care.access import client_ip, require_see_people
from heart.care.fhir import person_bundle_json
from heart.care.models import FollowUpTask, Person
from heart.domain.care import RepeatSummary

# every text and list input has a bound (the services check the finer rules and name
# the field); a code, a language tag, a short label
Code = Annotated[str, StringConstraints(max_length=40)]
Lang = Annotated[str, StringConstraints(max_length=20)]
MAX_LANGUAGES = 20
NOTE_MAX = 10_000  # the service's own limit (HEART_CARE.note_max_chars) is lower

router = Router(tags=["care"])
# mounted at the API root: GET /api/follow-ups (its path predates /api/care)
contacts_router = Router(tags=["follow-up"])
NOTE = Field(
    "", max_length=NOTE_MAX, description="free text; at most HEART_CARE.note_max_chars (2000)"
)


# ------------------------------------------------------------------ schemas


class PersonIn(Schema):
    name: str = Field("", max_length=200)
    date_of_birth: str | None = Field(None, max_length=20, description="YYYY-MM-DD")
    phone: str = Field("", max_length=40)
    address: str = Field("", max_length=300)
    languages: list[Lang] = Field([], max_length=MAX_LANGUAGES)
    notes: str = Field("", max_length=NOTE_MAX)


class PersonPatch(Schema):
    name: str | None = Field(None, max_length=200)
    date_of_birth: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40)
    address: str | None = Field(None, max_length=300)
    languages: list[Lang] | None = Field(None, max_length=MAX_LANGUAGES)
    notes: str | None = Field(None, max_length=NOTE_MAX)


class PersonOut(Schema):
    id: int
    name: str
    date_of_birth: dt.date | None
    phone: str
    address: str
    languages: list[str]
    notes: str
    merged_into_id: int | None
    erased: bool
    repeat: RepeatSummary | None = None  # the domain dataclass, serialised as it is


def _person_out(p: Person, repeat=None) -> dict:
    return {
        "id": p.pk,
        "name": p.name,
        "date_of_birth": p.date_of_birth,
        "phone": p.phone,
        "address": p.address,
        "languages": p.languages,
        "notes": p.notes,
        "merged_into_id": p.merged_into_id,
        "erased": p.erased_at is not None,
        "repeat": repeat,
    }


class TaskOut(Schema):
    id: int
    due_at: dt.datetime
    overdue: bool
    state: str
    outcome: str
    encounter_id: int
    mode: str
    call_id: int
    person_id: int | None
    person_name: str
    taken_by: str | None
    first_attempt_at: dt.datetime | None


def _task_out(t, now) -> dict:
    p = t.encounter.person
    return {
        "id": t.pk,
        "due_at": t.due_at,
        "overdue": t.state == "open" and t.due_at <= now,
        "state": t.state,
        "outcome": t.outcome,
        "encounter_id": t.encounter_id,
        "mode": t.encounter.mode,
        "call_id": t.encounter.call_id,
        "person_id": p.pk if p else None,
        "person_name": p.name if p else "",
        "taken_by": t.taken_by.get_username() if t.taken_by else None,
        "first_attempt_at": t.first_attempt_at,
    }


class QueueOut(Schema):
    total_open: int
    overdue: int
    page: int
    pages: int
    tasks: list[TaskOut]


class AttemptIn(Schema):
    channel: str = Field(max_length=40, description="phone | in_person | text")
    outcome: str = Field(
        max_length=40,
        description="connected_to_care | declined | already_engaged | "
        "unable_to_reach | left_message | wrong_number | callback_requested",
    )
    note: str = NOTE
    consent_share: bool | None = None
    at: AwareDatetime | None = None


class AttemptOut(Schema):
    task: TaskOut
    attempt_id: int
    closed_reason: str


class ConsentIn(Schema):
    follow_up: bool | None = None
    share: bool | None = None


class ConsentOut(Schema):
    encounter_id: int
    consent_follow_up: bool
    consent_follow_up_at: dt.datetime | None
    consent_follow_up_by: str
    consent_share: bool
    consent_share_at: dt.datetime | None
    consent_share_by: str
    follow_up_task_id: int | None


class LinkIn(Schema):
    person_id: int


class MergeIn(Schema):
    duplicate_id: int


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_id: int
    moved: dict
    reasons: list[dict]
    undone_at: dt.datetime | None


class SuggestionOut(Schema):
    person_id: int
    name: str
    score: float
    reasons: list[dict]


class TimelineOut(Schema):
    at: dt.datetime
    kind: str
    text: str
    ref: str


class AuditOut(Schema):
    at: dt.datetime
    who: str
    action: str
    what: str
    ip: str | None


class ProviderIn(Schema):
    name: str = Field(max_length=200)
    services: list[Code] = Field(max_length=20)
    hours: str = Field("", max_length=300)
    address: str = Field("", max_length=300)
    phone: str = Field("", max_length=40)
    walk_in: bool = False
    languages: list[Lang] = Field(["en"], max_length=MAX_LANGUAGES)


class ProviderOut(Schema):
    id: int
    name: str
    services: list[str]
    hours: str
    address: str
    phone: str
    walk_in: bool
    languages: list[str]


class ReferralIn(Schema):
    provider_id: int | None = None
    service: str = Field(max_length=40)
    person_id: int | None = None
    task_id: int | None = None
    note: str = NOTE


class ReferralStatusIn(Schema):
    status: str = Field(max_length=20, description="accepted | declined | completed | cancelled")


class ReferralOut(Schema):
    id: int
    person_id: int
    provider_id: int
    service: str
    status: str
    task_id: int | None


class EraseIn(Schema):
    legal_basis: str = Field(max_length=500)


def _a(request):
    return request.auth


# ------------------------------------------------------------------ queue, tasks


@router.get("/queue", response={200: QueueOut, **ERRORS})
def queue(request, page: int = 1):
    """Open follow-ups by due time, overdue marked (care navigators, supervisors)."""
    q = selectors.queue_page(actor=_a(request), page=page, ip=client_ip(request), what="api:queue")
    return {
        "total_open": q.total_open,
        "overdue": q.overdue,
        "page": q.page,
        "pages": q.pages,
        "tasks": [_task_out(t, q.now) for t in q.rows],
    }


@router.get("/tasks/{task_id}", response={200: TaskOut, **ERRORS})
def task_detail(request, task_id: int):
    t = selectors.task_for(
        task_id=task_id, actor=_a(request), ip=client_ip(request), what="api:task"
    )
    return _task_out(t, timezone.now())


@router.post("/tasks/{task_id}/take", response={200: TaskOut, **ERRORS})
def take(request, task_id: int):
    """Claim a follow-up. Two at once: one wins, the other gets 409 naming who has it."""
    services.take_task(task_id=task_id, actor=_a(request))
    return task_detail(request, task_id)


@router.post("/tasks/{task_id}/release", response={200: TaskOut, **ERRORS})
def release(request, task_id: int):
    services.release_task(task_id=task_id, actor=_a(request))
    return task_detail(request, task_id)


@router.post("/tasks/{task_id}/attempts", response={200: AttemptOut, **ERRORS})
def attempt(request, task_id: int, payload: AttemptIn):
    t, a = services.log_attempt(
        task_id=task_id,
        actor=_a(request),
        channel=payload.channel,
        outcome=payload.outcome,
        note=payload.note,
        consent_share=payload.consent_share,
        at=payload.at,
        ip=client_ip(request),
    )
    t = selectors.task_for(task_id=t.pk, actor=_a(request), ip=client_ip(request), what="api:task")
    return {
        "task": _task_out(t, timezone.now()),
        "attempt_id": a.pk,
        "closed_reason": t.closed_reason,
    }


# ------------------------------------------------------------------ encounters


@router.post("/encounters/{encounter_id}/consent", response={200: ConsentOut, **ERRORS})
def consent(request, encounter_id: int, payload: ConsentIn):
    """Record consent to follow-up / to share with providers (who and when: you, now)."""
    e = services.record_consent(
        encounter_id=encounter_id,
        actor=_a(request),
        follow_up=payload.follow_up,
        share=payload.share,
        ip=client_ip(request),
    )
    task = FollowUpTask.objects.filter(encounter=e).first()
    return {
        "encounter_id": e.pk,
        "consent_follow_up": e.consent_follow_up,
        "consent_follow_up_at": e.consent_follow_up_at,
        "consent_follow_up_by": e.consent_follow_up_by,
        "consent_share": e.consent_share,
        "consent_share_at": e.consent_share_at,
        "consent_share_by": e.consent_share_by,
        "follow_up_task_id": task.pk if task else None,
    }


@router.post("/encounters/{encounter_id}/person", response={200: dict, **ERRORS})
def link(request, encounter_id: int, payload: LinkIn):
    e = services.link_encounter(
        encounter_id=encounter_id,
        person_id=payload.person_id,
        actor=_a(request),
        ip=client_ip(request),
    )
    return {"encounter_id": e.pk, "person_id": e.person_id}


# ------------------------------------------------------------------ people


class PersonPageOut(PageOut):
    items: list[PersonOut]


@router.get("/people", response={200: PersonPageOut, **ERRORS})
def search(
    request,
    q: str = Query("", max_length=200),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})"),
):
    """People by name or phone, by name: a page with the total that matched."""
    page = selectors.search_people(
        actor=_a(request), q=q, ip=client_ip(request), cursor=cursor, limit=limit
    )
    return page.out(_person_out)


@router.post("/people", response={201: PersonOut, **ERRORS})
def create_person(request, payload: PersonIn):
    p = services.create_person(actor=_a(request), ip=client_ip(request), **payload.dict())
    return Status(201, _person_out(p))


@router.get("/people/{person_id}", response={200: PersonOut, **ERRORS})
def person(request, person_id: int):
    p = selectors.person_for(
        person_id=person_id, actor=_a(request), ip=client_ip(request), what="api:person"
    )
    return _person_out(p, selectors.repeat_for_person(p))


@router.patch("/people/{person_id}", response={200: PersonOut, **ERRORS})
def update_person(request, person_id: int, payload: PersonPatch):
    fields = payload.dict(exclude_unset=True)
    p = services.update_person(
        person_id=person_id, actor=_a(request), ip=client_ip(request), **fields
    )
    return _person_out(p)


@router.get("/people/{person_id}/timeline", response={200: list[TimelineOut], **ERRORS})
def timeline(request, person_id: int):
    return [
        {"at": i.at, "kind": i.kind, "text": i.text, "ref": i.ref}
        for i in selectors.timeline_for(
            person_id=person_id, actor=_a(request), ip=client_ip(request)
        )
    ]


@router.get("/people/{person_id}/duplicates", response={200: list[SuggestionOut], **ERRORS})
def duplicates(request, person_id: int):
    """Probable duplicates with a reason per matching component."""
    return [
        {"person_id": s.person.pk, "name": s.person.name, "score": s.score, "reasons": s.reasons}
        for s in selectors.duplicates_for(
            person_id=person_id, actor=_a(request), ip=client_ip(request)
        )
    ]


@router.post("/people/{person_id}/merge", response={200: MergeOut, **ERRORS})
def merge(request, person_id: int, payload: MergeIn):
    """Merge duplicate_id into this person (supervisors and care navigators)."""
    m = services.merge_people(
        survivor_id=person_id,
        duplicate_id=payload.duplicate_id,
        actor=_a(request),
        ip=client_ip(request),
    )
    return _merge_out(m)


def _merge_out(m) -> dict:
    return {
        "id": m.pk,
        "survivor_id": m.survivor_id,
        "merged_id": m.merged_id,
        "moved": m.moved,
        "reasons": m.reasons,
        "undone_at": m.undone_at,
    }


@router.post("/merges/{merge_id}/undo", response={200: MergeOut, **ERRORS})
def unmerge(request, merge_id: int):
    return _merge_out(
        services.unmerge_people(merge_id=merge_id, actor=_a(request), ip=client_ip(request))
    )


class AuditPageOut(PageOut):
    items: list[AuditOut]


@router.get("/people/{person_id}/audit", response={200: AuditPageOut, **ERRORS})
def audit(
    request,
    person_id: int,
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})"),
):
    """Who looked at or changed this person (supervisors), newest first, paged."""
    page = selectors.who_viewed(
        person_id=person_id, actor=_a(request), ip=client_ip(request), cursor=cursor, limit=limit
    )
    return page.out(
        lambda r: {"at": r.at, "who": r.actor_label, "action": r.action, "what": r.what, "ip": r.ip}
    )


@router.get("/people/{person_id}/export", response={200: dict, **ERRORS})
def export(request, person_id: int):
    """Everything held on the person (subject access request; supervisors)."""
    return services.export_person(person_id=person_id, actor=_a(request), ip=client_ip(request))


@router.post("/people/{person_id}/erase", response={200: dict, **ERRORS})
def erase(request, person_id: int, payload: EraseIn):
    """Erase on lawful request (supervisors): identifiers go, statistics stay."""
    p = services.erase_person(
        person_id=person_id,
        actor=_a(request),
        legal_basis=payload.legal_basis,
        ip=client_ip(request),
    )
    return {"person_id": p.pk, "erased_at": p.erased_at.isoformat()}


@router.get("/people/{person_id}/fhir", response={200: dict, **ERRORS})
def fhir_bundle(request, person_id: int):
    """The person's referrals as a FHIR R4 Bundle (ServiceRequest + Task per referral)."""
    p = selectors.person_for(
        person_id=person_id, actor=_a(request), ip=client_ip(request), what="api:fhir"
    )
    text = person_bundle_json(p, now=timezone.now())
    return HttpResponse(text, content_type="application/fhir+json")


# ------------------------------------------------------------------ providers, referrals


def _provider_out(p) -> dict:
    return {
        f: getattr(p, f)
        for f in ("id", "name", "services", "hours", "address", "phone", "walk_in", "languages")
    }


@router.get("/providers", response={200: list[ProviderOut], **ERRORS})
def providers(request, service: str = Query("", max_length=40)):
    require_see_people(_a(request))
    return [_provider_out(p) for p in selectors.active_providers(service=service)]


@router.post("/providers", response={201: ProviderOut, **ERRORS})
def create_provider(request, payload: ProviderIn):
    return Status(201, _provider_out(services.create_provider(actor=_a(request), **payload.dict())))


def _referral_out(r) -> dict:
    return {
        "id": r.pk,
        "person_id": r.person_id,
        "provider_id": r.provider_id,
        "service": r.service,
        "status": r.status,
        "task_id": r.task_id,
    }


@router.post("/referrals", response={201: ReferralOut, **ERRORS})
def create_referral(request, payload: ReferralIn):
    r = services.create_referral(actor=_a(request), ip=client_ip(request), **payload.dict())
    return Status(201, _referral_out(r))


@router.post("/referrals/{referral_id}/status", response={200: ReferralOut, **ERRORS})
def referral_status(request, referral_id: int, payload: ReferralStatusIn):
    return _referral_out(
        services.set_referral_status(
            referral_id=referral_id, status=payload.status, actor=_a(request), ip=client_ip(request)
        )
    )


# ------------------------------------------------------------------ calls, reports


@router.get("/calls/{call_id}/repeat", response={200: RepeatSummary, **ERRORS})
def call_repeat(request, call_id: int):
    """For the dispatcher: "3 calls in 30 days; last handled by a team 4 days ago;
    follow-up open". Counts only, no personal data."""
    require(request, "dispatch", "view_calls")
    c = object_or_404(Call, call_id, what="call", path="call_id")
    return selectors.repeat_for_call(c)


@router.get("/calls/{call_id}/people", response={200: list[PersonOut], **ERRORS})
def call_people(request, call_id: int):
    """The people linked to a call. Responders: only their team's current call."""
    object_or_404(Call, call_id, what="call", path="call_id")
    return [
        _person_out(p)
        for p in selectors.people_on_call(call_id=call_id, actor=_a(request), ip=client_ip(request))
    ]


@router.get("/reports/sla", response={200: dict, **ERRORS})
def sla(request, since: AwareDatetime | None = None):
    """Share of follow-ups first attempted within 48 h, per week and per navigator."""
    require(request, "view_reports", "follow_up")
    return selectors.sla(since=since)


@router.get("/reports/before-after", response={200: dict, **ERRORS})
def before_after(request):
    """911 calls per person in the 90 days before and after first HEART contact."""
    require(request, "view_reports")
    return selectors.before_after_measure()


# ------------------------------------------------------------------ follow-up contacts


class FollowUpOut(Schema):
    call_id: int
    outcome: str
    recorded_at: dt.datetime
    contact_name: str
    contact_phone: str
    contact_notes: str
    destination: str
    referred_to: str


class FollowUpPageOut(PageOut):
    items: list[FollowUpOut]


@contacts_router.get("/follow-ups", response={200: FollowUpPageOut, **ERRORS})
def follow_ups(
    request,
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description=f"page size (max {MAX_PAGE})"),
):
    """People who consented to follow-up, with their contact details (care navigators,
    supervisors, admins), newest first: a page with the total. Every row shown is
    audited (PersonAudit, docs/care.md)."""
    page = services.follow_up_contacts(
        actor=_a(request), ip=client_ip(request), cursor=cursor, limit=limit
    )
    return page.out(
        lambda d: {
            "call_id": d.call_id,
            "outcome": d.outcome,
            "recorded_at": d.recorded_at,
            "contact_name": d.contact_name,
            "contact_phone": d.contact_phone,
            "contact_notes": d.contact_notes,
            "destination": d.destination,
            "referred_to": d.referred_to,
        }
    )

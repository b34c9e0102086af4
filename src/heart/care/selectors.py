"""Reads for care navigation.

Functions that return a person's details take the actor and write the PersonAudit row
(reading a person record IS an audited event): ``person_for``, ``timeline_for``,
``duplicates_for``, ``queue_page``, ``people_on_call``. Aggregates (SLA, the
before/after measure, repeat-call summaries for dispatchers) carry no personal data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db.models import Count, Max, Q
from django.utils import timezone

from heart.accounts.actors import Actor
from heart.accounts.auth import can
from heart.apikit import DEFAULT_PAGE, Page, keyset_page
from heart.calls.models import Call, Disposition
from heart.care.access import (
    can_see_people,
    log_access,
    require_follow_up,
    require_see_people,
    require_supervise_people,
)
from heart.care.config import program_tz, rules
from heart.care.models import (
    Encounter,
    FollowUpAttempt,
    FollowUpTask,
    Person,
    PersonAudit,
    PersonMerge,
    Provider,
    Referral,
    ReferralEvent,
)
from heart.domain.care import (
    BeforeAfter,
    CallRef,
    RepeatSummary,
    SlaTask,
    calls_before_after,
    duplicate_score,
    normalize_address,
    normalize_name,
    normalize_phone,
    repeat_summary,
    sla_report,
    summarise_before_after,
)
from heart.errors import Forbidden, NotFound
from heart.teams.selectors import team_for_user

# ------------------------------------------------------------------ the queue


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[FollowUpTask]
    total_open: int
    overdue: int
    page: int
    pages: int
    now: dt.datetime


def queue_page(
    *,
    actor: Actor,
    now: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 100,
    ip: str | None = None,
    what: str = "queue",
) -> QueuePage:
    """Open follow-ups by due time (overdue first by nature); audits the people shown."""
    require_see_people(actor)
    now = now or timezone.now()
    base = FollowUpTask.objects.filter(state=FollowUpTask.State.OPEN)
    total = base.count()
    overdue = base.filter(due_at__lte=now).count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = list(
        base.order_by("due_at", "id")
        .annotate(n_attempts=Count("attempts"), last_contact=Max("attempts__at"))
        .select_related("encounter__person", "encounter__call", "taken_by")
        .only(
            "id",
            "due_at",
            "taken_at",
            "first_attempt_at",
            "state",
            "encounter__id",
            "encounter__mode",
            "encounter__outcome",
            "encounter__closed_at",
            "encounter__call__id",
            "encounter__call__nature",
            "encounter__person__id",
            "encounter__person__name",
            "encounter__person__phone",
            "taken_by__id",
            "taken_by__username",
        )[(page - 1) * per_page : page * per_page]
    )
    for t in rows:
        t.overdue = t.due_at <= now
    log_access(
        actor=actor,
        person_ids=[t.encounter.person_id for t in rows],
        action="read",
        what=what,
        ip=ip,
        at=now,
    )
    return QueuePage(rows, total, overdue, page, pages, now)


def task_for(*, task_id: int, actor: Actor, ip: str | None = None, what: str = "task"):
    require_see_people(actor)
    t = (
        FollowUpTask.objects.select_related("encounter__person", "encounter__call", "taken_by")
        .prefetch_related("attempts", "referrals__provider")
        .filter(pk=task_id)
        .first()
    )
    if t is None:
        raise NotFound(f"task_id: no follow-up {task_id}", path="task_id")
    if t.encounter.person_id:
        log_access(actor=actor, person_ids=t.encounter.person_id, action="read", what=what, ip=ip)
    return t


# ------------------------------------------------------------------ providers


def active_providers(*, service: str = "") -> list[Provider]:
    """The directory (no personal data), by name; only those offering ``service``."""
    return [p for p in Provider.objects.filter(active=True) if not service or service in p.services]


def directory(*, actor: Actor) -> list[Provider]:
    """The whole directory for the navigators' screen: active first, then inactive."""
    require_follow_up(actor)
    return list(Provider.objects.order_by("-active", "name"))


def provider(*, actor: Actor, provider_id: int) -> Provider:
    require_follow_up(actor)
    p = Provider.objects.filter(pk=provider_id).first()
    if p is None:
        raise NotFound(f"provider_id: no provider {provider_id}", path="provider_id")
    return p


# ------------------------------------------------------------------ people


def person_for(
    *, person_id: int, actor: Actor, ip: str | None = None, what: str = "person"
) -> Person:
    require_see_people(actor)
    p = Person.objects.filter(pk=person_id).first()
    if p is None:
        raise NotFound(f"person_id: no person {person_id}", path="person_id")
    log_access(actor=actor, person_ids=p.pk, action="read", what=what, ip=ip)
    return p


def search_people(
    *,
    actor: Actor,
    q: str,
    ip: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """People whose name or phone matches, by name: one keyset page with the total."""
    require_see_people(actor)
    q = (q or "").strip()[:200]
    if not q:
        return Page([], 0, limit, None)
    digits = normalize_phone(q)
    cond = Q(name_key__contains=normalize_name(q)) if normalize_name(q) else Q(pk__in=[])
    if len(digits) >= 4:
        cond |= Q(phone_digits__contains=digits)
    page = keyset_page(
        Person.objects.filter(cond, merged_into__isnull=True, erased_at__isnull=True),
        key=("name_key", "id"),
        kinds=(str, int),
        descending=False,
        cursor=cursor,
        limit=limit,
    )
    log_access(
        actor=actor, person_ids=[p.pk for p in page.items], action="read", what="search", ip=ip
    )
    return page


@dataclass(frozen=True, slots=True)
class Suggestion:
    person: Person
    score: float
    reasons: list[dict]


def duplicate_candidates(p: Person, limit: int = 500):
    """Blocking: same phone, same date of birth, same address or a name sharing the
    first 3 letters of a word. Scoring is the domain's duplicate_score()."""
    cond = Q(pk__in=[])
    if p.phone_digits:
        cond |= Q(phone_digits=p.phone_digits)
    if p.date_of_birth:
        cond |= Q(date_of_birth=p.date_of_birth)
    if p.address_key:
        cond |= Q(address_key=p.address_key)
    for word in p.name_key.split()[:3]:
        if len(word) >= 3:
            cond |= Q(name_key__startswith=word[:3]) | Q(name_key__contains=" " + word[:3])
    return (
        Person.objects.filter(cond, merged_into__isnull=True, erased_at__isnull=True)
        .exclude(pk=p.pk)
        .order_by("pk")[:limit]
    )


def duplicates_for(*, person_id: int, actor: Actor, ip: str | None = None) -> list[Suggestion]:
    require_see_people(actor)
    p = person_for(person_id=person_id, actor=actor, ip=ip, what="duplicates")
    if not p.active:
        return []
    threshold = rules().duplicate_threshold
    out = []
    for q in duplicate_candidates(p):
        s = duplicate_score(p.key, q.key)
        if s.score >= threshold:
            out.append(
                Suggestion(q, s.score, [{"code": r.code, "text": r.text} for r in s.reasons])
            )
    out.sort(key=lambda s: (-s.score, s.person.pk))
    log_access(
        actor=actor,
        person_ids=[s.person.pk for s in out],
        action="read",
        what="duplicate-suggestion",
        ip=ip,
    )
    return out


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: dt.datetime
    kind: str  # call | encounter | follow_up | attempt | referral
    text: str
    ref: str  # "call:12", "task:3", ...


def timeline_for(*, person_id: int, actor: Actor, ip: str | None = None) -> list[TimelineItem]:
    """Encounters, calls, follow-ups (and attempts), referrals: one list, newest first."""
    p = person_for(person_id=person_id, actor=actor, ip=ip, what="timeline")
    return _timeline(p)


def _timeline(p: Person) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    encs = list(Encounter.objects.filter(person=p).select_related("call"))
    seen_calls = set()
    for e in encs:
        if e.call_id not in seen_calls:
            seen_calls.add(e.call_id)
            items.append(
                TimelineItem(
                    e.call.received_at,
                    "call",
                    f"Call {e.call_id}: {e.call.nature} ({e.call.route})",
                    f"call:{e.call_id}",
                )
            )
        consent = []
        if e.consent_follow_up:
            consent.append(f"consent to follow-up ({e.consent_follow_up_by})")
        if e.consent_share:
            consent.append(f"consent to share ({e.consent_share_by})")
        items.append(
            TimelineItem(
                e.closed_at,
                "encounter",
                f"{e.get_mode_display()} encounter: {e.outcome.replace('_', ' ')}"
                + (f"; {', '.join(consent)}" if consent else ""),
                f"encounter:{e.pk}",
            )
        )
    tasks = FollowUpTask.objects.filter(encounter__person=p)
    for t in tasks:
        items.append(
            TimelineItem(
                t.due_at,
                "follow_up",
                f"Follow-up due ({t.state}{': ' + t.outcome if t.outcome else ''})",
                f"task:{t.pk}",
            )
        )
    for a in FollowUpAttempt.objects.filter(task__encounter__person=p):
        items.append(
            TimelineItem(
                a.at,
                "attempt",
                f"Attempt by {a.channel.replace('_', ' ')}: "
                f"{a.get_outcome_display()} ({a.by_label})",
                f"task:{a.task_id}",
            )
        )
    for ev in ReferralEvent.objects.filter(referral__person=p).select_related("referral__provider"):
        items.append(
            TimelineItem(
                ev.at,
                "referral",
                f"Referral to {ev.referral.provider.name} "
                f"({ev.referral.get_service_display()}): {ev.status}",
                f"referral:{ev.referral_id}",
            )
        )
    items.sort(key=lambda i: (i.at, i.kind), reverse=True)
    return items


def merges_for(person: Person):
    return PersonMerge.objects.filter(Q(survivor=person) | Q(merged=person)).order_by("-at")


def who_viewed(
    *,
    person_id: int,
    actor: Actor,
    ip: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> Page:
    """The audit of one person (supervisors), newest first: one keyset page with the
    total. Listing it is itself audited. Erased and merged people keep their audit; an
    id that never was a person is NotFound."""
    require_supervise_people(actor)
    if not Person.objects.filter(pk=person_id).exists():
        raise NotFound(f"person_id: no person {person_id}", path="person_id")
    page = keyset_page(
        PersonAudit.objects.filter(person_id=person_id),
        key=("at", "id"),
        kinds=(dt.datetime, int),
        descending=True,
        cursor=cursor,
        limit=limit,
    )
    log_access(actor=actor, person_ids=person_id, action="read", what="audit", ip=ip)
    return page


def people_on_call(*, call_id: int, actor: Actor, ip: str | None = None) -> list[Person]:
    """The people linked to a call. Responders: only their team's current call."""
    if not can_see_people(actor):
        if not can(actor, "respond"):
            raise Forbidden(f"{actor.label} may not see person details")
        team = team_for_user(user=actor.user)
        if team is None or team.current_call_id != call_id:
            raise Forbidden(f"{actor.label} may see only the person on their team's current call")
    people = list(
        Person.objects.filter(encounters__call_id=call_id, erased_at__isnull=True).distinct()
    )
    log_access(
        actor=actor,
        person_ids=[p.pk for p in people],
        action="read",
        what="call",
        ip=ip,
        data={"call_id": call_id},
    )
    return people


def person_export_data(p: Person) -> dict:
    def iso(v):
        return v.isoformat() if v else None

    encs = Encounter.objects.filter(person=p).order_by("closed_at")
    return {
        "person": {
            "id": p.pk,
            "name": p.name,
            "date_of_birth": iso(p.date_of_birth),
            "phone": p.phone,
            "address": p.address,
            "languages": p.languages,
            "notes": p.notes,
            "created_at": iso(p.created_at),
            "erased_at": iso(p.erased_at),
        },
        "encounters": [
            {
                "id": e.pk,
                "call_id": e.call_id,
                "mode": e.mode,
                "outcome": e.outcome,
                "occurred_at": iso(e.occurred_at),
                "closed_at": iso(e.closed_at),
                "consent_follow_up": e.consent_follow_up,
                "consent_follow_up_at": iso(e.consent_follow_up_at),
                "consent_follow_up_by": e.consent_follow_up_by,
                "consent_share": e.consent_share,
                "consent_share_at": iso(e.consent_share_at),
                "consent_share_by": e.consent_share_by,
            }
            for e in encs
        ],
        "follow_ups": [
            {
                "id": t.pk,
                "encounter_id": t.encounter_id,
                "due_at": iso(t.due_at),
                "state": t.state,
                "outcome": t.outcome,
                "closed_at": iso(t.closed_at),
                "attempts": [
                    {
                        "at": iso(a.at),
                        "channel": a.channel,
                        "outcome": a.outcome,
                        "note": a.note,
                        "by": a.by_label,
                    }
                    for a in t.attempts.all()
                ],
            }
            for t in FollowUpTask.objects.filter(encounter__person=p).prefetch_related("attempts")
        ],
        "referrals": [
            {
                "id": r.pk,
                "provider": r.provider.name,
                "service": r.service,
                "status": r.status,
                "note": r.note,
                "created_at": iso(r.created_at),
            }
            for r in Referral.objects.filter(person=p).select_related("provider")
        ],
        "access_log": [
            {"at": iso(a.at), "who": a.actor_label, "action": a.action, "what": a.what}
            for a in PersonAudit.objects.filter(person_id=p.pk).order_by("at", "id")
        ],
    }


# ------------------------------------------------------------------ repeat calls


def _calls_at_address(address: str, *, start: dt.datetime, end: dt.datetime):
    key = normalize_address(address)
    if not key:
        return []
    first = address.strip().split()[0] if address.strip() else ""
    qs = Call.objects.filter(received_at__gte=start, received_at__lte=end).exclude(address="")
    if first:
        qs = qs.filter(address__istartswith=first)
    return [
        c for c in qs.only("id", "received_at", "address") if normalize_address(c.address) == key
    ]


def _summary(call_ids: set[int], *, now: dt.datetime, start: dt.datetime) -> RepeatSummary:
    calls = list(
        Call.objects.filter(pk__in=call_ids, received_at__gte=start).only("id", "received_at")
    )
    team_calls = set(
        Disposition.objects.filter(call_id__in=call_ids).values_list("call_id", flat=True)
    )
    follow_open = FollowUpTask.objects.filter(
        encounter__call_id__in=call_ids, state=FollowUpTask.State.OPEN
    ).exists()
    return repeat_summary(
        [CallRef(c.received_at, c.pk in team_calls) for c in calls],
        now=now,
        follow_up_open=follow_open,
        rules=rules(),
    )


def repeat_for_person(person: Person, *, now: dt.datetime | None = None) -> RepeatSummary:
    """Same person (their encounters' calls) or same address, within the window."""
    now = now or timezone.now()
    start = now - dt.timedelta(days=rules().repeat_window_days)
    ids = set(Encounter.objects.filter(person=person).values_list("call_id", flat=True))
    ids |= {c.pk for c in _calls_at_address(person.address, start=start, end=now)}
    return _summary(ids, now=now, start=start)


def repeat_for_call(call: Call, *, now: dt.datetime | None = None) -> RepeatSummary:
    """For the dispatcher on a new call: earlier calls at the same address, or of the
    people linked to that address. Counts and times only (no personal data)."""
    now = now or timezone.now()
    start = now - dt.timedelta(days=rules().repeat_window_days)
    ids = {c.pk for c in _calls_at_address(call.address, start=start, end=now)}
    key = normalize_address(call.address)
    if key:
        people = Person.objects.filter(address_key=key, merged_into__isnull=True)
        ids |= set(Encounter.objects.filter(person__in=people).values_list("call_id", flat=True))
    ids.add(call.pk)
    return _summary(ids, now=now, start=start)


# ------------------------------------------------------------------ measures, SLA


def before_after_for(p: Person, *, now: dt.datetime) -> tuple[dt.datetime, BeforeAfter] | None:
    first = Encounter.objects.filter(person=p).order_by("occurred_at").first()
    if first is None:
        return None
    days = rules().measure_window_days
    w = dt.timedelta(days=days)
    lo, hi = first.occurred_at - w, first.occurred_at + w
    ids = set(Encounter.objects.filter(person=p).values_list("call_id", flat=True))
    times = {c.pk: c.received_at for c in Call.objects.filter(pk__in=ids)}
    for c in _calls_at_address(p.address, start=lo, end=hi):
        times[c.pk] = c.received_at
    times.pop(first.call_id, None)
    return first.occurred_at, calls_before_after(
        first.occurred_at, times.values(), now=now, days=days
    )


def before_after_measure(*, now: dt.datetime | None = None) -> dict:
    """911 calls per person in the N days before and after their first HEART contact.

    Calls are attributed to a person through their encounters and their address.
    Erased people count with the figures frozen at erasure."""
    now = now or timezone.now()
    rows: list[BeforeAfter] = []
    for p in Person.objects.filter(merged_into__isnull=True).iterator():
        if p.erased_at is not None:
            d = p.deidentified or {}
            if "calls_before" in d:
                first = dt.datetime.fromisoformat(d["first_contact"])
                rows.append(
                    BeforeAfter(
                        d["calls_before"],
                        d["calls_after"],
                        now >= first + dt.timedelta(days=rules().measure_window_days),
                    )
                )
            continue
        r = before_after_for(p, now=now)
        if r is not None:
            rows.append(r[1])
    s = summarise_before_after(rows)
    return {"window_days": rules().measure_window_days, **asdict(s)}


def sla(*, now: dt.datetime | None = None, since: dt.datetime | None = None) -> dict:
    """Share of follow-ups first attempted within the due hours, per ISO week and per
    navigator (who made the first attempt)."""
    now = now or timezone.now()
    qs = FollowUpTask.objects.select_related("encounter").only(
        "first_attempt_at", "first_attempt_by", "encounter__closed_at"
    )
    if since is not None:
        qs = qs.filter(encounter__closed_at__gte=since)
    tasks = [
        SlaTask(t.encounter.closed_at, t.first_attempt_at, t.first_attempt_by.removeprefix("user:"))
        for t in qs
    ]
    r = sla_report(tasks, now=now, tz=program_tz(), rules=rules())

    def rows(xs):
        return [{"key": x.key, "due": x.due, "within": x.within, "share": x.share} for x in xs]

    return {
        "hours": r.hours,
        "overall": rows([r.overall])[0],
        "by_week": rows(r.by_week),
        "by_navigator": rows(r.by_navigator),
    }

"""Care navigation services and selectors: every rule of issue 4 (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from heart.accounts.actors import SYSTEM
from heart.calls.models import Call, Disposition
from heart.care import selectors, services
from heart.care.fhir import person_bundle_json
from heart.care.models import (
    AppendOnlyError,
    Encounter,
    FollowUpAttempt,
    FollowUpTask,
    Person,
    PersonAudit,
    Provider,
    Referral,
)
from heart.domain.care import REFERRAL_TRANSITIONS
from heart.errors import Conflict, Forbidden, Invalid, NotFound
from heart.teams.services import DispositionInput, assign_team, change_status, clear_call
from tests.integration.test_care_support import actor, ccd, disposition, make_call

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


@pytest.fixture
def nav(person):
    return actor(person("care_navigator"))


@pytest.fixture
def sup(person):
    return actor(person("supervisor"))


@pytest.fixture
def provider(nav):
    return services.create_provider(
        actor=nav,
        name="Durham Recovery Center",
        services=["mental_health", "substance_use"],
        hours="24/7",
        address="1 Recovery Way",
        phone="919-555-0199",
        walk_in=True,
        languages=["en", "es"],
    )


def recent(hours=1):
    return timezone.now() - dt.timedelta(hours=hours)


# ------------------------------------------------------------------ encounters and hooks


def test_clear_call_with_consent_creates_encounter_person_and_task(
    program, staffed_team, on_duty_now, django_capture_on_commit_callbacks
):
    team = staffed_team("T1", now=on_duty_now)
    call = make_call(at=on_duty_now)
    assign_team(call=call, team=team, actor=SYSTEM, program=program, now=on_duty_now)
    for s in ("en_route", "on_scene"):
        change_status(team=team, status=s, actor=SYSTEM, now=on_duty_now)
    with django_capture_on_commit_callbacks(execute=True):  # care runs after the commit
        d = clear_call(
            team=team,
            disposition=DispositionInput(
                outcome="referred",
                referred_to="clinic",
                consent_follow_up=True,
                contact_name="Maria Lopez",
                contact_phone="919-555-0101",
            ),
            actor=SYSTEM,
            now=on_duty_now,
        )
    enc = Encounter.objects.get(disposition=d)
    assert enc.mode == "in_person" and enc.team == team and enc.consent_follow_up
    assert enc.consent_follow_up_by == "system" and enc.consent_follow_up_at == on_duty_now
    assert enc.person.name == "Maria Lopez" and enc.person.phone_digits == "9195550101"
    assert enc.follow_up.due_at == on_duty_now + dt.timedelta(hours=48)
    assert PersonAudit.objects.filter(person_id=enc.person_id, action="create").exists()


def test_no_consent_no_task_and_no_person():
    enc = disposition(at=recent(), consent=False)
    assert enc.person is None and not FollowUpTask.objects.filter(encounter=enc).exists()


def test_exact_contact_match_reuses_the_person_fuzzy_does_not():
    a = disposition(at=recent(5))
    b = disposition(at=recent(4), phone="(919) 555 0101")  # same name + same digits
    c = disposition(at=recent(3), name="Maria Lopes")  # fuzzy: a new record, suggested
    assert a.person_id == b.person_id != c.person_id


def test_the_disposition_hook_twice_records_one_encounter():
    enc = disposition(at=recent())
    d = Disposition.objects.get(pk=enc.disposition_id)
    rows = PersonAudit.objects.count()
    again = services.record_encounter_from_disposition(disposition=d, actor=SYSTEM)
    assert again.pk == enc.pk and Encounter.objects.filter(disposition=d).count() == 1
    assert FollowUpTask.objects.filter(encounter=enc).count() == 1
    assert Person.objects.count() == 1 and PersonAudit.objects.count() == rows


def test_ccd_outcome_phone_encounter_then_consent_opens_task(
    program, person, nav, django_capture_on_commit_callbacks
):
    from heart.intake.services import record_ccd_outcome

    clinician = actor(person("crisis_clinician"))
    call = make_call(at=timezone.now(), route="ccd")
    with django_capture_on_commit_callbacks(execute=True):  # care runs after the commit
        o = record_ccd_outcome(
            call=call, outcome="resolved_by_phone", actor=clinician, program=program
        )
    enc = Encounter.objects.get(ccd_outcome=o)
    assert enc.mode == "phone" and not enc.consent_follow_up
    assert not FollowUpTask.objects.filter(encounter=enc).exists()
    enc = services.record_consent(encounter_id=enc.pk, actor=clinician, follow_up=True, share=True)
    assert enc.consent_follow_up_by == clinician.label and enc.consent_share
    task = FollowUpTask.objects.get(encounter=enc)
    assert task.due_at == enc.closed_at + dt.timedelta(hours=48)
    services.record_consent(encounter_id=enc.pk, actor=clinician, follow_up=False)
    task.refresh_from_db()
    assert task.state == "closed" and task.outcome == "consent_withdrawn"


def test_responders_cannot_record_consent(person):
    enc = ccd(at=recent())
    with pytest.raises(Forbidden):
        services.record_consent(
            encounter_id=enc.pk, actor=actor(person("responder")), follow_up=True
        )


# ------------------------------------------------------------------ 48 h across DST


def test_due_48_elapsed_hours_across_dst_change():
    closed = dt.datetime(2024, 3, 9, 10, 0, tzinfo=NY)  # DST begins 2024-03-10 02:00
    enc = disposition(at=closed)
    due = enc.follow_up.due_at
    assert due - closed == dt.timedelta(hours=48)
    assert timezone.localtime(due, NY).strftime("%Y-%m-%d %H:%M") == "2024-03-11 11:00"


def test_due_hours_are_a_program_setting(settings):
    settings.HEART_CARE = {"follow_up_due_hours": 24}
    at = recent()
    assert disposition(at=at).follow_up.due_at == at + dt.timedelta(hours=24)


# ------------------------------------------------------------------ attempts, N rule, taking


def test_closes_after_n_failed_attempts(nav, settings):
    settings.HEART_CARE = {"max_failed_attempts": 3}
    t = disposition(at=recent(5)).follow_up
    for i, o in enumerate(["unable_to_reach", "left_message", "wrong_number"]):
        t, _ = services.log_attempt(task_id=t.pk, actor=nav, channel="phone", outcome=o)
        assert (t.state == "closed") == (i == 2)
    assert t.outcome == "unable_to_reach" and "3 failed attempts" in t.closed_reason
    with pytest.raises(Conflict, match="closed"):
        services.log_attempt(task_id=t.pk, actor=nav, channel="phone", outcome="declined")


def test_n_is_configurable_and_callback_is_not_a_failure(nav, settings):
    settings.HEART_CARE = {"max_failed_attempts": 2}
    t = disposition(at=recent(5)).follow_up
    t, _ = services.log_attempt(
        task_id=t.pk, actor=nav, channel="text", outcome="callback_requested"
    )
    t, _ = services.log_attempt(task_id=t.pk, actor=nav, channel="phone", outcome="unable_to_reach")
    assert t.state == "open"
    t, _ = services.log_attempt(
        task_id=t.pk, actor=nav, channel="in_person", outcome="unable_to_reach"
    )
    assert t.state == "closed"


def test_success_closes_and_records_first_attempt(nav):
    t = disposition(at=recent(5)).follow_up
    services.log_attempt(task_id=t.pk, actor=nav, channel="phone", outcome="unable_to_reach")
    t, a = services.log_attempt(
        task_id=t.pk, actor=nav, channel="phone", outcome="connected_to_care", consent_share=True
    )
    assert t.state == "closed" and t.outcome == "connected_to_care"
    assert t.first_attempt_by == nav.label and t.taken_by == nav.user
    assert Encounter.objects.get(pk=t.encounter_id).consent_share


def test_second_navigator_is_told_who_took_the_task(person):
    a, b = actor(person("care_navigator")), actor(person("care_navigator"))
    t = disposition(at=recent()).follow_up
    services.take_task(task_id=t.pk, actor=a)
    services.take_task(task_id=t.pk, actor=a)  # idempotent for the holder
    with pytest.raises(Conflict, match=f"{a.user.username} took follow-up {t.pk} first"):
        services.take_task(task_id=t.pk, actor=b)
    with pytest.raises(Conflict, match="taken by another navigator"):
        services.log_attempt(task_id=t.pk, actor=b, channel="phone", outcome="declined")


def test_queue_sorted_by_due_with_overdue(nav):
    old = disposition(at=timezone.now() - dt.timedelta(hours=60), name="A One")
    new = disposition(at=timezone.now() - dt.timedelta(hours=1), name="B Two")
    q = selectors.queue_page(actor=nav)
    assert [t.pk for t in q.rows] == [old.follow_up.pk, new.follow_up.pk]
    assert q.rows[0].overdue and not q.rows[1].overdue and q.overdue == 1


# ------------------------------------------------------------------ bad input: nothing changes


@pytest.mark.parametrize(
    ("dob", "msg"),
    [
        ("2023-02-30", "not a real date"),
        ("2023-13-01", "not a real date"),
        ("31/01/1990", "not a date"),
        ("2999-01-01", "in the future"),
    ],
)
def test_impossible_dates_name_the_field_and_change_nothing(nav, dob, msg):
    n = Person.objects.count()
    with pytest.raises(Invalid, match=f"date_of_birth: .*{msg}") as e:
        services.create_person(actor=nav, name="X Y", date_of_birth=dob)
    assert e.value.path == "date_of_birth" and Person.objects.count() == n
    p = services.create_person(actor=nav, name="X Y", date_of_birth="1990-01-31")
    with pytest.raises(Invalid, match="date_of_birth"):
        services.update_person(person_id=p.pk, actor=nav, name="Changed", date_of_birth=dob)
    p.refresh_from_db()
    assert p.name == "X Y"


def test_oversized_note_is_refused_and_nothing_is_logged(nav):
    t = disposition(at=recent()).follow_up
    with pytest.raises(Invalid, match=r"note: 2001 characters, at most 2000") as e:
        services.log_attempt(
            task_id=t.pk, actor=nav, channel="phone", outcome="unable_to_reach", note="x" * 2001
        )
    assert e.value.path == "note"
    assert not FollowUpAttempt.objects.exists()
    t.refresh_from_db()
    assert t.taken_by is None and t.first_attempt_at is None


def test_referral_to_a_missing_provider_changes_nothing(nav, provider):
    enc = disposition(at=recent())
    services.record_consent(encounter_id=enc.pk, actor=nav, share=True)
    with pytest.raises(Invalid, match="provider_id: no provider 99999") as e:
        services.create_referral(
            actor=nav, person_id=enc.person_id, provider_id=99999, service="mental_health"
        )
    assert e.value.path == "provider_id" and not Referral.objects.exists()
    with pytest.raises(Invalid, match="service: .* does not offer 'housing'"):
        services.create_referral(
            actor=nav, person_id=enc.person_id, provider_id=provider.pk, service="housing"
        )
    with pytest.raises(Invalid, match="channel"):
        services.log_attempt(
            task_id=enc.follow_up.pk, actor=nav, channel="pigeon", outcome="declined"
        )


def test_referral_needs_consent_to_share(nav, provider):
    enc = disposition(at=recent())
    with pytest.raises(Invalid, match="consent_share"):
        services.create_referral(
            actor=nav, person_id=enc.person_id, provider_id=provider.pk, service="mental_health"
        )
    assert not Referral.objects.exists()


# ------------------------------------------------------------------ referrals and FHIR


def test_referral_status_and_fhir_bundle(nav, provider):
    enc = disposition(at=recent())
    services.record_consent(encounter_id=enc.pk, actor=nav, share=True)
    r = services.create_referral(
        actor=nav,
        task_id=enc.follow_up.pk,
        provider_id=provider.pk,
        service="mental_health",
        note="prefers mornings",
    )
    assert r.person_id == enc.person_id and r.status == "sent"
    services.set_referral_status(referral_id=r.pk, status="accepted", actor=nav)
    with pytest.raises(Conflict, match="accepted referral cannot become sent"):
        services.set_referral_status(referral_id=r.pk, status="sent", actor=nav)
    services.set_referral_status(referral_id=r.pk, status="completed", actor=nav)
    text = person_bundle_json(Person.objects.get(pk=enc.person_id), now=timezone.now())
    bundle = Bundle.model_validate_json(text)
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds == ["Patient", "Organization", "HealthcareService", "ServiceRequest", "Task"]
    data = json.loads(text)
    urls = {e["fullUrl"] for e in data["entry"]}
    sr = data["entry"][3]["resource"]
    task = data["entry"][4]["resource"]
    assert sr["status"] == "completed" and sr["intent"] == "order"
    assert task["status"] == "completed" and task["focus"]["reference"] in urls
    assert task["for"]["reference"] == sr["subject"]["reference"] in urls
    assert task["owner"]["reference"] in urls


def test_referral_statuses_are_the_domain_table(nav, provider):
    """The model's statuses and the domain's transition table name the same statuses;
    a refused change keeps the status and writes no event."""
    assert list(Referral.Status.values) == list(REFERRAL_TRANSITIONS)
    enc = disposition(at=recent())
    services.record_consent(encounter_id=enc.pk, actor=nav, share=True)
    r = services.create_referral(
        actor=nav, person_id=enc.person_id, provider_id=provider.pk, service="mental_health"
    )
    with pytest.raises(Conflict, match="status: a sent referral cannot become completed"):
        services.set_referral_status(referral_id=r.pk, status="completed", actor=nav)
    with pytest.raises(Invalid, match="status: unknown 'lost'"):
        services.set_referral_status(referral_id=r.pk, status="lost", actor=nav)
    r.refresh_from_db()
    assert r.status == "sent" and list(r.events.values_list("status", flat=True)) == ["sent"]


# ------------------------------------------------------------------ duplicates, merge, un-merge


def test_duplicates_merge_and_unmerge(nav, sup, person):
    a = services.create_person(actor=nav, name="Jon Smith", date_of_birth="1980-05-04")
    b = services.create_person(
        actor=nav,
        name="John Smith",
        date_of_birth="1980-05-04",
        phone="919-555-0111",
        address="4 Elm St",
    )
    services.create_person(actor=nav, name="Jane Doe", date_of_birth="1970-01-01")
    e1 = disposition(at=recent(3), name="John Smith", phone="919-555-0111")
    services.link_encounter(encounter_id=e1.pk, person_id=b.pk, actor=nav)
    sugg = selectors.duplicates_for(person_id=a.pk, actor=nav)
    assert [s.person.pk for s in sugg][:1] == [b.pk]
    assert {"name_similar", "dob_same"} <= {r["code"] for r in sugg[0].reasons}

    with pytest.raises(Forbidden):
        services.merge_people(
            survivor_id=a.pk, duplicate_id=b.pk, actor=actor(person("crisis_clinician"))
        )
    with pytest.raises(Forbidden):
        services.merge_people(survivor_id=a.pk, duplicate_id=b.pk, actor=actor(person("responder")))
    m = services.merge_people(survivor_id=a.pk, duplicate_id=b.pk, actor=nav, ip="10.0.0.9")
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id == a.pk and a.phone == "919-555-0111" and a.address == "4 Elm St"
    assert Encounter.objects.get(pk=e1.pk).person_id == a.pk
    assert m.moved["encounters"] == [e1.pk]
    with pytest.raises(Conflict, match="merged into"):
        services.merge_people(survivor_id=b.pk, duplicate_id=a.pk, actor=nav)

    c = services.create_person(actor=nav, name="Jonny Smith")
    m2 = services.merge_people(survivor_id=c.pk, duplicate_id=a.pk, actor=sup)
    with pytest.raises(Conflict, match="undo that merge first"):
        services.unmerge_people(merge_id=m.pk, actor=nav)
    services.unmerge_people(merge_id=m2.pk, actor=sup)
    services.unmerge_people(merge_id=m.pk, actor=nav)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id is None and a.phone == "" and a.address == ""
    assert Encounter.objects.get(pk=e1.pk).person_id == b.pk
    with pytest.raises(Conflict, match="already undone"):
        services.unmerge_people(merge_id=m.pk, actor=nav)
    acts = set(PersonAudit.objects.filter(person_id=b.pk).values_list("action", flat=True))
    assert {"merge", "unmerge"} <= acts
    assert PersonAudit.objects.filter(action="merge", ip="10.0.0.9").count() == 2


# ------------------------------------------------------------------ repeat calls, measures, SLA


def test_repeat_calls_for_dispatcher_and_person(nav):
    now = timezone.now()
    disposition(at=now - dt.timedelta(days=4), address="12 Main Street")  # team, task open
    make_call(at=now - dt.timedelta(days=20), address="12 main st")
    make_call(at=now - dt.timedelta(days=45), address="12 Main St")  # outside 30 days
    make_call(at=now - dt.timedelta(days=2), address="14 Main St")  # another address
    new = make_call(at=now, address="12 MAIN ST.")
    s = selectors.repeat_for_call(new, now=now)
    assert s.text == "3 calls in 30 days; last handled by a team 4 days ago; follow-up open"
    p = Encounter.objects.exclude(person=None).get().person
    p = services.update_person(person_id=p.pk, actor=nav, address="12 Main St")
    assert selectors.repeat_for_person(p, now=now).calls == 3


def test_before_after_measure():
    first = timezone.now() - dt.timedelta(days=100)
    enc = disposition(at=first, address="7 Oak Ave")
    services.update_person(person_id=enc.person_id, actor=SYSTEM_NAV(), address="7 Oak Ave")
    for days in (-80, -10, 5):
        make_call(at=enc.occurred_at + dt.timedelta(days=days), address="7 oak avenue")
    m = selectors.before_after_measure()
    assert m["window_days"] == 90 and m["complete_people"] == 1
    assert (m["calls_before"], m["calls_after"]) == (2, 1)


def SYSTEM_NAV():
    from django.contrib.auth.models import User

    from heart.accounts.services import create_user

    u = User.objects.filter(username="nav-sys").first() or create_user(
        username="nav-sys", password="pw-test-123", role="care_navigator"
    )
    return actor(u)


def test_sla_within_48h_per_week_and_navigator(nav):
    now = timezone.now()
    t1 = disposition(at=now - dt.timedelta(hours=100), name="A A").follow_up
    t2 = disposition(at=now - dt.timedelta(hours=100), name="B B").follow_up
    disposition(at=now - dt.timedelta(hours=100), name="C C")  # missed
    disposition(at=now - dt.timedelta(hours=1), name="D D")  # not yet due
    services.log_attempt(
        task_id=t1.pk,
        actor=nav,
        channel="phone",
        outcome="declined",
        at=now - dt.timedelta(hours=90),
    )
    services.log_attempt(
        task_id=t2.pk,
        actor=nav,
        channel="phone",
        outcome="declined",
        at=now - dt.timedelta(hours=10),
    )
    r = selectors.sla(now=now)
    assert r["overall"]["due"] == 3 and r["overall"]["within"] == 1
    navs = {x["key"]: (x["due"], x["within"]) for x in r["by_navigator"]}
    assert navs[nav.user.username] == (2, 1) and navs["(none)"] == (1, 0)
    assert sum(w["due"] for w in r["by_week"]) == 3


# ------------------------------------------------------------------ privacy: audit, export, erasure


def test_every_selector_read_of_a_person_is_audited(nav, sup):
    enc = disposition(at=recent())
    pid = enc.person_id

    def count():
        return PersonAudit.objects.filter(person_id=pid, action="read").count()

    reads = [
        lambda: selectors.person_for(person_id=pid, actor=nav),
        lambda: selectors.timeline_for(person_id=pid, actor=nav),
        lambda: selectors.duplicates_for(person_id=pid, actor=nav),
        lambda: selectors.queue_page(actor=nav),
        lambda: selectors.task_for(task_id=enc.follow_up.pk, actor=nav),
        lambda: selectors.search_people(actor=nav, q="maria"),
        lambda: selectors.people_on_call(call_id=enc.call_id, actor=nav),
        lambda: selectors.who_viewed(person_id=pid, actor=sup),
    ]
    for read in reads:
        before = count()
        read()
        assert count() > before, read
    services.export_person(person_id=pid, actor=sup)
    assert PersonAudit.objects.filter(person_id=pid, action="export").exists()


def test_audit_is_append_only(nav):
    enc = disposition(at=recent())
    row = PersonAudit.objects.filter(person_id=enc.person_id).first()
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        PersonAudit.objects.filter(pk=row.pk).update(action="x")
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("UPDATE care_personaudit SET action = 'x' WHERE id = %s", [row.pk])


def test_only_people_roles_see_people(person):
    enc = disposition(at=recent())
    for role in ("dispatcher", "call_taker", "analyst", "responder"):
        with pytest.raises(Forbidden):
            selectors.person_for(person_id=enc.person_id, actor=actor(person(role)))
    for role in ("crisis_clinician", "care_navigator", "supervisor"):
        assert selectors.person_for(person_id=enc.person_id, actor=actor(person(role)))
    with pytest.raises(Forbidden):
        selectors.who_viewed(person_id=enc.person_id, actor=actor(person("care_navigator")))
    with pytest.raises(Forbidden):
        services.erase_person(
            person_id=enc.person_id, legal_basis="x", actor=actor(person("care_navigator"))
        )


def test_erasure_keeps_deidentified_statistics(nav, sup, provider):
    first = timezone.now() - dt.timedelta(days=100)
    enc = disposition(at=first, address="7 Oak Ave")
    services.update_person(
        person_id=enc.person_id, actor=nav, address="7 Oak Ave", date_of_birth="1980-01-01"
    )
    make_call(at=enc.occurred_at - dt.timedelta(days=10), address="7 Oak Ave")
    services.record_consent(encounter_id=enc.pk, actor=nav, share=True)
    services.create_referral(
        actor=nav,
        person_id=enc.person_id,
        provider_id=provider.pk,
        service="mental_health",
        note="private",
    )
    services.log_attempt(
        task_id=enc.follow_up.pk,
        actor=nav,
        channel="phone",
        outcome="connected_to_care",
        note="talked about family",
        at=first + dt.timedelta(hours=3),
    )
    export = services.export_person(person_id=enc.person_id, actor=sup)
    assert export["person"]["name"] == "Maria Lopez" and export["referrals"][0]["note"]
    sla_before = selectors.sla()
    measure_before = selectors.before_after_measure()

    with pytest.raises(Invalid, match="legal_basis"):
        services.erase_person(person_id=enc.person_id, legal_basis=" ", actor=sup)
    services.erase_person(person_id=enc.person_id, legal_basis="request 2024-17", actor=sup)
    p = Person.objects.get(pk=enc.person_id)
    assert (p.name, p.phone, p.address, p.date_of_birth) == ("", "", "", None)
    assert Disposition.objects.get(pk=enc.disposition_id).contact_name == ""
    assert FollowUpAttempt.objects.get().note == "" and Referral.objects.get().note == ""
    assert selectors.sla() == sla_before
    assert selectors.before_after_measure() == measure_before
    assert Encounter.objects.filter(person=p).count() == 1  # counts intact
    with pytest.raises(Conflict, match="erased"):
        services.update_person(person_id=p.pk, actor=nav, name="again")
    assert PersonAudit.objects.filter(person_id=p.pk, action="erase").exists()


def test_missing_things_are_not_found(nav):
    with pytest.raises(NotFound, match="person_id"):
        selectors.person_for(person_id=424242, actor=nav)
    with pytest.raises(NotFound, match="task_id"):
        services.take_task(task_id=424242, actor=nav)


def test_provider_validation(nav):
    with pytest.raises(Invalid, match="services: unknown service 'spa'"):
        services.create_provider(actor=nav, name="P", services=["spa"])
    with pytest.raises(Invalid, match=r"languages\[0\]"):
        services.create_provider(actor=nav, name="P", services=["food"], languages=["English!"])
    assert not Provider.objects.exists()
    _ = Call  # imported for readers: calls are the source of every encounter

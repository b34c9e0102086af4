"""The audit trail is append-only and tamper-evident (issue 11, item 7): each row
carries the hash of the row before it, `heart manage verify_audit` walks the chains and
names the first broken row; the database refuses UPDATE and DELETE (both backends) and
TRUNCATE (PostgreSQL); concurrent writers never fork a chain; GET /api/follow-ups
writes an audit row for every contact it shows."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from heart.accounts import chain
from heart.accounts.actors import SYSTEM, Actor
from heart.accounts.models import AuditEntry
from heart.accounts.services import audit
from heart.care.access import log_access
from heart.care.models import PersonAudit
from tests.integration.conftest import race

pytestmark = pytest.mark.django_db


def _entries(n: int) -> None:
    for i in range(n):
        AuditEntry.objects.create(
            actor_label="system",
            action="test.row",
            object_type="thing",
            object_id=str(i),
            data={"i": i, "f": 0.1 * i, "text": "naïve – ünïcode", "nested": {"b": [1, 2.5]}},
        )


def _person_rows(actor: Actor, n: int = 3) -> None:
    for i in range(n):
        log_access(
            actor=actor,
            person_ids=[100 + i, 200 + i],
            action="read",
            what="test",
            ip="2001:DB8:0:0:0:0:0:1" if i % 2 else "127.0.0.1",
            data={"k": i},
        )


def _verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=out)
        return 0, out.getvalue()
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()


def _without_guards(sql: str, params) -> None:
    """Edit the table behind the triggers' back, as someone with database access could."""
    table = sql.split()[1] if sql.startswith("UPDATE") else sql.split()[2]
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cur:
        for stmt in chain.drop_append_only_sql(table, vendor):
            cur.execute(stmt)
        cur.execute(sql, params)
        for stmt in chain.append_only_sql(table, vendor):
            cur.execute(stmt)


def test_rows_are_chained_and_verify(person):
    _entries(5)
    _person_rows(Actor.for_user(person("care_navigator")))
    rows = list(AuditEntry.objects.order_by("seq"))
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert all(v.ok for v in chain.verify_all()), chain.verify_all()
    code, out = _verify()
    assert code == 0 and "chain intact" in out and "care_personaudit" in out


def test_an_edited_row_is_named(person):
    _entries(4)
    _person_rows(Actor.for_user(person("care_navigator")))
    victim = AuditEntry.objects.get(seq=3)
    _without_guards("UPDATE accounts_auditentry SET action = %s WHERE id = %s", ["x", victim.pk])
    verdict = chain.verify(AuditEntry)
    assert not verdict.ok and verdict.broken_seq == 3 and verdict.broken_id == victim.pk
    assert "changed" in verdict.problem
    code, out = _verify()
    assert code == 1 and f"seq 3 (id {victim.pk})" in out

    p = PersonAudit.objects.order_by("seq")[2]
    _without_guards("UPDATE care_personaudit SET ip = %s WHERE id = %s", ["10.0.0.9", p.pk])
    assert chain.verify(PersonAudit).broken_id == p.pk


def test_a_removed_row_is_named():
    _entries(5)
    victim = AuditEntry.objects.get(seq=2)
    _without_guards("DELETE FROM accounts_auditentry WHERE id = %s", [victim.pk])
    verdict = chain.verify(AuditEntry)
    assert verdict.broken_seq == 3 and "missing" in verdict.problem


def test_the_database_refuses_update_and_delete(person):
    _entries(2)
    _person_rows(Actor.for_user(person("care_navigator")), 1)
    for table in ("accounts_auditentry", "care_personaudit"):
        for sql in (f"UPDATE {table} SET action = 'x'", f"DELETE FROM {table}"):
            with (
                pytest.raises(Exception, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cur,
            ):
                cur.execute(sql)
    with pytest.raises(chain.AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(chain.AppendOnlyError):
        AuditEntry.objects.first().save()
    assert AuditEntry.objects.count() == 2


def test_truncate_is_refused_on_postgresql(postgres_only):
    _entries(1)
    for table in ("accounts_auditentry", "care_personaudit"):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(f"TRUNCATE {table}")
    assert AuditEntry.objects.count() == 1


def test_the_guard_comes_back_after_every_migrate():
    """A later migration that rebuilds the table (SQLite) must not lose the triggers."""
    with connection.cursor() as cur:
        for stmt in chain.drop_append_only_sql("accounts_auditentry", connection.vendor):
            cur.execute(stmt)
    call_command("migrate", verbosity=0)
    _entries(1)
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        c.execute("UPDATE accounts_auditentry SET action = 'x'")


def test_a_deleted_account_leaves_its_audit_rows(person):
    user = person("dispatcher")
    audit(actor=Actor.for_user(user), action="test.row", obj=user)
    user.delete()
    row = AuditEntry.objects.get(action="test.row")
    assert row.actor_id is not None and row.actor_label.startswith("user:")
    assert chain.verify(AuditEntry).ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(postgres_only):
    def writer(i):
        def job():
            for k in range(5):
                audit(actor=SYSTEM, action="race", obj=AuditEntry(pk=i), data={"k": k})
                log_access(actor=SYSTEM, person_ids=[i, i + 100], action="read", what="race")

        return job

    wins, conflicts, errors = race([writer(i) for i in range(8)])
    assert not errors and not conflicts, errors
    assert AuditEntry.objects.filter(action="race").count() == 40
    assert PersonAudit.objects.filter(what="race").count() == 80
    assert all(v.ok for v in chain.verify_all()), chain.verify_all()


def test_follow_up_contacts_are_audited_per_row(person, staffed_team):
    from heart.calls.models import Call
    from heart.program_in_force import current_program
    from heart.teams.services import DispositionInput, assign_team, change_status, clear_call

    now = dt.datetime.now(dt.UTC)
    shown = []
    for i, (name, phone) in enumerate([("Maria Lopez", "919-555-0101"), ("", "919-555-0199")]):
        team = staffed_team(f"T{i}", now=now)
        call = Call.objects.create(
            received_at=now, nature="CRISIS", route="crt", rules_version="v", program="p"
        )
        assign_team(call=call, team=team, actor=SYSTEM, program=current_program(), now=now)
        for s in ("en_route", "on_scene"):
            change_status(team=team, status=s, actor=SYSTEM, now=now)
        d = clear_call(
            team=team,
            disposition=DispositionInput(
                outcome="resolved_on_scene",
                consent_follow_up=True,
                contact_name=name,
                contact_phone=phone,
                contact_notes="call after 5",
            ),
            actor=SYSTEM,
        )
        shown.append(d.pk)
    nav = person("care_navigator")
    client = Client()
    client.force_login(nav)
    before = PersonAudit.objects.count()
    r = client.get("/api/follow-ups")
    assert r.status_code == 200
    assert {row["contact_name"] for row in r.json()["items"]} == {"Maria Lopez", ""}
    rows = list(PersonAudit.objects.filter(what="api:follow-ups"))
    assert len(rows) == 2 and {r.actor_id for r in rows} == {nav.pk}
    assert sorted(d for r in rows for d in r.data["disposition_ids"]) == sorted(shown)
    assert PersonAudit.objects.count() > before
    listing = AuditEntry.objects.get(action="follow_ups.read")
    assert sorted(listing.data["disposition_ids"]) == sorted(shown)
    assert listing.data["without_person"] == []
    # the list holds personal data: nothing of it in the audit rows themselves
    assert "Maria" not in json.dumps([r.data for r in rows] + [listing.data])

"""Append-only, hash-chained audit tables (accounts.AuditEntry, care.PersonAudit).

Each row carries its position in its table's chain (``seq`` 1, 2, 3 …, unique), the
hash of the row before it (``prev_hash``) and its own hash (``row_hash``): SHA-256 over
the position, the previous hash and the row's content (canonical JSON). Changing,
removing or inserting a row behind the application's back breaks the chain at that row,
and ``heart manage verify_audit`` names it. (Removing the newest rows leaves a shorter
valid chain: verify_audit prints the head, so an operator can keep it elsewhere.)

One writer at a time per chain, so two transactions never both extend row N: on
PostgreSQL a transaction-level advisory lock per table, held until the writing
transaction commits; on SQLite the write transaction itself (BEGIN IMMEDIATE) holds the
database's write lock. ``seq`` is unique as a last line of defence against a fork.

The database refuses UPDATE and DELETE of these rows (row triggers) and, on PostgreSQL,
TRUNCATE (a statement trigger): see :func:`append_only_sql`. A test database reset
(Django's flush) lifts the guard only inside its own transaction: PostgreSQL
``SET LOCAL heart.audit_maintenance = 'on'``, SQLite ``SELECT heart_audit_maintenance(1)``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connections, models, router, transaction
from django.utils import timezone

GENESIS = "0" * 64


class AppendOnlyError(RuntimeError):
    """An audit row was about to be changed or removed."""


def _canonical(value):
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def fields_digest(obj, fields: Iterable[str], prev_hash: str) -> str:
    """SHA-256 of the row's position, the previous row's hash and the named columns
    (canonical JSON). Migrations call it with their frozen list of fields."""
    content = {"seq": obj.seq, "prev": prev_hash}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)
        if isinstance(field, models.GenericIPAddressField) and value:
            value = field.to_python(field.get_prep_value(value))
        content[name] = _canonical(value)
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(body.encode()).hexdigest()


def row_digest(obj: HashChained, prev_hash: str) -> str:
    """The hash a row must carry, given the hash of the row before it."""
    return fields_digest(obj, obj.CHAIN_FIELDS, prev_hash)


def backfill(model, fields: Iterable[str]) -> int:
    """Chain the rows of a table that had none (a migration, guards dropped): in id
    order, which is the order they were written."""
    fields = tuple(fields)
    seq, prev = 0, GENESIS
    for obj in model.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        obj.seq, obj.prev_hash = seq, prev
        obj.row_hash = prev = fields_digest(obj, fields, prev)
        model.objects.filter(pk=obj.pk).update(
            seq=obj.seq, prev_hash=obj.prev_hash, row_hash=obj.row_hash
        )
    return seq


def lock_key(table: str) -> int:
    """A stable 64-bit advisory-lock key per table."""
    return int.from_bytes(hashlib.sha256(table.encode()).digest()[:8], "big", signed=True)


def append(model: type[HashChained], objs: list[HashChained], using: str | None = None) -> list:
    """Insert rows at the end of the model's chain (one writer at a time)."""
    if not objs:
        return []
    using = using or router.db_for_write(model)
    connection = connections[using]
    now = timezone.now()
    with transaction.atomic(using=using, savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(model._meta.db_table)])
        last = (
            models.QuerySet(model, using=using)
            .order_by("-seq")
            .values_list("seq", "row_hash")
            .first()
        )
        seq, prev = last if last else (0, GENESIS)
        for obj in objs:
            if obj.pk is not None:
                raise AppendOnlyError(f"{model._meta.db_table} is append-only")
            if getattr(obj, "at", None) is None:
                obj.at = now
            seq += 1
            obj.seq, obj.prev_hash = seq, prev
            obj.row_hash = prev = row_digest(obj, prev)
        return models.QuerySet(model, using=using).bulk_create(objs)


class ChainedQuerySet(models.QuerySet):
    """Inserts go to the end of the chain; updates and deletes are refused."""

    def bulk_create(self, objs, *args, **kwargs):
        return append(self.model, list(objs), using=self.db)

    def create(self, **kwargs):
        obj = self.model(**kwargs)
        append(self.model, [obj], using=self.db)
        return obj

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.db_table} is append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.db_table} is append-only")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.db_table} is append-only")


class HashChained(models.Model):
    """Abstract base of an append-only audit table. Subclasses list the content
    columns in ``CHAIN_FIELDS`` (a foreign key by its field name) and need an ``at``."""

    CHAIN_FIELDS: tuple[str, ...] = ()

    seq = models.BigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    objects = ChainedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError(f"{self._meta.db_table} is append-only")
        append(type(self), [self], using=kwargs.get("using"))

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.db_table} is append-only")


def chained_models() -> list[type[HashChained]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, HashChained)]


@dataclass(frozen=True, slots=True)
class Verdict:
    table: str
    rows: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None

    def describe(self) -> str:
        if self.ok:
            return f"{self.table}: {self.rows} rows, chain intact; head #{self.head_seq} {self.head_hash}"
        return (
            f"{self.table}: BROKEN at row seq {self.broken_seq} (id {self.broken_id}): "
            f"{self.problem}"
        )


def _rows(model, using) -> Iterator:
    return models.QuerySet(model, using=using).order_by("seq").iterator(chunk_size=2000)


def verify(model: type[HashChained], using: str = "default") -> Verdict:
    """Walk the chain in order; the first row that does not fit, or the head."""
    table = model._meta.db_table
    expected_seq, prev, rows = 1, GENESIS, 0
    for obj in _rows(model, using):
        problem = ""
        if obj.seq != expected_seq:
            problem = f"seq {obj.seq} where {expected_seq} was expected (a row is missing)"
        elif obj.prev_hash != prev:
            problem = "prev_hash is not the hash of the row before it"
        elif obj.row_hash != row_digest(obj, prev):
            problem = "row_hash does not match the row's content (the row was changed)"
        if problem:
            return Verdict(table, rows, expected_seq - 1, prev, obj.seq, obj.pk, problem)
        rows += 1
        expected_seq, prev = obj.seq + 1, obj.row_hash
    return Verdict(table, rows, expected_seq - 1, prev)


def verify_all(using: str = "default") -> list[Verdict]:
    return [verify(m, using) for m in chained_models()]


# ------------------------------------------------------------------ database guards


def append_only_sql(table: str, vendor: str) -> list[str]:
    """The triggers that make ``table`` append-only in the database itself."""
    if vendor == "postgresql":
        return [
            """
CREATE OR REPLACE FUNCTION heart_append_only_row() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql""",
            """
CREATE OR REPLACE FUNCTION heart_append_only_truncate() RETURNS trigger AS $$
BEGIN
  IF coalesce(current_setting('heart.audit_maintenance', true), '') = 'on' THEN
    RETURN NULL;  -- a test database reset, inside its own transaction (SET LOCAL)
  END IF;
  RAISE EXCEPTION '% is append-only (TRUNCATE refused)', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql""",
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION heart_append_only_row()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION heart_append_only_truncate()""",
        ]
    if vendor == "sqlite":
        # heart_audit_sealed() is registered on every connection the service opens
        # (accounts.apps); any other program gets "no such function" and is refused too
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_update",
            f"DROP TRIGGER IF EXISTS {table}_no_delete",
            f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""",
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
WHEN heart_audit_sealed() BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""",
        ]
    return []


def drop_append_only_sql(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_update",
            f"DROP TRIGGER IF EXISTS {table}_no_delete",
        ]
    return []


def install_sqlite_functions(sender, connection, **kwargs) -> None:
    """connection_created: the SQLite functions the DELETE guard calls. The guard is
    lifted only by ``SELECT heart_audit_maintenance(1)`` on this same connection."""
    if connection.vendor != "sqlite":
        return
    state = {"open": False}

    def sealed() -> int:
        return 0 if state["open"] else 1

    def maintenance(on) -> int:
        state["open"] = bool(on)
        return int(state["open"])

    connection.connection.create_function("heart_audit_sealed", 0, sealed)
    connection.connection.create_function("heart_audit_maintenance", 1, maintenance)


def maintenance_sql(vendor: str) -> tuple[list[str], list[str]]:
    """Statements that lift the guards for one transaction (before) and restore them
    (after): for resetting a test database, never for the service."""
    if vendor == "postgresql":
        return ["SET LOCAL heart.audit_maintenance = 'on'"], []
    if vendor == "sqlite":
        return ["SELECT heart_audit_maintenance(1)"], ["SELECT heart_audit_maintenance(0)"]
    return [], []

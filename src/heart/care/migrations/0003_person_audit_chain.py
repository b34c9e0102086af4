"""The person audit is hash-chained (heart.accounts.chain): existing rows are chained in
id order, then the database refuses UPDATE, DELETE (SQLite too now) and, on PostgreSQL,
TRUNCATE. The actor column no longer cascades into the audit."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from heart.accounts import chain

TABLE = "care_personaudit"
FIELDS = ("person_id", "at", "actor", "actor_label", "action", "what", "ip", "data")


def drop_old_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        schema_editor.execute("DROP FUNCTION IF EXISTS care_personaudit_append_only()")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")


def chain_rows(apps, schema_editor):
    chain.backfill(apps.get_model("care", "PersonAudit"), FIELDS)


def guard(apps, schema_editor):
    for sql in chain.append_only_sql(TABLE, schema_editor.connection.vendor):
        schema_editor.execute(sql, None)


def unguard(apps, schema_editor):
    for sql in chain.drop_append_only_sql(TABLE, schema_editor.connection.vendor):
        schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0002_person_audit_append_only"),
        ("accounts", "0002_audit_chain"),  # the shared trigger functions
    ]

    operations = [
        migrations.RunPython(drop_old_guards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="personaudit",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="personaudit",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="personaudit",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="personaudit",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="personaudit",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.RunPython(guard, unguard),
    ]

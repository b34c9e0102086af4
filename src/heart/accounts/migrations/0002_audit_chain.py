"""The audit trail becomes append-only and hash-chained (heart.accounts.chain):
existing rows are chained in id order, then the database refuses UPDATE, DELETE and
(PostgreSQL) TRUNCATE of the table. The actor column no longer cascades into the audit."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from heart.accounts import chain

TABLE = "accounts_auditentry"
FIELDS = ("at", "actor", "actor_label", "action", "object_type", "object_id", "data")


def chain_rows(apps, schema_editor):
    chain.backfill(apps.get_model("accounts", "AuditEntry"), FIELDS)


def guard(apps, schema_editor):
    for sql in chain.append_only_sql(TABLE, schema_editor.connection.vendor):
        schema_editor.execute(sql, None)


def unguard(apps, schema_editor):
    for sql in chain.drop_append_only_sql(TABLE, schema_editor.connection.vendor):
        schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
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
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.RunPython(guard, unguard),
    ]

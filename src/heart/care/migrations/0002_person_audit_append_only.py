"""The person audit is append-only in the database too: UPDATE is refused everywhere,
DELETE on PostgreSQL (TRUNCATE, used to reset test databases, is not a row delete)."""

from django.db import migrations

PG = """
CREATE OR REPLACE FUNCTION care_personaudit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'care_personaudit is append-only';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS care_personaudit_no_change ON care_personaudit;
CREATE TRIGGER care_personaudit_no_change BEFORE UPDATE OR DELETE ON care_personaudit
  FOR EACH ROW EXECUTE FUNCTION care_personaudit_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS care_personaudit_no_change ON care_personaudit;
DROP FUNCTION IF EXISTS care_personaudit_append_only();
"""
SQLITE = """
CREATE TRIGGER IF NOT EXISTS care_personaudit_no_update BEFORE UPDATE ON care_personaudit
BEGIN SELECT RAISE(ABORT, 'care_personaudit is append-only'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS care_personaudit_no_update;"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DOWN)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("care", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

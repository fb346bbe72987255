"""On PostgreSQL, make the distance index covering (INCLUDE id): a segment's distance filter then
reads only the index (no heap fetch per person in the box). SQLite has no covering indexes: the
plain index of 0003 stays there."""

from django.db import migrations

COVERING = (
    "DROP INDEX IF EXISTS person_org_geo;"
    "CREATE INDEX person_org_geo ON people_person "
    "(organization_id, list, latitude, longitude) INCLUDE (id);"
)
PLAIN = (
    "DROP INDEX IF EXISTS person_org_geo;"
    "CREATE INDEX person_org_geo ON people_person "
    "(organization_id, list, latitude, longitude);"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COVERING)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PLAIN)


class Migration(migrations.Migration):
    dependencies = [("people", "0003_crm_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]

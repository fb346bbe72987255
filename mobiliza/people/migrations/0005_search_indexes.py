"""Search over millions of people on PostgreSQL (issue 3: "search by name, phone or email").

The list's search asks, for each word, "starts a first or a last name" (case-insensitive:
`UPPER(name) LIKE 'WORD%'`), and for an email "starts the (lower-cased) address" (`LIKE 'x%'`).
A plain btree index can't answer a LIKE prefix unless the database collation is C, so:
* two expression indexes, `(organization_id, UPPER(first_name) text_pattern_ops)` and the same
  for `last_name`: each word is a BitmapOr of two index ranges;
* the email index gets the pattern operator class (it still serves the exact matches of imports);
* the voter id (a search with digits looks up the external id, already indexed, or the voter id).
SQLite keeps its plain indexes (no expression operator classes there; small databases).
The bulk import drops and rebuilds every secondary index from `pg_index`, these included.
"""

from django.db import migrations

FORWARDS = (
    "CREATE INDEX IF NOT EXISTS person_org_upper_first ON people_person "
    "(organization_id, UPPER(first_name) text_pattern_ops);"
    "CREATE INDEX IF NOT EXISTS person_org_upper_last ON people_person "
    "(organization_id, UPPER(last_name) text_pattern_ops);"
    "DROP INDEX IF EXISTS person_org_email;"
    "CREATE INDEX person_org_email ON people_person (organization_id, email varchar_pattern_ops);"
    "CREATE INDEX IF NOT EXISTS person_org_voterid ON people_person (organization_id, voter_id);"
)
BACKWARDS = (
    "DROP INDEX IF EXISTS person_org_upper_first;"
    "DROP INDEX IF EXISTS person_org_upper_last;"
    "DROP INDEX IF EXISTS person_org_voterid;"
    "DROP INDEX IF EXISTS person_org_email;"
    "CREATE INDEX person_org_email ON people_person (organization_id, email);"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARDS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("people", "0004_crm_geo_covering")]

    operations = [migrations.RunPython(forwards, backwards)]

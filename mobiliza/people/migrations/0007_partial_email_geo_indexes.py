"""The email and distance indexes hold only the people with an email / with coordinates.

An electoral register has neither (the NC file has no email and no coordinates): its load then
builds neither index over a million rows that would all be '' or NULL there (~1.2 s of the
1M-row load). No lookup needs those rows: the email lookups say `email <> ''` (search, dedupe,
import matching) and a distance filter's latitude band implies a latitude.

PostgreSQL keeps its tuned definitions (migrations 0004 and 0005: email by bytes for `LIKE 'x%'`,
the distance index covering); SQLite gets the plain partial indexes of the model.
"""

from django.db import migrations, models

POSTGRES = (
    "DROP INDEX IF EXISTS person_org_email;"
    "CREATE INDEX person_org_email ON people_person (organization_id, email varchar_pattern_ops) "
    "WHERE email <> '';"
    "DROP INDEX IF EXISTS person_org_geo;"
    "CREATE INDEX person_org_geo ON people_person (organization_id, list, latitude, longitude) "
    "INCLUDE (id) WHERE latitude IS NOT NULL;"
)
POSTGRES_BACK = (
    "DROP INDEX IF EXISTS person_org_email;"
    "CREATE INDEX person_org_email ON people_person (organization_id, email varchar_pattern_ops);"
    "DROP INDEX IF EXISTS person_org_geo;"
    "CREATE INDEX person_org_geo ON people_person (organization_id, list, latitude, longitude) "
    "INCLUDE (id);"
)
SQLITE = (
    'DROP INDEX IF EXISTS "person_org_email";'
    'CREATE INDEX "person_org_email" ON "people_person" ("organization_id", "email") '
    "WHERE NOT (\"email\" = '');"
    'DROP INDEX IF EXISTS "person_org_geo";'
    'CREATE INDEX "person_org_geo" ON "people_person" '
    '("organization_id", "list", "latitude", "longitude") WHERE "latitude" IS NOT NULL;'
)
SQLITE_BACK = (
    'DROP INDEX IF EXISTS "person_org_email";'
    'CREATE INDEX "person_org_email" ON "people_person" ("organization_id", "email");'
    'DROP INDEX IF EXISTS "person_org_geo";'
    'CREATE INDEX "person_org_geo" ON "people_person" '
    '("organization_id", "list", "latitude", "longitude");'
)


def _run(schema_editor, postgres: str, sqlite: str) -> None:
    script = postgres if schema_editor.connection.vendor == "postgresql" else sqlite
    for statement in filter(None, (s.strip() for s in script.split(";"))):
        schema_editor.execute(statement)


def forwards(apps, schema_editor):
    _run(schema_editor, POSTGRES, SQLITE)


def backwards(apps, schema_editor):
    _run(schema_editor, POSTGRES_BACK, SQLITE_BACK)


class Migration(migrations.Migration):
    dependencies = [("people", "0006_cheaper_people_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="person", name="person_org_email"),
                migrations.AddIndex(
                    model_name="person",
                    index=models.Index(
                        condition=models.Q(("email", ""), _negated=True),
                        fields=["organization", "email"],
                        name="person_org_email",
                    ),
                ),
                migrations.RemoveIndex(model_name="person", name="person_org_geo"),
                migrations.AddIndex(
                    model_name="person",
                    index=models.Index(
                        condition=models.Q(("latitude__isnull", False)),
                        fields=["organization", "list", "latitude", "longitude"],
                        name="person_org_geo",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]

"""Cheaper people indexes (issue 3: the 1M-row register load rebuilds every index of people,
phones and households; on a database whose collation is not "C" each text index is sorted with
the collation: strcoll() per comparison, slower than by bytes).

* Drop the indexes another one already serves: the organization foreign key indexes of people,
  phones and households (other indexes of each table start with it: the people's name, email
  and place indexes, `phone_org_e164`, `household_unique`),
  and `person_org_household` (the household foreign key index finds a household's members; a
  household belongs to one organization).
* The elector foreign key index only holds the linked contacts (`WHERE elector_id IS NOT NULL`):
  nearly every person has none.
* The external id, the voter id and the household address key are only compared for equality
  (or a prefix): their indexes use the pattern operator class on PostgreSQL, ordered by bytes.
  The external and voter ids also come first in their indexes (the organization second): the
  sort of an index build compares abbreviated keys of its first column only, and a register's
  ids are nearly all distinct (voter id index on 1M people, one process: 3.2 s of CPU in the
  collation, 2.6 s by bytes after the organization, 1.2 s by bytes first). A lookup
  gives both columns anyway. The voter id index is PostgreSQL-only raw SQL (migration 0005),
  changed here the same way.
"""

import django.db.models.deletion
from django.db import migrations, models

VOTER_ID_BYTES = (
    "DROP INDEX IF EXISTS person_org_voterid;"
    "CREATE INDEX person_org_voterid ON people_person (voter_id varchar_pattern_ops, organization_id);"
)
VOTER_ID_COLLATED = (
    "DROP INDEX IF EXISTS person_org_voterid;"
    "CREATE INDEX person_org_voterid ON people_person (organization_id, voter_id);"
)


def voter_id_forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(VOTER_ID_BYTES)


def voter_id_backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(VOTER_ID_COLLATED)


def _organization() -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to="accounts.organization",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("people", "0005_search_indexes"),
    ]

    operations = [
        # Redundant indexes.
        migrations.AlterField(model_name="person", name="organization", field=_organization()),
        migrations.AlterField(model_name="personphone", name="organization", field=_organization()),
        migrations.AlterField(model_name="household", name="organization", field=_organization()),
        migrations.RemoveIndex(model_name="person", name="person_org_household"),
        # The elector index: linked contacts only.
        migrations.AlterField(
            model_name="person",
            name="elector",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                limit_choices_to={"list": "electors"},
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="linked_contacts",
                to="people.person",
                verbose_name="elector record",
            ),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                condition=models.Q(("elector__isnull", False)),
                fields=["elector"],
                name="person_elector",
            ),
        ),
        # Equality-only text indexes ordered by bytes.
        migrations.RemoveIndex(model_name="person", name="person_org_extid"),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                fields=["external_id", "organization"],
                name="person_org_extid",
                opclasses=["varchar_pattern_ops", ""],
            ),
        ),
        migrations.RunPython(voter_id_forwards, voter_id_backwards),
        migrations.RemoveConstraint(model_name="household", name="household_unique"),
        migrations.AddConstraint(
            model_name="household",
            constraint=models.UniqueConstraint(
                fields=("organization", "address_key"),
                name="household_unique",
                opclasses=["", "varchar_pattern_ops"],
            ),
        ),
    ]

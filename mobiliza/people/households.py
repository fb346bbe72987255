"""Households: people at one normalized address (`normalize.address_key`).

Two ways in:

* `household_assign_person(person=...)` after a single edit (person services call it);
* `households_assign_from_table(...)` after an import: set-based SQL over a staging table of
  (person_id, address_key, street, postcode, city) rows, the same on PostgreSQL and SQLite.

Every person with a street belongs to exactly one household (a household may have one member):
that way a single edit finds the household of its new address by key, without scanning people.
Households left without members are deleted.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from mobiliza.core.sql import random_uuid_sql
from mobiliza.people.models import Household, Person
from mobiliza.people.normalize import address_key

__all__ = [
    "household_assign_person",
    "household_key_for",
    "households_assign_from_table",
    "households_create_for_table",
    "households_delete_empty",
]


def household_key_for(person: Person) -> str:
    """The address key of a person as stored now."""
    return address_key(
        street=person.street, postcode=person.postcode, city=person.city, country=person.country
    )


def _delete_if_empty(household_id: int) -> None:
    if not Person.objects.filter(household_id=household_id).exists():
        Household.objects.filter(pk=household_id).delete()


@transaction.atomic
def household_assign_person(*, person: Person) -> Household | None:
    """Put `person` in the household of its address (creating it), or in none without a street.

    Saves `person.household` when it changes and deletes the household it left if that one is
    now empty. Returns the person's household."""
    key = household_key_for(person)
    old_id = person.household_id
    household: Household | None = None
    if key:
        household, _created = Household.objects.get_or_create(
            organization_id=person.organization_id,
            address_key=key,
            defaults={
                "street": person.street[:255],
                "postcode": person.postcode[:32],
                "city": person.city[:120],
            },
        )
    new_id = household.pk if household is not None else None
    if new_id != old_id:
        person.household = household
        if person.pk is not None:
            Person.objects.filter(pk=person.pk).update(household=household)
        if old_id is not None:
            _delete_if_empty(old_id)
    return household


def households_create_for_table(*, organization_id: int, table: str, condition: str = "1=1") -> int:
    """Create the missing households for the address keys in `table` (rows matching the SQL
    `condition`, a trusted string over alias `k`). Returns how many were created."""
    household_t = Household._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    # The spelling kept for a household: the smallest, compared by bytes on PostgreSQL (a
    # database collation that isn't "C" makes each comparison a strcoll() call: seconds over a
    # register). SQLite compares by bytes anyway.
    by_bytes = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {household_t}
                (public_id, created_at, updated_at, organization_id, address_key, street,
                 postcode, city)
            SELECT {random_uuid_sql()}, %s, %s, %s, k.address_key,
                   MIN(COALESCE(k.street, ''){by_bytes}),
                   MIN(COALESCE(k.postcode, ''){by_bytes}),
                   MIN(COALESCE(k.city, ''){by_bytes})
            FROM {table} k
            WHERE k.address_key IS NOT NULL AND k.address_key <> '' AND ({condition})
              AND NOT EXISTS (
                SELECT 1 FROM {household_t} h
                WHERE h.organization_id = %s AND h.address_key = k.address_key)
            GROUP BY k.address_key
            """,  # noqa: S608 - identifiers are ours, values are parameters
            [now, now, organization_id, organization_id],
        )
        return max(cursor.rowcount, 0)


def households_delete_empty(*, organization_id: int) -> int:
    """Delete the organization's households that no longer have members."""
    household_t = Household._meta.db_table
    person_t = Person._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {household_t}
            WHERE organization_id = %s
              AND NOT EXISTS (SELECT 1 FROM {person_t} p WHERE p.household_id = {household_t}.id)
            """,  # noqa: S608
            [organization_id],
        )
        return max(cursor.rowcount, 0)


def households_assign_from_table(*, organization_id: int, table: str) -> int:
    """Group people listed in `table` into households by address key, set-based.

    `table` (a trusted identifier: a staging table) has the columns person_id, address_key,
    street, postcode, city. People with an empty key leave their household. Runs in the
    caller's transaction; returns the number of households created."""
    household_t = Household._meta.db_table
    person_t = Person._meta.db_table
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    created = households_create_for_table(
        organization_id=organization_id, table=table, condition="k.person_id IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {person_t} SET household_id = h.id
            FROM {table} k
            JOIN {household_t} h ON h.organization_id = %s AND h.address_key = k.address_key
            WHERE {person_t}.id = k.person_id AND k.address_key <> ''
              AND {person_t}.household_id {distinct} h.id
            """,  # noqa: S608
            [organization_id],
        )
        moved = cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {person_t} SET household_id = NULL
            WHERE household_id IS NOT NULL
              AND id IN (SELECT k.person_id FROM {table} k
                         WHERE k.address_key IS NULL OR k.address_key = '')
            """,  # noqa: S608
        )
        moved += cursor.rowcount
    if moved:
        households_delete_empty(organization_id=organization_id)
    return created

"""Households group people at one normalized address, on edit and set-based after an import."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from mobiliza.people.households import household_assign_person, households_assign_from_table
from mobiliza.people.models import Household, Person

pytestmark = pytest.mark.django_db


def _person(org: Any, **fields: Any) -> Person:
    return Person.objects.create(organization=org, **fields)


def test_people_at_the_same_address_share_a_household(org: Any) -> None:
    ana = _person(org, first_name="Ana", street="Rua Augusta, 27", postcode="1100-048")
    rui = _person(org, first_name="Rui", street="R. AUGUSTA 27", postcode="1100048")
    h1 = household_assign_person(person=ana)
    h2 = household_assign_person(person=rui)
    assert h1 is not None and h1 == h2
    assert set(h1.members.values_list("first_name", flat=True)) == {"Ana", "Rui"}
    assert Household.objects.filter(organization=org).count() == 1


def test_moving_out_leaves_the_old_household_and_deletes_it_when_empty(org: Any) -> None:
    ana = _person(org, street="Rua Augusta 27", postcode="1100-048")
    old = household_assign_person(person=ana)
    assert old is not None
    ana.street = "Rua do Ouro 3"
    ana.save()
    new = household_assign_person(person=ana)
    assert new is not None and new.pk != old.pk
    assert not Household.objects.filter(pk=old.pk).exists()
    ana.street = ""
    ana.save()
    assert household_assign_person(person=ana) is None
    ana.refresh_from_db()
    assert ana.household_id is None
    assert not Household.objects.filter(organization=org).exists()


def test_households_are_per_organization(org: Any, other_org: Any) -> None:
    a = _person(org, street="Rua Augusta 27", postcode="1100-048")
    b = _person(other_org, street="Rua Augusta 27", postcode="1100-048")
    ha, hb = household_assign_person(person=a), household_assign_person(person=b)
    assert ha is not None and hb is not None and ha.pk != hb.pk
    assert ha.organization_id == org.pk and hb.organization_id == other_org.pk


def test_set_based_grouping_from_a_staging_table(org: Any, other_org: Any) -> None:
    people = [
        _person(org, street="Rua A 1", postcode="1000-001"),
        _person(org, street="Rua A 1", postcode="1000-001"),
        _person(org, street="Rua B 2", postcode="1000-001"),
        _person(org, street=""),
    ]
    stranger = _person(other_org, street="Rua A 1", postcode="1000-001")
    household_assign_person(person=stranger)
    # The last person had a household at an old address: it must be emptied and deleted.
    gone = Household.objects.create(organization=org, address_key="OLD|1")
    Person.objects.filter(pk=people[3].pk).update(household=gone)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE hh_test (person_id bigint, address_key varchar(255), "
            "street varchar(255), postcode varchar(32), city varchar(120))"
        )
        for p in people:
            cursor.execute(
                "INSERT INTO hh_test VALUES (%s, %s, %s, %s, %s)",
                [p.pk, _key(p), p.street, p.postcode, p.city],
            )
    try:
        created = households_assign_from_table(organization_id=org.pk, table="hh_test")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE hh_test")
    assert created == 2
    ids = [Person.objects.get(pk=p.pk).household_id for p in people]
    assert ids[0] == ids[1] is not None
    assert ids[2] not in (None, ids[0])
    assert ids[3] is None
    assert not Household.objects.filter(pk=gone.pk).exists()
    household = Household.objects.get(pk=ids[0])
    assert household.organization_id == org.pk and household.street == "Rua A 1"
    # Another organization's household at the same address is untouched.
    stranger.refresh_from_db()
    assert stranger.household_id not in ids
    assert str(household.public_id)


def _key(person: Person) -> str:
    from mobiliza.people.households import household_key_for

    return household_key_for(person)

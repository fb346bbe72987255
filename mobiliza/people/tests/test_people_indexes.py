"""The people indexes (migration 0006): the lookups people rely on still find their rows, through
an index on PostgreSQL, while the indexes a register load rebuilds are fewer and cheaper (no
organization-only indexes, equality-only text ordered by bytes, the elector index partial)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from mobiliza.people.filter_builtins import distance_q
from mobiliza.people.households import households_create_for_table
from mobiliza.people.models import Household, Person, PersonList, PersonPhone
from mobiliza.people.selectors import Cursor, _after, people_queryset

pytestmark = pytest.mark.django_db

TABLES = ("people_person", "people_personphone", "people_household")


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL indexes")


def _electors(org: Any, n: int = 2000) -> list[Person]:
    return Person.objects.bulk_create(
        Person(
            organization=org,
            list=PersonList.ELECTORS,
            first_name=f"First{i}",
            last_name=f"Last{i}",
            external_id=f"BN{i:07d}",
            voter_id=f"{900000000 - i:09d}",
        )
        for i in range(n)
    )


def _plan(qs: QuerySet[Any]) -> str:
    """The PostgreSQL plan of `qs` with sequential scans priced out: on a small test table the
    planner would rightly read everything, but what matters is that an index can serve it."""
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
    return qs.explain()


def _indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(TABLES)]
        )
        return dict(cursor.fetchall())


def test_search_by_external_or_voter_id_finds_the_elector(org: Any, other_org: Any) -> None:
    people = _electors(org)
    _electors(other_org)  # the same ids in another organization
    for text, wanted in (("BN0000007", people[7]), (people[12].voter_id, people[12])):
        found = people_queryset(organization=org, list=PersonList.ELECTORS, search=text)
        assert list(found) == [wanted]
    if connection.vendor == "postgresql":
        plan = _plan(people_queryset(organization=org, list=PersonList.ELECTORS, search="BN1"))
        assert "person_org_extid" in plan and "person_org_voterid" in plan


def test_voting_history_matching_by_external_id_uses_its_index(org: Any) -> None:
    # The predicate of the voting history import: organization and external id, for equality.
    people = _electors(org)
    qs = Person.objects.filter(organization_id=org.pk, external_id="BN0000021")
    assert list(qs.values_list("pk", flat=True)) == [people[21].pk]
    if connection.vendor == "postgresql":
        assert "person_org_extid" in _plan(qs.values("pk"))


def test_a_voter_id_prefix_still_uses_the_byte_ordered_index(org: Any) -> None:
    _postgres_only()
    _electors(org)
    qs = Person.objects.filter(organization=org, voter_id__startswith="89999999")
    assert qs.count() == 10  # 899999990 to 899999999
    assert "person_org_voterid" in _plan(qs.values("pk"))


def test_one_household_per_address_key_and_organization(org: Any, other_org: Any) -> None:
    home = Household.objects.create(organization=org, address_key="RUA A 1|1000")
    Household.objects.create(organization=other_org, address_key="RUA A 1|1000")
    with pytest.raises(IntegrityError), transaction.atomic():
        Household.objects.create(organization=org, address_key="RUA A 1|1000")
    qs = Household.objects.filter(organization=org, address_key="RUA A 1|1000")
    assert list(qs) == [home]
    if connection.vendor == "postgresql":
        assert "household_unique" in _plan(qs)
        # The organization's households, without an index of their own.
        assert "household_unique" in _plan(Household.objects.filter(organization=org))


def test_household_members_and_linked_contacts_are_found_by_index(org: Any) -> None:
    elector = _electors(org, 3)[0]
    home = Household.objects.create(organization=org, address_key="RUA A 1|1000")
    contact = Person.objects.create(organization=org, elector=elector, household=home)
    Person.objects.bulk_create(Person(organization=org, first_name=f"P{i}") for i in range(30))
    assert list(elector.linked_contacts.all()) == [contact]
    assert list(home.members.all()) == [contact]
    if connection.vendor == "postgresql":
        assert "person_elector" in _plan(elector.linked_contacts.all())
        assert "people_person_household_id" in _plan(home.members.all())
    # Deleting the elector record unlinks the contact, nothing else.
    elector.delete()
    contact.refresh_from_db()
    assert contact.elector_id is None and contact.household_id == home.pk


def test_email_and_distance_lookups_use_their_partial_indexes(org: Any) -> None:
    # A register (no email, no coordinates) plus contacts that have them.
    _electors(org)
    ana = Person.objects.create(
        organization=org, first_name="Ana", email="ana@example.org", latitude=38.72, longitude=-9.14
    )
    Person.objects.bulk_create(  # contacts with an email: the search is selective
        Person(organization=org, first_name=f"C{i}", email=f"c{i}@example.org") for i in range(2000)
    )
    found = people_queryset(organization=org, list=PersonList.CONTACTS, search="ana@ex")
    assert list(found) == [ana]
    lisbon = distance_q(latitude=38.7, longitude=-9.1, km=10)
    assert list(Person.objects.filter(lisbon, organization=org)) == [ana]
    if connection.vendor == "postgresql":
        indexes = _indexes()
        assert indexes["person_org_email"].endswith("WHERE ((email)::text <> ''::text)")
        assert indexes["person_org_geo"].endswith("WHERE (latitude IS NOT NULL)")
        search = people_queryset(organization=org, list=PersonList.CONTACTS, search="ana@ex")
        assert "person_org_email" in _plan(search.values("pk"))
        near = Person.objects.filter(lisbon, organization=org, list=PersonList.CONTACTS)
        assert "person_org_geo" in _plan(near.values("pk"))


def test_a_phone_number_is_found_by_its_byte_ordered_index(org: Any, other_org: Any) -> None:
    people = _electors(org, 300)
    PersonPhone.objects.bulk_create(
        PersonPhone(organization=o, person=p, raw=f"91{i:07d}", e164=f"+35191{i:07d}")
        for o in (org, other_org)
        for i, p in enumerate(people if o == org else _electors(other_org, 300))
    )
    found = people_queryset(organization=org, list=PersonList.ELECTORS, search="910000042")
    assert list(found) == [people[42]]
    qs = PersonPhone.objects.filter(organization=org, e164="+351910000042")
    assert [ph.person_id for ph in qs] == [people[42].pk]
    if connection.vendor == "postgresql":
        assert "(e164 varchar_pattern_ops, organization_id)" in _indexes()["phone_org_e164"]
        assert "phone_org_e164" in _plan(qs.values("pk"))


def test_the_indexes_a_register_load_rebuilds(org: Any) -> None:
    _postgres_only()
    indexes = _indexes()
    # No index of the organization alone: the composite ones start with it.
    alone = [n for n, d in indexes.items() if d.endswith("(organization_id)")]
    assert alone == []
    assert "person_org_household" not in indexes
    assert "WHERE (elector_id IS NOT NULL)" in indexes["person_elector"]
    for name in ("person_org_extid", "person_org_voterid", "household_unique"):
        assert "varchar_pattern_ops" in indexes[name], name
    # The organization's people are still found by an index.
    assert "Index" in _plan(Person.objects.filter(organization=org).values("pk"))


def test_new_households_keep_the_smallest_spelling_by_bytes(org: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE hh_idx_test (person_id bigint, address_key varchar(255), "
            "street varchar(255), postcode varchar(32), city varchar(120))"
        )
        cursor.execute(
            "INSERT INTO hh_idx_test VALUES "
            "(1, 'RUA A 1|7000', 'rua a 1', '7000', 'évora'), "
            "(2, 'RUA A 1|7000', 'Rua A 1', '7000', 'Évora'), "
            "(3, 'RUA A 1|7000', 'Rua a 1', '7000', 'Evora'), "
            "(4, 'RUA B 2|7000', NULL, NULL, NULL)"
        )
    try:
        created = households_create_for_table(organization_id=org.pk, table="hh_idx_test")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE hh_idx_test")
    assert created == 2
    a = Household.objects.get(organization=org, address_key="RUA A 1|7000")
    assert (a.street, a.postcode, a.city) == ("Rua A 1", "7000", "Evora")
    b = Household.objects.get(organization=org, address_key="RUA B 2|7000")
    assert (b.street, b.postcode, b.city) == ("", "", "")


def test_each_list_has_its_name_index_and_the_pages_use_it(org: Any) -> None:
    """The list page's name order comes from the list's own index (migration 0009), for the
    first page and a deep one, on both lists; a list added later would need its index."""
    _postgres_only()
    indexes = _indexes()
    for value in PersonList.values:
        definition = indexes[f"person_{value}_name"]
        assert "(organization_id, last_name, first_name, id)" in definition
        assert f"WHERE ((list)::text = '{value}'::text)" in definition
    assert "person_org_name" not in indexes
    _electors(org)
    Person.objects.create(organization=org, list=PersonList.CONTACTS, last_name="Costa")
    for value in PersonList.values:
        page = people_queryset(organization=org, list=value).order_by(
            "last_name", "first_name", "id"
        )
        assert f"person_{value}_name" in _plan(page[:51].values("pk"))
        deep = page.filter(_after(Cursor("Last1500", "First1500", 0)))
        assert f"person_{value}_name" in _plan(deep[:51].values("pk"))

"""Factories for people, tags, elections, segments; isolation makers for every model the
people URLs and API address by id."""

from __future__ import annotations

from typing import Any

import factory

from mobiliza.accounts.models import Organization
from mobiliza.accounts.tests.factories import OrganizationFactory
from mobiliza.core.testing.isolation import register_isolation_maker
from mobiliza.people.models import (
    CustomField,
    Election,
    Household,
    Person,
    PersonList,
    PersonPhone,
    PersonTag,
    Segment,
    Tag,
    VoteRecord,
)


class PersonFactory(factory.django.DjangoModelFactory[Person]):
    class Meta:
        model = Person

    organization = factory.SubFactory(OrganizationFactory)
    list = PersonList.CONTACTS
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.org")


class TagFactory(factory.django.DjangoModelFactory[Tag]):
    class Meta:
        model = Tag

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class ElectionFactory(factory.django.DjangoModelFactory[Election]):
    class Meta:
        model = Election

    organization = factory.SubFactory(OrganizationFactory)
    label = factory.Sequence(lambda n: f"11/05/{2000 + n % 30} GENERAL {n}")
    description = factory.LazyAttribute(lambda o: f"{o.label} election")


class CustomFieldFactory(factory.django.DjangoModelFactory[CustomField]):
    class Meta:
        model = CustomField

    organization = factory.SubFactory(OrganizationFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"Field {n}")
    type = CustomField.Type.TEXT


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    definition: Any = factory.LazyFunction(dict)


class HouseholdFactory(factory.django.DjangoModelFactory[Household]):
    class Meta:
        model = Household

    organization = factory.SubFactory(OrganizationFactory)
    address_key = factory.Sequence(lambda n: f"R TEST {n}|1000000")
    street = factory.Sequence(lambda n: f"Rua Teste {n}")


def add_phone(
    person: Person, e164: str, kind: str = PersonPhone.Kind.MOBILE, valid: bool = True
) -> PersonPhone:
    return PersonPhone.objects.create(
        organization=person.organization,
        person=person,
        raw=e164,
        e164=e164 if valid else "",
        kind=kind,
        is_valid=valid,
    )


def add_tag(person: Person, tag: Tag) -> None:
    PersonTag.objects.get_or_create(person=person, tag=tag)


def add_vote(person: Person, election: Election, method: str = "IN-PERSON") -> VoteRecord:
    return VoteRecord.objects.create(
        organization=person.organization, person=person, election=election, voting_method=method
    )


def _make_person(organization: Organization) -> Person:
    return PersonFactory(organization=organization)


def _make_segment(organization: Organization) -> Segment:
    return SegmentFactory(organization=organization)


def _make_tag(organization: Organization) -> Tag:
    return TagFactory(organization=organization)


def _make_custom_field(organization: Organization) -> CustomField:
    return CustomFieldFactory(organization=organization)


def _make_election(organization: Organization) -> Election:
    return ElectionFactory(organization=organization)


def _make_household(organization: Organization) -> Household:
    return HouseholdFactory(organization=organization)


register_isolation_maker("people.person", _make_person, "person_id", "other_person_id")
register_isolation_maker("people.segment", _make_segment)
register_isolation_maker("people.tag", _make_tag)
register_isolation_maker("people.customfield", _make_custom_field, "customfield_id", "field_id")
register_isolation_maker("people.election", _make_election)
register_isolation_maker("people.household", _make_household)

# The import models register theirs in their own module.
import mobiliza.people.tests.import_factories  # noqa: E402, F401

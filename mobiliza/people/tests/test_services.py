"""Person services: create / update with field-level audit, phones, custom fields, consent,
elector link, tags, segments (save, update, freeze)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from mobiliza.core.models import AuditEvent
from mobiliza.people import services
from mobiliza.people.models import (
    ConsentRecord,
    CustomField,
    Person,
    PersonList,
    PersonPhone,
    Segment,
    SegmentMember,
)
from mobiliza.people.selectors import segment_queryset
from mobiliza.people.tests.factories import CustomFieldFactory, PersonFactory, TagFactory, add_tag


def _events(person: Person) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_type="people.person", object_id=str(person.public_id)
        ).order_by("id")
    )


def test_create_normalizes_phones_time_zone_household_and_audits(
    org: Any, admin_member: Any
) -> None:
    person = services.person_create(
        organization=org,
        actor=admin_member.user,
        first_name=" Ana ",
        last_name="Silva",
        email="Ana@Example.org",
        street="Rua Augusta 27",
        postcode="1100-048",
        city="Lisboa",
        country="pt",
        phones=["912 345 678", ("21 234 5678", "landline"), "not a number"],
        tags=["volunteer"],
    )
    person.refresh_from_db()
    assert person.first_name == "Ana" and person.email == "ana@example.org"
    assert person.country == "PT" and person.time_zone == "Europe/Lisbon"
    phones = list(person.phones.order_by("position"))
    assert [(p.e164, p.kind, p.is_valid) for p in phones] == [
        ("+351912345678", "mobile", True),
        ("+351212345678", "landline", True),
        ("", "other", False),
    ]
    assert phones[2].raw == "not a number"  # kept, flagged, never dropped
    assert person.household is not None
    assert [t.name for t in person.tags.all()] == ["volunteer"]
    (event,) = _events(person)
    assert event.action == "create" and event.actor == admin_member.user
    assert event.changes["first_name"] == {"old": None, "new": "Ana"}


def test_time_zone_falls_back_to_the_phone(org: Any) -> None:
    person = services.person_create(
        organization=org, actor=None, first_name="Zé", phones=["+1 212 555 0123"]
    )
    person.refresh_from_db()
    assert person.time_zone == "America/New_York"


def test_update_audits_each_changed_field(org: Any, admin_member: Any) -> None:
    CustomFieldFactory(organization=org, key="age", label="Age", type=CustomField.Type.NUMBER)
    person = services.person_create(organization=org, actor=None, first_name="Ana", city="Porto")
    services.person_update(
        person=person,
        actor=admin_member.user,
        first_name="Ana",
        last_name="Sousa",
        support_level="4",
        custom_fields={"age": "41"},
    )
    person.refresh_from_db()
    assert person.last_name == "Sousa" and person.support_level == 4
    assert person.custom_fields == {"age": 41}
    event = _events(person)[-1]
    assert event.action == "update" and event.actor == admin_member.user
    assert event.changes == {
        "last_name": {"old": "", "new": "Sousa"},
        "support_level": {"old": None, "new": 4},
        "custom.age": {"old": None, "new": 41},
    }
    # No change, no event.
    count = len(_events(person))
    services.person_update(person=person, actor=admin_member.user, first_name="Ana")
    assert len(_events(person)) == count


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"support_level": 7}, "support_level"),
        ({"email": "not-an-email"}, "email"),
        ({"country": "Portugal"}, "country"),
        ({"latitude": "north"}, "latitude"),
        ({"birth_date": "31/12/1990"}, "birth_date"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"password": "x"}, "__all__"),
    ],
)
def test_bad_values_are_refused_and_nothing_changes(
    org: Any, values: dict[str, Any], field: str
) -> None:
    person = PersonFactory(organization=org, first_name="Ana")
    with pytest.raises(ValidationError) as caught:
        services.person_update(person=person, actor=None, **values)
    assert field in caught.value.message_dict
    person.refresh_from_db()
    assert person.first_name == "Ana" and person.support_level is None


def test_custom_field_values_are_typed(org: Any) -> None:
    CustomFieldFactory(organization=org, key="n", label="N", type="number")
    CustomFieldFactory(organization=org, key="d", label="D", type="date")
    CustomFieldFactory(organization=org, key="c", label="C", type="choice", choices=["a", "b"])
    CustomFieldFactory(organization=org, key="b", label="B", type="boolean")
    person = PersonFactory(organization=org)
    services.person_update(
        person=person,
        actor=None,
        custom_fields={"n": "2,5", "d": "2024-11-05", "c": "b", "b": "yes"},
    )
    person.refresh_from_db()
    assert person.custom_fields == {"n": 2.5, "d": "2024-11-05", "c": "b", "b": True}
    for bad in ({"n": "many"}, {"d": "05/11/2024"}, {"c": "z"}, {"b": "maybe"}, {"zzz": 1}):
        with pytest.raises(ValidationError):
            services.person_update(person=person, actor=None, custom_fields=bad)
    services.person_update(person=person, actor=None, custom_fields={"c": ""})
    person.refresh_from_db()
    assert "c" not in person.custom_fields


def test_consent_edit_keeps_history(org: Any, admin_member: Any) -> None:
    person = PersonFactory(organization=org)
    services.person_update(person=person, actor=admin_member.user, consent_sms=True)
    person.refresh_from_db()
    assert person.consent_sms is True
    record = ConsentRecord.objects.get(person=person)
    assert record.channel == "sms" and record.granted and record.recorded_by == admin_member.user


def test_phone_add_remove_and_normalize(org: Any, admin_member: Any) -> None:
    person = PersonFactory(organization=org)
    phone = services.person_phone_add(
        person=person, raw="+351 912 345 678", actor=admin_member.user
    )
    assert phone.e164 == "+351912345678" and phone.kind == "mobile"
    # The same number again is not duplicated.
    again = services.person_phone_add(person=person, raw="912345678", actor=None)
    assert again.pk == phone.pk
    bad = services.person_phone_add(person=person, raw="12", actor=None)
    assert bad.is_valid is False and bad.raw == "12"
    services.person_phone_remove(person=person, phone_id=bad.pk, actor=None)
    assert list(person.phones.values_list("e164", flat=True)) == ["+351912345678"]
    # Someone else's phone id is refused.
    stranger = PersonFactory(organization=org)
    theirs = services.person_phone_add(person=stranger, raw="913333333", actor=None)
    with pytest.raises(ValidationError):
        services.person_phone_remove(person=person, phone_id=theirs.pk, actor=None)
    # Re-normalizing after the default country changed.
    raw_fr = PersonPhone.objects.create(
        organization=org, person=person, raw="06 12 34 56 78", e164="", is_valid=False, position=5
    )
    org.default_country = "FR"
    org.save()
    person.refresh_from_db()
    assert services.person_phones_normalize(person=person, actor=None) == 1
    raw_fr.refresh_from_db()
    assert raw_fr.e164 == "+33612345678" and raw_fr.is_valid


def test_elector_link(org: Any, other_org: Any) -> None:
    contact = PersonFactory(organization=org)
    elector = PersonFactory(organization=org, list=PersonList.ELECTORS)
    services.person_link_elector(person=contact, elector=elector, actor=None)
    contact.refresh_from_db()
    assert contact.elector == elector
    assert list(elector.linked_contacts.all()) == [contact]
    with pytest.raises(ValidationError):
        services.person_link_elector(
            person=contact, elector=PersonFactory(organization=org), actor=None
        )
    with pytest.raises(ValidationError):
        services.person_link_elector(
            person=contact,
            elector=PersonFactory(organization=other_org, list=PersonList.ELECTORS),
            actor=None,
        )
    services.person_link_elector(person=contact, elector=None, actor=None)
    contact.refresh_from_db()
    assert contact.elector is None


def test_address_edit_moves_household(org: Any) -> None:
    a = services.person_create(organization=org, actor=None, street="Rua A 1", postcode="1000-001")
    b = services.person_create(organization=org, actor=None, street="Rua B 2", postcode="1000-002")
    assert a.household_id != b.household_id
    services.person_update(person=b, actor=None, street="Rua A, 1", postcode="1000001")
    b.refresh_from_db()
    a.refresh_from_db()
    assert b.household_id == a.household_id


def test_tags_set(org: Any) -> None:
    person = PersonFactory(organization=org)
    add_tag(person, TagFactory(organization=org, name="old"))
    services.person_tags_set(person=person, names=["new", "volunteer"], actor=None)
    assert sorted(person.tags.values_list("name", flat=True)) == ["new", "volunteer"]


def test_segment_save_update_and_freeze(org: Any, admin_member: Any) -> None:
    tag = TagFactory(organization=org, name="volunteer")
    tagged = [PersonFactory(organization=org) for _ in range(3)]
    for person in tagged:
        add_tag(person, tag)
    PersonFactory(organization=org)
    definition = {"op": "and", "children": [{"filter": "tag", "params": {"tag": "volunteer"}}]}
    segment = services.segment_create(
        organization=org,
        name="Volunteers",
        list="contacts",
        definition=definition,
        actor=admin_member.user,
    )
    assert set(segment_queryset(organization=org, segment=segment)) == set(tagged)
    frozen = services.segment_freeze(segment=segment, actor=admin_member.user)
    assert frozen.kind == Segment.Kind.STATIC and frozen.frozen_at is not None
    assert SegmentMember.objects.filter(segment=frozen).count() == 3
    # A new volunteer joins the saved filter, not the frozen list.
    newcomer = PersonFactory(organization=org)
    add_tag(newcomer, tag)
    assert segment_queryset(organization=org, segment=segment).count() == 4
    assert set(segment_queryset(organization=org, segment=frozen)) == set(tagged)
    with pytest.raises(ValidationError):
        services.segment_update(segment=frozen, actor=None, definition={})
    services.segment_update(segment=segment, actor=None, name="All volunteers")
    segment.refresh_from_db()
    assert segment.name == "All volunteers"
    with pytest.raises(ValidationError):
        services.segment_create(
            organization=org, name="Bad", list="contacts", definition={"filter": "nope"}, actor=None
        )
    with pytest.raises(ValidationError):
        services.segment_create(
            organization=org, name=" ", list="contacts", definition={}, actor=None
        )
    assert AuditEvent.objects.filter(object_type="people.segment", action="create").count() == 2

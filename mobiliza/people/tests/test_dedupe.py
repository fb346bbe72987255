"""Duplicates by rule, and merges that keep every chosen value and move related rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from mobiliza.core.models import AuditEvent
from mobiliza.people import services
from mobiliza.people.dedupe import duplicate_groups
from mobiliza.people.models import (
    ConsentRecord,
    Person,
    PersonList,
    PersonTag,
    SegmentMember,
    VoteRecord,
)
from mobiliza.people.tests.factories import (
    ElectionFactory,
    PersonFactory,
    SegmentFactory,
    TagFactory,
    add_phone,
    add_tag,
    add_vote,
)


def test_duplicates_by_phone_email_and_name_birth(org: Any, other_org: Any) -> None:
    a = PersonFactory(organization=org, email="ana@example.org", last_name="Silva")
    b = PersonFactory(organization=org, email="ANA@example.org", last_name="Sousa")
    c = PersonFactory(organization=org, last_name="Costa", birth_date=dt.date(1980, 1, 2))
    d = PersonFactory(organization=org, last_name="costa", birth_date=dt.date(1980, 1, 2))
    e = PersonFactory(organization=org)
    f = PersonFactory(organization=org)
    add_phone(e, "+351912345678")
    add_phone(f, "+351912345678")
    PersonFactory(organization=org, last_name="Costa", birth_date=dt.date(1981, 1, 2))
    # Another organization's twin is never proposed.
    x = PersonFactory(organization=other_org)
    add_phone(x, "+351912345678")
    # An elector with the same email is in the other list: not a duplicate of the contact.
    PersonFactory(organization=org, list=PersonList.ELECTORS, email="ana@example.org")
    groups = {
        (g.rule, frozenset(p.pk for p in g.people)) for g in duplicate_groups(organization=org)
    }
    assert groups == {
        ("email", frozenset({a.pk, b.pk})),
        ("name_birth", frozenset({c.pk, d.pk})),
        ("phone", frozenset({e.pk, f.pk})),
    }


@pytest.fixture
def pair(org: Any) -> tuple[Person, Person]:
    keep = PersonFactory(
        organization=org, first_name="Ana", last_name="Silva", email="", city="Lisboa",
        support_level=3, custom_fields={"color": "blue"},
    )  # fmt: skip
    other = PersonFactory(
        organization=org, first_name="Anna", last_name="Silva", email="ana@example.org",
        city="Porto", support_level=5, notes="met at the market",
        custom_fields={"color": "red", "size": "M"},
    )  # fmt: skip
    return keep, other


def test_merge_keeps_every_chosen_value(
    org: Any, admin_member: Any, pair: tuple[Person, Person]
) -> None:
    keep, other = pair
    merged = services.person_merge(
        keep=keep,
        other=other,
        choices={"first_name": "keep", "city": "other", "custom.color": "other"},
        actor=admin_member.user,
    )
    merged.refresh_from_db()
    assert merged.first_name == "Ana"  # chosen: keep
    assert merged.city == "Porto"  # chosen: other
    assert merged.email == "ana@example.org"  # keep was empty: filled from other
    assert merged.support_level == 3  # default: keep's
    assert merged.notes == "met at the market"
    assert merged.custom_fields == {"color": "red", "size": "M"}
    assert not Person.objects.filter(pk=other.pk).exists()
    event = AuditEvent.objects.get(action="merge", object_id=str(keep.public_id))
    assert event.actor == admin_member.user
    assert event.changes["city"] == {"old": "Lisboa", "new": "Porto"}
    assert event.meta["merged"] == str(other.public_id)
    assert event.meta["merged_values"]["support_level"] == 5  # what was not taken is on record
    assert AuditEvent.objects.filter(action="delete", object_id=str(other.public_id)).exists()
    # The kept person's history includes the merged person's past.
    from mobiliza.people.selectors import person_history

    history = person_history(organization=org, person=merged)
    assert {e.object_id for e in history} == {str(keep.public_id), str(other.public_id)}


def test_merge_moves_phones_tags_votes_consents_segments_without_duplicates(
    org: Any, pair: tuple[Person, Person]
) -> None:
    keep, other = pair
    shared_tag, own_tag = TagFactory(organization=org), TagFactory(organization=org)
    add_tag(keep, shared_tag)
    add_tag(other, shared_tag)
    add_tag(other, own_tag)
    e1, e2 = ElectionFactory(organization=org), ElectionFactory(organization=org)
    add_vote(keep, e1)
    add_vote(other, e1)
    add_vote(other, e2)
    add_phone(keep, "+351912345678")
    add_phone(other, "+351912345678")
    add_phone(other, "+351934444444")
    services.person_consent_record(
        person=other, channel="sms", granted=True, source="form", actor=None
    )
    segment = SegmentFactory(organization=org, kind="static")
    SegmentMember.objects.create(segment=segment, person=keep)
    SegmentMember.objects.create(segment=segment, person=other)
    contact = PersonFactory(organization=org)
    elector_keep = PersonFactory(organization=org, list=PersonList.ELECTORS)
    elector_other = PersonFactory(organization=org, list=PersonList.ELECTORS)
    contact.elector = elector_other
    contact.save()
    services.person_merge(keep=keep, other=other, actor=None)
    assert sorted(keep.phones.values_list("e164", flat=True)) == ["+351912345678", "+351934444444"]
    assert set(PersonTag.objects.filter(person=keep).values_list("tag_id", flat=True)) == {
        shared_tag.pk,
        own_tag.pk,
    }
    assert set(VoteRecord.objects.filter(person=keep).values_list("election_id", flat=True)) == {
        e1.pk,
        e2.pk,
    }
    assert ConsentRecord.objects.filter(person=keep, channel="sms").count() == 1
    assert SegmentMember.objects.filter(segment=segment).count() == 1
    # Merging two electors repoints the contacts linked to the merged one.
    services.person_merge(keep=elector_keep, other=elector_other, actor=None)
    contact.refresh_from_db()
    assert contact.elector == elector_keep


def test_merge_moves_survey_answers_safely(org: Any, pair: tuple[Person, Person]) -> None:
    """Other apps' rows follow the kept person; where both answered the same question, both
    answers stay and only the newer one is the latest."""
    from mobiliza.surveys.models import Answer
    from mobiliza.surveys.services import answers_record
    from mobiliza.surveys.tests.factories import make_survey

    keep, other = pair
    survey = make_survey(org)
    answers_record(
        organization=org, person=other, survey=survey, answers={"age": 40, "nick": "Nini"},
        channel="call", agent=None,
    )  # fmt: skip
    answers_record(
        organization=org, person=keep, survey=survey, answers={"age": 41}, channel="call",
        agent=None,
    )  # fmt: skip
    services.person_merge(keep=keep, other=other, actor=None)
    answers = list(Answer.objects.filter(person=keep).select_related("question"))
    assert len(answers) == 3  # nothing lost
    ages = [a for a in answers if a.question.key == "age"]
    assert [a.is_latest for a in sorted(ages, key=lambda a: a.value)] == [False, True]
    assert [a.value for a in answers if a.question.key == "nick"] == ["Nini"]


def test_merge_refuses_nonsense(org: Any, other_org: Any) -> None:
    a = PersonFactory(organization=org)
    with pytest.raises(ValidationError):
        services.person_merge(keep=a, other=a, actor=None)
    with pytest.raises(ValidationError):
        services.person_merge(keep=a, other=PersonFactory(organization=other_org), actor=None)
    with pytest.raises(ValidationError):
        services.person_merge(
            keep=a, other=PersonFactory(organization=org, list=PersonList.ELECTORS), actor=None
        )
    b = PersonFactory(organization=org)
    with pytest.raises(ValidationError):
        services.person_merge(keep=a, other=b, choices={"city": "both"}, actor=None)
    assert Person.objects.filter(pk=b.pk).exists()

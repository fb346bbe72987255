"""Reads about people. Every selector takes the organization and filters on it.

Other apps build their queues from `segment_queryset` and `definition_queryset`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.translation import gettext as _

from mobiliza.core.models import AuditEvent
from mobiliza.people.filters import definition_to_q
from mobiliza.people.models import (
    CustomField,
    Election,
    Household,
    Person,
    PersonList,
    PersonPhone,
    Segment,
    SegmentMember,
    Tag,
    VoteRecord,
)

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


# --- segments -----------------------------------------------------------------------------------
def definition_queryset(
    *, organization: Organization, list: str | None, definition: Mapping[str, Any] | None
) -> QuerySet[Person]:
    """People of one list (or both lists when `list` is None) matching a definition tree.

    Raises ValidationError for an unknown filter, a bad parameter or a malformed tree.
    """
    qs = Person.objects.filter(organization=organization)
    if list:
        if list not in PersonList.values:
            raise ValidationError(_("Unknown list “%(list)s”.") % {"list": list})
        qs = qs.filter(list=list)
    if definition:
        qs = qs.filter(definition_to_q(organization, definition))
    return qs


def segment_queryset(*, organization: Organization, segment: Segment) -> QuerySet[Person]:
    """The people of a segment: its frozen members (static) or its filter run now (dynamic)."""
    if segment.organization_id != organization.id:
        raise Http404
    if segment.kind == Segment.Kind.STATIC:
        members = SegmentMember.objects.filter(segment_id=segment.id, person_id=OuterRef("pk"))
        return Person.objects.filter(organization=organization).filter(Exists(members))
    return definition_queryset(
        organization=organization, list=segment.list, definition=segment.definition
    )


def segment_count(*, organization: Organization, segment: Segment) -> int:
    return segment_queryset(organization=organization, segment=segment).count()


def segments_for(*, organization: Organization) -> QuerySet[Segment]:
    return Segment.objects.filter(organization=organization).order_by("name", "id")


def segment_get(*, organization: Organization, public_id: uuid.UUID | str) -> Segment:
    try:
        return Segment.objects.get(organization=organization, public_id=public_id)
    except (Segment.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


# --- people list --------------------------------------------------------------------------------
_PHONE_CHARS = re.compile(r"^[+\d\s().\-/]+$")


def _search_phone(organization: Organization, text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) < 6 or not _PHONE_CHARS.match(text):
        return None
    from mobiliza.people.normalize import normalize_phone

    return normalize_phone(text, organization.default_country).e164 or None


def search_q(*, organization: Organization, text: str) -> Q:
    """Search by name (every word starts a first or a last name), email (the address starts with
    the text), phone (the E.164 number) or id (a word with digits: the external or voter id).

    Each branch is an index range on PostgreSQL (migration 0005: `UPPER(first_name)`,
    `UPPER(last_name)` and `email` with pattern operator classes, `voter_id`), so a search stays fast over
    millions of people. Middle names are not searched: one more OR branch per word would need a
    third index on every import."""
    text = text.strip()[:200]
    if not text:
        return Q()
    if "@" in text:
        # Emails are stored lower-cased (people services and imports). The email index holds
        # only people with an email: the query says so, or the planner can't use it.
        return Q(email__startswith=text.lower()) & ~Q(email="")
    e164 = _search_phone(organization, text)
    if e164:
        phones = PersonPhone.objects.filter(
            organization=organization, e164=e164, person_id=OuterRef("pk")
        )
        return Q(Exists(phones))
    if " " not in text and any(c.isdigit() for c in text):
        # An id (names have no digits): the external id (e.g. NCID) or the voter id.
        return Q(external_id=text) | Q(voter_id=text)
    q = Q()
    for word in text.split()[:6]:
        q &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    return q


@dataclass(frozen=True)
class Cursor:
    last_name: str
    first_name: str
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.last_name, self.first_name, self.id], ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor | None:
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            last, first, pk = json.loads(raw)
            if not (isinstance(last, str) and isinstance(first, str) and isinstance(pk, int)):
                return None
            return cls(last, first, pk)
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            return None


@dataclass(frozen=True)
class PeoplePage:
    people: list[Person]
    next_cursor: str | None


def _after(cursor: Cursor) -> RawSQL:
    # A row comparison both databases evaluate with the list's (organization, last_name,
    # first_name, id) index (`person_<list>_name`): the deep page costs the same as the first.
    table = Person._meta.db_table
    return RawSQL(  # noqa: S611 - identifiers are ours, values are parameters
        f'("{table}"."last_name", "{table}"."first_name", "{table}"."id") > (%s, %s, %s)',
        (cursor.last_name, cursor.first_name, cursor.id),
        output_field=BooleanField(),
    )


def _name_sorted(field: str) -> Func:
    return Func(F(field), template="(%(expressions)s || '')", output_field=CharField())


def people_page(
    *,
    queryset: QuerySet[Person],
    after: str = "",
    size: int = PAGE_SIZE,
    selective: bool = False,
) -> PeoplePage:
    """One page of people in name order, keyset-paginated: no OFFSET, no COUNT(*).

    `selective`: the queryset is a search, whose own indexes find the few matching rows. The
    name order is then given as an expression (`last_name || ''`, the same order) that the name
    index can't provide, so PostgreSQL sorts the matches instead of walking the name index from
    "A" until it meets 51 of them (4 s for a common name at "S" among a million people).
    It sorts only the matches' ids and names, and then reads the page's people by id: sorting
    the whole rows of 25,000 "Silva" was ~2 times slower (each row's every column read and
    carried through the sort, which PostgreSQL then split over parallel workers)."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    cursor = Cursor.decode(after)
    qs = queryset.select_related("elector").prefetch_related(
        Prefetch("phones", queryset=PersonPhone.objects.order_by("position", "id"))
    )
    if cursor is not None:
        qs = qs.filter(_after(cursor))
    rows: list[Person]
    if selective:
        order: list[Any] = [_name_sorted("last_name"), _name_sorted("first_name"), "id"]
        ids = list(
            qs.select_related(None)
            .prefetch_related(None)
            .order_by(*order)
            .values_list("id", flat=True)[: size + 1]
        )
        more, ids = len(ids) > size, ids[:size]
        # The same queryset, for its joins and prefetches (one changed since no longer shows).
        found = {person.id: person for person in qs.filter(id__in=ids).order_by()}
        rows = [found[pk] for pk in ids if pk in found]
    else:
        rows = list(qs.order_by("last_name", "first_name", "id")[: size + 1])
        more, rows = len(rows) > size, rows[:size]
    next_cursor = (
        Cursor(rows[-1].last_name, rows[-1].first_name, rows[-1].id).encode()
        if more and rows
        else None
    )
    return PeoplePage(people=rows, next_cursor=next_cursor)


def people_queryset(
    *,
    organization: Organization,
    list: str | None = PersonList.CONTACTS,
    search: str = "",
    definition: Mapping[str, Any] | None = None,
    segment: Segment | None = None,
) -> QuerySet[Person]:
    """People of the list page: a list, a search, and a segment or a builder definition."""
    if segment is not None:
        qs = segment_queryset(organization=organization, segment=segment)
        if list:
            qs = qs.filter(list=list)
    else:
        qs = definition_queryset(organization=organization, list=list, definition=definition)
    if search:
        qs = qs.filter(search_q(organization=organization, text=search))
    return qs


def people_counts(*, organization: Organization) -> dict[str, int]:
    counts = {value: 0 for value in PersonList.values}
    rows = (
        Person.objects.filter(organization=organization)
        .values("list")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["list"]] = row["n"]
    return counts


# --- one person ---------------------------------------------------------------------------------
def person_get(*, organization: Organization, public_id: uuid.UUID | str) -> Person:
    try:
        return Person.objects.select_related("household", "elector").get(
            organization=organization, public_id=public_id
        )
    except (Person.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


def person_detail(*, organization: Organization, public_id: uuid.UUID | str) -> Person:
    """A person with everything the person page shows, in a fixed number of queries."""
    try:
        return (
            Person.objects.select_related("household", "elector")
            .prefetch_related(
                Prefetch("phones", queryset=PersonPhone.objects.order_by("position", "id")),
                Prefetch("tags", queryset=Tag.objects.order_by("name")),
                Prefetch(
                    "votes",
                    queryset=VoteRecord.objects.select_related("election").order_by(
                        "-election__date", "election__label"
                    ),
                ),
                Prefetch(
                    "linked_contacts",
                    queryset=Person.objects.filter(organization=organization).order_by(
                        "last_name", "first_name", "id"
                    ),
                ),
                "consents",
            )
            .get(organization=organization, public_id=public_id)
        )
    except (Person.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


def household_members(*, organization: Organization, person: Person) -> list[Person]:
    if not person.household_id:
        return []
    return list(
        Person.objects.filter(organization=organization, household_id=person.household_id)
        .exclude(pk=person.pk)
        .order_by("last_name", "first_name", "id")[:50]
    )


def person_history(
    *, organization: Organization, person: Person, limit: int = 100
) -> list[AuditEvent]:
    """The audit trail of a person: edits, merges, tags, consent, answers recorded through
    people services, newest first; with the trail of the people merged into this one."""
    events = AuditEvent.objects.filter(
        organization=organization, object_type=Person._meta.label_lower
    )
    ids = {str(person.public_id)}
    merged = events.filter(
        action=AuditEvent.Action.MERGE, object_id=str(person.public_id)
    ).values_list("meta", flat=True)
    ids.update(str(m.get("merged")) for m in merged if isinstance(m, dict) and m.get("merged"))
    return list(
        events.filter(object_id__in=sorted(ids)).select_related("actor").order_by("-id")[:limit]
    )


def household_get(*, organization: Organization, public_id: uuid.UUID | str) -> Household:
    try:
        return Household.objects.get(organization=organization, public_id=public_id)
    except (Household.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


# --- catalogues ---------------------------------------------------------------------------------
def tags_for(*, organization: Organization) -> QuerySet[Tag]:
    return Tag.objects.filter(organization=organization).order_by("name")


def elections_for(*, organization: Organization) -> QuerySet[Election]:
    return Election.objects.filter(organization=organization).order_by("-date", "label")


def custom_fields_for(*, organization: Organization) -> QuerySet[CustomField]:
    return CustomField.objects.filter(organization=organization).order_by("position", "label")


def person_votes(*, organization: Organization, person: Person) -> QuerySet[VoteRecord]:
    return (
        VoteRecord.objects.filter(organization=organization, person=person)
        .select_related("election")
        .order_by("-election__date", "election__label")
    )

"""People API: people (keyset-paginated), phones, tags, elector links, voting history, history,
custom fields, segments (filter catalogue, count, freeze, members), duplicates and merge.

Thin: every endpoint checks a permission, then calls `people.services` or `people.selectors`.
Bad input answers 422 with a message; another organization's ids answer 404.
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from mobiliza.core.api import api_membership, api_org, unprocessable
from mobiliza.core.permissions import Perm
from mobiliza.people import selectors, services
from mobiliza.people.dedupe import duplicate_groups
from mobiliza.people.fields import person_field_catalog
from mobiliza.people.filters import registered_filters
from mobiliza.people.models import CustomField, Person, PersonList, Segment, Tag

router = Router(tags=["people"])


# --- schemas ------------------------------------------------------------------------------------
class PhoneOut(Schema):
    number: str
    raw: str
    kind: str
    is_valid: bool


class PersonOut(Schema):
    id: uuid.UUID
    list: str
    first_name: str
    middle_name: str
    last_name: str
    email: str
    phones: builtins.list[PhoneOut]
    street: str
    postcode: str
    city: str
    region: str
    country: str
    latitude: float | None
    longitude: float | None
    birth_date: dt.date | None
    birth_year: int | None
    gender: str
    language: str
    nationality: str
    polling_place: str
    precinct: str
    voter_id: str
    registration_status: str
    external_id: str
    support_level: int | None
    donations_this_year: decimal.Decimal
    consent_phone: bool | None
    consent_sms: bool | None
    consent_email: bool | None
    do_not_contact: bool
    notes: str
    time_zone: str
    tags: builtins.list[str]
    custom_fields: dict[str, Any]
    household_id: uuid.UUID | None
    elector_id: uuid.UUID | None
    linked_contact_ids: builtins.list[uuid.UUID]
    created_at: dt.datetime
    updated_at: dt.datetime


class PeoplePageOut(Schema):
    items: builtins.list[PersonOut]
    next: str | None = None


class PersonFieldsIn(Schema):
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    birth_date: dt.date | None = None
    birth_year: int | None = None
    gender: str | None = None
    language: str | None = None
    nationality: str | None = None
    polling_place: str | None = None
    precinct: str | None = None
    voter_id: str | None = None
    registration_status: str | None = None
    external_id: str | None = None
    support_level: int | None = None
    donations_this_year: decimal.Decimal | None = None
    consent_phone: bool | None = None
    consent_sms: bool | None = None
    consent_email: bool | None = None
    do_not_contact: bool | None = None
    notes: str | None = None
    custom_fields: dict[str, Any] | None = None


class PersonCreateIn(PersonFieldsIn):
    list: PersonList = PersonList.CONTACTS
    phones: builtins.list[str] = []
    tags: builtins.list[str] = []


class PhoneIn(Schema):
    number: str
    kind: str = ""


class PhoneRemoveIn(Schema):
    number: str


class TagsIn(Schema):
    tags: builtins.list[str]


class ElectorLinkIn(Schema):
    elector_id: uuid.UUID | None = None


class VoteOut(Schema):
    election: str
    election_label: str
    date: dt.date | None
    voting_method: str


class ElectionOut(Schema):
    id: uuid.UUID
    label: str
    description: str
    date: dt.date | None


class HistoryOut(Schema):
    id: int
    created_at: dt.datetime
    actor: str | None
    action: str
    changes: dict[str, Any]
    meta: dict[str, Any]


class TagOut(Schema):
    id: uuid.UUID
    name: str


class TagIn(Schema):
    name: str


class CustomFieldOut(Schema):
    id: uuid.UUID
    key: str
    label: str
    type: str
    choices: builtins.list[str]


class CustomFieldIn(Schema):
    label: str
    key: str = ""
    type: CustomField.Type = CustomField.Type.TEXT
    choices: builtins.list[str] = []


class FilterParamOut(Schema):
    name: str
    label: str
    type: str
    required: bool
    choices: builtins.list[builtins.list[str]]


class FilterOut(Schema):
    key: str
    label: str
    group: str
    params: builtins.list[FilterParamOut]


class FieldOut(Schema):
    key: str
    label: str
    type: str
    group: str
    agent_editable: bool
    choices: builtins.list[builtins.list[str]]


class SegmentOut(Schema):
    id: uuid.UUID
    name: str
    list: str
    kind: str
    definition: dict[str, Any]
    frozen_at: dt.datetime | None
    created_at: dt.datetime


class SegmentIn(Schema):
    name: str
    list: PersonList = PersonList.CONTACTS
    definition: dict[str, Any] = {}


class SegmentPatchIn(Schema):
    name: str | None = None
    definition: dict[str, Any] | None = None


class FreezeIn(Schema):
    name: str = ""


class DefinitionIn(Schema):
    list: PersonList | None = PersonList.CONTACTS
    definition: dict[str, Any] = {}


class CountOut(Schema):
    count: int


class DuplicateGroupOut(Schema):
    rule: str
    key: str
    people: builtins.list[PersonOut]


class MergeIn(Schema):
    other_id: uuid.UUID
    choices: dict[str, str] = {}


# --- helpers ------------------------------------------------------------------------------------
def _prefetched(qs: Any) -> Any:
    return qs.select_related("household", "elector").prefetch_related(
        "tags",
        Prefetch("linked_contacts", queryset=Person.objects.only("id", "public_id", "elector_id")),
    )


def _person_out(p: Person) -> PersonOut:
    return PersonOut(
        id=p.public_id,
        list=p.list,
        first_name=p.first_name,
        middle_name=p.middle_name,
        last_name=p.last_name,
        email=p.email,
        phones=[
            PhoneOut(number=ph.e164, raw=ph.raw, kind=ph.kind, is_valid=ph.is_valid)
            for ph in p.phones.all()
        ],
        street=p.street,
        postcode=p.postcode,
        city=p.city,
        region=p.region,
        country=p.country,
        latitude=p.latitude,
        longitude=p.longitude,
        birth_date=p.birth_date,
        birth_year=p.birth_year,
        gender=p.gender,
        language=p.language,
        nationality=p.nationality,
        polling_place=p.polling_place,
        precinct=p.precinct,
        voter_id=p.voter_id,
        registration_status=p.registration_status,
        external_id=p.external_id,
        support_level=p.support_level,
        donations_this_year=p.donations_this_year,
        consent_phone=p.consent_phone,
        consent_sms=p.consent_sms,
        consent_email=p.consent_email,
        do_not_contact=p.do_not_contact,
        notes=p.notes,
        time_zone=p.time_zone,
        tags=sorted(t.name for t in p.tags.all()),
        custom_fields=p.custom_fields or {},
        household_id=p.household.public_id if p.household_id and p.household else None,
        elector_id=p.elector.public_id if p.elector_id and p.elector else None,
        linked_contact_ids=[c.public_id for c in p.linked_contacts.all()],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _person(request: HttpRequest, person_id: uuid.UUID, perm: Perm = Perm.PEOPLE_VIEW) -> Person:
    organization = api_org(request, perm)
    return selectors.person_get(organization=organization, public_id=person_id)


def _person_full(request: HttpRequest, person_id: uuid.UUID) -> PersonOut:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    qs = _prefetched(Person.objects.filter(organization=organization)).prefetch_related("phones")
    return _person_out(get_object_or_404(qs, public_id=person_id))


def _segment(request: HttpRequest, segment_id: uuid.UUID, perm: Perm = Perm.PEOPLE_VIEW) -> Segment:
    organization = api_org(request, perm)
    return selectors.segment_get(organization=organization, public_id=segment_id)


def _segment_out(s: Segment) -> SegmentOut:
    return SegmentOut(
        id=s.public_id,
        name=s.name,
        list=s.list,
        kind=s.kind,
        definition=s.definition or {},
        frozen_at=s.frozen_at,
        created_at=s.created_at,
    )


def _page(qs: Any, after: str, size: int, *, selective: bool = False) -> PeoplePageOut:
    page = selectors.people_page(
        queryset=_prefetched(qs), after=after, size=size, selective=selective
    )
    return PeoplePageOut(items=[_person_out(p) for p in page.people], next=page.next_cursor)


# --- people -------------------------------------------------------------------------------------
@router.get(
    "/people",
    response=PeoplePageOut,
    summary="People of a list, by name; search by name, phone or email; keyset pages (`next`)",
)
def people_list(
    request: HttpRequest,
    list: PersonList = PersonList.CONTACTS,
    q: str = "",
    segment: uuid.UUID | None = None,
    after: str = "",
    size: int = 50,
) -> PeoplePageOut:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    seg = selectors.segment_get(organization=organization, public_id=segment) if segment else None
    try:
        qs = selectors.people_queryset(
            organization=organization,
            list=None if seg is not None else list,  # a segment has its own list
            search=q,
            segment=seg,
        )
        return _page(qs, after, size, selective=bool(q.strip()))
    except ValidationError as exc:
        raise unprocessable(exc) from None


@router.post("/people", response={201: PersonOut}, summary="Add a person")
def people_create(request: HttpRequest, payload: PersonCreateIn) -> Status:
    organization = api_org(request, Perm.PEOPLE_EDIT)
    values = payload.model_dump(exclude_unset=True, exclude={"list", "phones", "tags"})
    custom = values.pop("custom_fields", None) or {}
    try:
        person = services.person_create(
            organization=organization,
            actor=api_membership(request).user,
            list=payload.list,
            phones=payload.phones,
            tags=payload.tags,
            custom_fields=custom,
            **values,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, _person_full(request, person.public_id))


@router.get("/people/duplicates", response=list[DuplicateGroupOut], summary="Likely duplicates")
def people_duplicates(
    request: HttpRequest, list: PersonList = PersonList.CONTACTS
) -> list[DuplicateGroupOut]:
    organization = api_org(request, Perm.PEOPLE_MERGE)
    groups = duplicate_groups(organization=organization, people_list=list)
    return [
        DuplicateGroupOut(rule=g.rule, key=g.key, people=[_person_out(p) for p in g.people])
        for g in groups
    ]


@router.get("/people/{person_id}", response=PersonOut, summary="One person, with everything")
def people_get(request: HttpRequest, person_id: uuid.UUID) -> PersonOut:
    return _person_full(request, person_id)


@router.patch(
    "/people/{person_id}",
    response=PersonOut,
    summary="Change fields of a person (each change is audited, old and new value)",
)
def people_update(request: HttpRequest, person_id: uuid.UUID, payload: PersonFieldsIn) -> PersonOut:
    person = _person(request, person_id, Perm.PEOPLE_EDIT)
    values = payload.model_dump(exclude_unset=True)
    custom = values.pop("custom_fields", None)
    try:
        services.person_update(
            person=person, actor=api_membership(request).user, custom_fields=custom, **values
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _person_full(request, person_id)


@router.post(
    "/people/{person_id}/phones",
    response={201: PhoneOut},
    summary="Add a phone number (stored as E.164; an unparseable one is kept and flagged)",
)
def people_phone_add(request: HttpRequest, person_id: uuid.UUID, payload: PhoneIn) -> Status:
    person = _person(request, person_id, Perm.PEOPLE_EDIT)
    try:
        phone = services.person_phone_add(
            person=person, raw=payload.number, kind=payload.kind, actor=api_membership(request).user
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(
        201, PhoneOut(number=phone.e164, raw=phone.raw, kind=phone.kind, is_valid=phone.is_valid)
    )


@router.post(
    "/people/{person_id}/phones/remove",
    response=PersonOut,
    summary="Remove a phone number (as stored, E.164 or as written)",
)
def people_phone_remove(
    request: HttpRequest, person_id: uuid.UUID, payload: PhoneRemoveIn
) -> PersonOut:
    person = _person(request, person_id, Perm.PEOPLE_EDIT)
    number = payload.number.strip()
    phone = person.phones.filter(e164=number).first() or person.phones.filter(raw=number).first()
    if phone is None:
        raise HttpError(422, _("That phone number is not on this person."))
    services.person_phone_remove(
        person=person, phone_id=phone.pk, actor=api_membership(request).user
    )
    return _person_full(request, person_id)


@router.put("/people/{person_id}/tags", response=PersonOut, summary="Set the tags of a person")
def people_tags_set(request: HttpRequest, person_id: uuid.UUID, payload: TagsIn) -> PersonOut:
    person = _person(request, person_id, Perm.PEOPLE_EDIT)
    try:
        services.person_tags_set(
            person=person, names=payload.tags, actor=api_membership(request).user
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _person_full(request, person_id)


@router.put(
    "/people/{person_id}/elector",
    response=PersonOut,
    summary="Link a contact to its elector record (null unlinks)",
)
def people_elector_link(
    request: HttpRequest, person_id: uuid.UUID, payload: ElectorLinkIn
) -> PersonOut:
    person = _person(request, person_id, Perm.PEOPLE_EDIT)
    elector = None
    if payload.elector_id is not None:
        elector = Person.objects.filter(
            organization=person.organization, public_id=payload.elector_id
        ).first()
        if elector is None:
            raise HttpError(422, _("No elector record with that id."))
    try:
        services.person_link_elector(
            person=person, elector=elector, actor=api_membership(request).user
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _person_full(request, person_id)


@router.get("/people/{person_id}/votes", response=list[VoteOut], summary="Voting history")
def people_votes(request: HttpRequest, person_id: uuid.UUID) -> list[VoteOut]:
    person = _person(request, person_id)
    return [
        VoteOut(
            election=str(v.election),
            election_label=v.election.label,
            date=v.election.date,
            voting_method=v.voting_method,
        )
        for v in selectors.person_votes(organization=person.organization, person=person)
    ]


@router.get(
    "/people/{person_id}/history",
    response=list[HistoryOut],
    summary="The audit trail of a person (edits, merges, tags, consent...)",
)
def people_history(request: HttpRequest, person_id: uuid.UUID) -> list[HistoryOut]:
    person = _person(request, person_id)
    events = selectors.person_history(organization=person.organization, person=person)
    return [
        HistoryOut(
            id=e.id,
            created_at=e.created_at,
            actor=str(e.actor) if e.actor else None,
            action=e.action,
            changes=e.changes,
            meta=e.meta,
        )
        for e in events
    ]


@router.post(
    "/people/{person_id}/merge",
    response=PersonOut,
    summary="Merge another person into this one, field by field (`choices`: field -> keep|other)",
)
def people_merge(request: HttpRequest, person_id: uuid.UUID, payload: MergeIn) -> PersonOut:
    keep = _person(request, person_id, Perm.PEOPLE_MERGE)
    other = Person.objects.filter(
        organization=keep.organization, public_id=payload.other_id
    ).first()
    if other is None:
        raise HttpError(422, _("No person with that id to merge."))
    try:
        services.person_merge(
            keep=keep, other=other, choices=payload.choices, actor=api_membership(request).user
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _person_full(request, person_id)


@router.get("/elections", response=list[ElectionOut], summary="Elections of the voting history")
def elections_list(request: HttpRequest) -> list[ElectionOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    return [
        ElectionOut(id=e.public_id, label=e.label, description=e.description, date=e.date)
        for e in selectors.elections_for(organization=organization)
    ]


@router.get(
    "/person-fields",
    response=list[FieldOut],
    summary="The catalogue of person fields (built-in and custom), with agent editability",
)
def person_fields(request: HttpRequest) -> list[FieldOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    return [
        FieldOut(
            key=f.key,
            label=str(f.label),
            type=f.type,
            group=str(f.group),
            agent_editable=f.agent_editable,
            choices=[[v, str(label)] for v, label in f.choices],
        )
        for f in person_field_catalog(organization=organization)
    ]


# --- tags and custom fields ---------------------------------------------------------------------
@router.get("/tags", response=list[TagOut], summary="Tags")
def tags_list(request: HttpRequest) -> list[TagOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    return [
        TagOut(id=t.public_id, name=t.name) for t in selectors.tags_for(organization=organization)
    ]


@router.post("/tags", response={201: TagOut}, summary="Create a tag")
def tags_create(request: HttpRequest, payload: TagIn) -> Status:
    organization = api_org(request, Perm.PEOPLE_EDIT)
    try:
        tag = services.tag_get_or_create(organization=organization, name=payload.name)
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, TagOut(id=tag.public_id, name=tag.name))


def _tag(request: HttpRequest, tag_id: uuid.UUID) -> Tag:
    organization = api_org(request, Perm.PEOPLE_EDIT)
    return get_object_or_404(Tag, organization=organization, public_id=tag_id)


@router.patch("/tags/{tag_id}", response=TagOut, summary="Rename a tag")
def tags_rename(request: HttpRequest, tag_id: uuid.UUID, payload: TagIn) -> TagOut:
    tag = _tag(request, tag_id)
    try:
        services.tag_rename(tag=tag, name=payload.name, actor=api_membership(request).user)
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return TagOut(id=tag.public_id, name=tag.name)


@router.delete("/tags/{tag_id}", response={204: None}, summary="Delete a tag (from everyone)")
def tags_delete(request: HttpRequest, tag_id: uuid.UUID) -> Status:
    tag = _tag(request, tag_id)
    services.tag_delete(tag=tag, actor=api_membership(request).user)
    return Status(204, None)


def _cf_out(cf: CustomField) -> CustomFieldOut:
    return CustomFieldOut(
        id=cf.public_id,
        key=cf.key,
        label=cf.label,
        type=cf.type,
        choices=[str(c) for c in cf.choices or []],
    )


@router.get("/custom-fields", response=list[CustomFieldOut], summary="Custom fields of people")
def custom_fields_list(request: HttpRequest) -> list[CustomFieldOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    return [_cf_out(cf) for cf in selectors.custom_fields_for(organization=organization)]


@router.post("/custom-fields", response={201: CustomFieldOut}, summary="Add a custom field")
def custom_fields_create(request: HttpRequest, payload: CustomFieldIn) -> Status:
    organization = api_org(request, Perm.SEGMENTS_MANAGE)
    try:
        field = services.custom_field_create(
            organization=organization,
            key=payload.key or payload.label,
            label=payload.label,
            type=payload.type,
            choices=payload.choices,
            actor=api_membership(request).user,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, _cf_out(field))


@router.delete(
    "/custom-fields/{customfield_id}",
    response={204: None},
    summary="Delete a custom field (stored values stay in people's data)",
)
def custom_fields_delete(request: HttpRequest, customfield_id: uuid.UUID) -> Status:
    organization = api_org(request, Perm.ORG_SETTINGS)
    field = get_object_or_404(CustomField, organization=organization, public_id=customfield_id)
    services.custom_field_delete(field=field, actor=api_membership(request).user)
    return Status(204, None)


# --- segments -----------------------------------------------------------------------------------
@router.get(
    "/segment-filters",
    response=list[FilterOut],
    summary="Every registered segment filter and its parameters",
)
def segment_filters(request: HttpRequest) -> list[FilterOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    result = []
    for spec in registered_filters():
        params = []
        for p in spec.params:
            choices = (
                p.options(organization)
                if p.options is not None
                else [(v, str(label)) for v, label in p.choices]
            )
            params.append(
                FilterParamOut(
                    name=p.name,
                    label=str(p.label),
                    type=p.type,
                    required=p.required,
                    choices=[[v, str(label)] for v, label in choices],
                )
            )
        result.append(
            FilterOut(key=spec.key, label=str(spec.label), group=str(spec.group), params=params)
        )
    return result


@router.post(
    "/segments/count",
    response=CountOut,
    summary="Count the people a definition matches (the builder's live count)",
)
def segments_preview_count(request: HttpRequest, payload: DefinitionIn) -> CountOut:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    try:
        qs = selectors.definition_queryset(
            organization=organization, list=payload.list, definition=payload.definition
        )
        return CountOut(count=qs.count())
    except ValidationError as exc:
        raise unprocessable(exc) from None


@router.get("/segments", response=list[SegmentOut], summary="Saved segments and frozen lists")
def segments_list(request: HttpRequest) -> list[SegmentOut]:
    organization = api_org(request, Perm.PEOPLE_VIEW)
    return [_segment_out(s) for s in selectors.segments_for(organization=organization)]


@router.post("/segments", response={201: SegmentOut}, summary="Save a segment (a filter)")
def segments_create(request: HttpRequest, payload: SegmentIn) -> Status:
    organization = api_org(request, Perm.SEGMENTS_MANAGE)
    try:
        segment = services.segment_create(
            organization=organization,
            name=payload.name,
            list=payload.list,
            definition=payload.definition,
            actor=api_membership(request).user,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, _segment_out(segment))


@router.get("/segments/{segment_id}", response=SegmentOut, summary="One segment")
def segments_get(request: HttpRequest, segment_id: uuid.UUID) -> SegmentOut:
    return _segment_out(_segment(request, segment_id))


@router.patch(
    "/segments/{segment_id}", response=SegmentOut, summary="Rename a segment or change its filter"
)
def segments_update(
    request: HttpRequest, segment_id: uuid.UUID, payload: SegmentPatchIn
) -> SegmentOut:
    segment = _segment(request, segment_id, Perm.SEGMENTS_MANAGE)
    try:
        services.segment_update(
            segment=segment,
            actor=api_membership(request).user,
            name=payload.name,
            definition=payload.definition,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _segment_out(segment)


@router.delete("/segments/{segment_id}", response={204: None}, summary="Delete a segment")
def segments_delete(request: HttpRequest, segment_id: uuid.UUID) -> Status:
    segment = _segment(request, segment_id, Perm.SEGMENTS_MANAGE)
    services.segment_delete(segment=segment, actor=api_membership(request).user)
    return Status(204, None)


@router.get("/segments/{segment_id}/count", response=CountOut, summary="How many people now")
def segments_count(request: HttpRequest, segment_id: uuid.UUID) -> CountOut:
    segment = _segment(request, segment_id)
    try:
        return CountOut(
            count=selectors.segment_count(organization=segment.organization, segment=segment)
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None


@router.get(
    "/segments/{segment_id}/people",
    response=PeoplePageOut,
    summary="The people of a segment, keyset pages",
)
def segments_people(
    request: HttpRequest, segment_id: uuid.UUID, after: str = "", size: int = 50
) -> PeoplePageOut:
    segment = _segment(request, segment_id)
    try:
        qs = selectors.segment_queryset(organization=segment.organization, segment=segment)
        return _page(qs, after, size)
    except ValidationError as exc:
        raise unprocessable(exc) from None


@router.post(
    "/segments/{segment_id}/freeze",
    response={201: SegmentOut},
    summary="Freeze the people a segment matches now into a new static list",
)
def segments_freeze(request: HttpRequest, segment_id: uuid.UUID, payload: FreezeIn) -> Status:
    segment = _segment(request, segment_id, Perm.SEGMENTS_MANAGE)
    try:
        frozen = services.segment_freeze(
            segment=segment, actor=api_membership(request).user, name=payload.name
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, _segment_out(frozen))

"""The catalogue of person fields: built-in columns, phones, tags, voting history and the
organization's custom fields.

Other apps use it to decide which fields an operation shows to or lets agents edit
(`person_field_catalog`) and to read a value for display (`person_field_value`). A field with
`agent_editable=False` may never be edited by an agent, whatever an operation says (official
register data such as voter id, polling place or voting history, and money).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from mobiliza.people.models import CustomField, Person

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from mobiliza.accounts.models import Organization

CUSTOM_PREFIX = "custom."


class FieldType:
    TEXT = "text"
    LONG_TEXT = "long_text"
    EMAIL = "email"
    NUMBER = "number"
    DECIMAL = "decimal"
    DATE = "date"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    PHONES = "phones"
    TAGS = "tags"
    VOTES = "votes"
    PERSON = "person"
    HOUSEHOLD = "household"


class FieldGroup:
    IDENTITY = _("Identity")
    CONTACT = _("Contact")
    ADDRESS = _("Address")
    ELECTORAL = _("Electoral register")
    CAMPAIGN = _("Campaign")
    CONSENT = _("Consent")
    CUSTOM = _("Custom fields")


Reader = Callable[[Person], Any]


@dataclass(frozen=True)
class PersonField:
    key: str
    label: str | _StrPromise
    type: str
    group: str | _StrPromise
    agent_editable: bool
    read: Reader = field(repr=False, compare=False)
    choices: tuple[tuple[str, str | _StrPromise], ...] = ()
    custom: bool = False

    def value(self, person: Person) -> Any:
        return self.read(person)


def _attr(name: str) -> Reader:
    return lambda person: getattr(person, name)


def _phones(person: Person) -> list[str]:
    return [p.e164 or p.raw for p in person.phones.all()]


def _tags(person: Person) -> list[str]:
    return [t.name for t in person.tags.all()]


def _votes(person: Person) -> list[str]:
    return [str(v.election) for v in person.votes.all()]


def _household(person: Person) -> str:
    return str(person.household) if person.household_id else ""


def _elector(person: Person) -> str:
    return str(person.elector) if person.elector_id else ""


def _builtin(
    key: str,
    label: str | _StrPromise,
    type_: str,
    group: str | _StrPromise,
    editable: bool,
    read: Reader | None = None,
    choices: tuple[tuple[str, str | _StrPromise], ...] = (),
) -> PersonField:
    return PersonField(
        key=key,
        label=label,
        type=type_,
        group=group,
        agent_editable=editable,
        read=read or _attr(key),
        choices=choices,
    )


_T, _G = FieldType, FieldGroup
SUPPORT_CHOICES: tuple[tuple[str, str | _StrPromise], ...] = (
    ("1", _("1 · strong opponent")),
    ("2", _("2 · leaning against")),
    ("3", _("3 · undecided")),
    ("4", _("4 · leaning for")),
    ("5", _("5 · strong supporter")),
)

BUILTIN_FIELDS: tuple[PersonField, ...] = (
    _builtin("first_name", _("First name"), _T.TEXT, _G.IDENTITY, True),
    _builtin("middle_name", _("Middle name"), _T.TEXT, _G.IDENTITY, True),
    _builtin("last_name", _("Last name"), _T.TEXT, _G.IDENTITY, True),
    _builtin("birth_date", _("Birth date"), _T.DATE, _G.IDENTITY, False),
    _builtin("birth_year", _("Birth year"), _T.NUMBER, _G.IDENTITY, False),
    _builtin(
        "gender",
        _("Gender"),
        _T.CHOICE,
        _G.IDENTITY,
        True,
        choices=tuple((str(v), lbl) for v, lbl in Person.Gender.choices),
    ),
    _builtin("language", _("Language"), _T.TEXT, _G.IDENTITY, True),
    _builtin("nationality", _("Nationality"), _T.TEXT, _G.IDENTITY, True),
    _builtin("phones", _("Phones"), _T.PHONES, _G.CONTACT, True, read=_phones),
    _builtin("email", _("Email"), _T.EMAIL, _G.CONTACT, True),
    _builtin("time_zone", _("Time zone"), _T.TEXT, _G.CONTACT, False),
    _builtin("street", _("Street"), _T.TEXT, _G.ADDRESS, True),
    _builtin("postcode", _("Postcode"), _T.TEXT, _G.ADDRESS, True),
    _builtin("city", _("City"), _T.TEXT, _G.ADDRESS, True),
    _builtin("region", _("Region"), _T.TEXT, _G.ADDRESS, True),
    _builtin("country", _("Country"), _T.TEXT, _G.ADDRESS, True),
    _builtin("latitude", _("Latitude"), _T.DECIMAL, _G.ADDRESS, False),
    _builtin("longitude", _("Longitude"), _T.DECIMAL, _G.ADDRESS, False),
    _builtin("household", _("Household"), _T.HOUSEHOLD, _G.ADDRESS, False, read=_household),
    _builtin("external_id", _("External id"), _T.TEXT, _G.ELECTORAL, False),
    _builtin("voter_id", _("Voter id"), _T.TEXT, _G.ELECTORAL, False),
    _builtin("registration_status", _("Registration status"), _T.TEXT, _G.ELECTORAL, False),
    _builtin("polling_place", _("Polling place"), _T.TEXT, _G.ELECTORAL, False),
    _builtin("precinct", _("Precinct"), _T.TEXT, _G.ELECTORAL, False),
    _builtin("voting_history", _("Voting history"), _T.VOTES, _G.ELECTORAL, False, read=_votes),
    _builtin("elector", _("Elector record"), _T.PERSON, _G.ELECTORAL, False, read=_elector),
    _builtin(
        "support_level",
        _("Support level"),
        _T.NUMBER,
        _G.CAMPAIGN,
        True,
        choices=SUPPORT_CHOICES,
    ),
    _builtin("donations_this_year", _("Donations this year"), _T.DECIMAL, _G.CAMPAIGN, False),
    _builtin("tags", _("Tags"), _T.TAGS, _G.CAMPAIGN, True, read=_tags),
    _builtin("notes", _("Notes"), _T.LONG_TEXT, _G.CAMPAIGN, True),
    _builtin("consent_phone", _("Phone consent"), _T.BOOLEAN, _G.CONSENT, True),
    _builtin("consent_sms", _("SMS consent"), _T.BOOLEAN, _G.CONSENT, True),
    _builtin("consent_email", _("Email consent"), _T.BOOLEAN, _G.CONSENT, True),
    _builtin("do_not_contact", _("Do not contact"), _T.BOOLEAN, _G.CONSENT, True),
)
_BUILTIN_BY_KEY = {f.key: f for f in BUILTIN_FIELDS}

# Fields that no operation may ever let an agent edit (official register data, money, history).
NEVER_AGENT_EDITABLE = frozenset(f.key for f in BUILTIN_FIELDS if not f.agent_editable)

# Plain columns of Person that `person_update` may write (phones, tags, household and the elector
# link have their own services).
EDITABLE_COLUMNS: tuple[str, ...] = tuple(
    f.key
    for f in BUILTIN_FIELDS
    if f.type not in {_T.PHONES, _T.TAGS, _T.VOTES, _T.PERSON, _T.HOUSEHOLD}
    and f.key not in {"time_zone"}
)

_CUSTOM_TYPES = {
    CustomField.Type.TEXT: _T.TEXT,
    CustomField.Type.NUMBER: _T.NUMBER,
    CustomField.Type.DATE: _T.DATE,
    CustomField.Type.CHOICE: _T.CHOICE,
    CustomField.Type.BOOLEAN: _T.BOOLEAN,
}


def custom_field_entry(custom_field: CustomField) -> PersonField:
    key = custom_field.key
    return PersonField(
        key=CUSTOM_PREFIX + key,
        label=custom_field.label,
        type=_CUSTOM_TYPES.get(custom_field.type, _T.TEXT),  # type: ignore[call-overload]
        group=_G.CUSTOM,
        agent_editable=True,
        read=lambda person: (person.custom_fields or {}).get(key),
        choices=tuple((str(c), str(c)) for c in (custom_field.choices or [])),
        custom=True,
    )


def person_field_catalog(*, organization: Organization) -> list[PersonField]:
    """Every field of a person in this organization: built-in ones, then custom fields."""
    custom = CustomField.objects.filter(organization=organization).order_by("position", "label")
    return [*BUILTIN_FIELDS, *(custom_field_entry(cf) for cf in custom)]


def person_field(key: str, *, organization: Organization | None = None) -> PersonField | None:
    """One field by key (custom fields need the organization)."""
    if key in _BUILTIN_BY_KEY:
        return _BUILTIN_BY_KEY[key]
    if key.startswith(CUSTOM_PREFIX) and organization is not None:
        cf = CustomField.objects.filter(
            organization=organization, key=key.removeprefix(CUSTOM_PREFIX)
        ).first()
        return custom_field_entry(cf) if cf else None
    return None


def person_field_value(person: Person, key: str) -> Any:
    """The value of one field of a person, for display. Unknown keys give None.

    Phones, tags and voting history are lists of strings; custom fields are read from
    `Person.custom_fields` (`custom.<key>`) without a query.
    """
    if key in _BUILTIN_BY_KEY:
        return _BUILTIN_BY_KEY[key].value(person)
    if key.startswith(CUSTOM_PREFIX):
        return (person.custom_fields or {}).get(key.removeprefix(CUSTOM_PREFIX))
    return None

"""The people app's own segment filters, registered in `PeopleConfig.ready()`.

Every filter compiles to a `Q` over Person that works on SQLite and PostgreSQL. Related tables
are reached with `Exists(...)` or `IN (subquery)`, never with joins that multiply rows, so any
AND / OR / NOT tree of them stays one flat `WHERE`. Values coming from a form are strings: every
builder coerces and validates its parameters and raises `ValidationError` with a clear message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Cos, Power, Radians, Sin
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual, Lookup
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from mobiliza.people.filters import FilterParam, FilterSpec, register_filter
from mobiliza.people.models import (
    Channel,
    CustomField,
    Election,
    Person,
    PersonList,
    PersonPhone,
    PersonTag,
    Tag,
    VoteRecord,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from mobiliza.accounts.models import Organization

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.32
NOTHING = Q(pk__in=[])

TEXT_FIELDS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("first_name", _l("First name")),
    ("middle_name", _l("Middle name")),
    ("last_name", _l("Last name")),
    ("email", _l("Email")),
    ("street", _l("Street")),
    ("postcode", _l("Postcode")),
    ("city", _l("City")),
    ("region", _l("Region")),
    ("country", _l("Country")),
    ("gender", _l("Gender")),
    ("language", _l("Language")),
    ("nationality", _l("Nationality")),
    ("polling_place", _l("Polling place")),
    ("precinct", _l("Precinct")),
    ("voter_id", _l("Voter id")),
    ("registration_status", _l("Registration status")),
    ("external_id", _l("External id")),
    ("time_zone", _l("Time zone")),
    ("notes", _l("Notes")),
)
NUMBER_FIELDS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("birth_year", _l("Birth year")),
    ("support_level", _l("Support level")),
    ("donations_this_year", _l("Donations this year")),
    ("latitude", _l("Latitude")),
    ("longitude", _l("Longitude")),
)
DATE_FIELDS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("birth_date", _l("Birth date")),
    ("created_at", _l("Added on")),
    ("updated_at", _l("Last changed on")),
)
TEXT_OPS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("equals", _l("is")),
    ("contains", _l("contains")),
    ("starts_with", _l("starts with")),
    ("empty", _l("is empty")),
    ("not_empty", _l("is not empty")),
)
YES_NO: tuple[tuple[str, str | _StrPromise], ...] = (("yes", _l("Yes")), ("no", _l("No")))
CONSENT_VALUES: tuple[tuple[str, str | _StrPromise], ...] = (
    ("yes", _l("Given")),
    ("no", _l("Refused")),
    ("unknown", _l("Not asked")),
)
PHONE_KINDS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("any", _l("Any")),
    *((str(v), label) for v, label in PersonPhone.Kind.choices),
)
CUSTOM_OPS: tuple[tuple[str, str | _StrPromise], ...] = (
    ("equals", _l("is")),
    ("contains", _l("contains (text)")),
    ("gte", _l("at least / on or after")),
    ("lte", _l("at most / on or before")),
    ("yes", _l("is yes")),
    ("no", _l("is no")),
    ("empty", _l("is empty")),
    ("not_empty", _l("is not empty")),
)


# --- parameter coercion ------------------------------------------------------------------------
def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return "" if value is None else str(value).strip()


def _choice(
    params: Mapping[str, Any],
    name: str,
    choices: tuple[tuple[str, Any], ...],
    default: str | None = None,
) -> str:
    value = _text(params, name) or default or ""
    if value not in {c for c, _label in choices}:
        raise ValidationError(_("“%(value)s” is not a valid choice.") % {"value": value})
    return value


def _number(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value})
    try:
        number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}) from None
    if math.isnan(number) or math.isinf(number):
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value})
    return number


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}
        ) from None


def _bool(params: Mapping[str, Any], name: str, default: bool = True) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "true", "1", "on", "y"}:
        return True
    if text in {"no", "false", "0", "off", "n"}:
        return False
    raise ValidationError(_("“%(value)s” is not yes or no.") % {"value": value})


def _range(
    lhs: str, low: Any, high: Any, *, required: bool = False, message: str | None = None
) -> Q:
    if low is None and high is None:
        if required:
            raise ValidationError(message or _("Give a minimum, a maximum or both."))
        return Q(**{f"{lhs}__isnull": False})
    q = Q()
    if low is not None:
        q &= Q(**{f"{lhs}__gte": low})
    if high is not None:
        q &= Q(**{f"{lhs}__lte": high})
    return q


def tag_id(organization: Organization, value: Any) -> int | None:
    """A tag by name (or public id), within the organization."""
    text = str(value or "").strip()
    if not text:
        return None
    qs = Tag.objects.filter(organization=organization)
    found = qs.filter(name=text).values_list("id", flat=True).first()
    if found is None and len(text) == 36:
        try:
            found = qs.filter(public_id=text).values_list("id", flat=True).first()
        except ValidationError:
            found = None
    return found


def election_id(organization: Organization, value: Any) -> int | None:
    """An election by label (or public id), within the organization."""
    text = str(value or "").strip()
    if not text:
        return None
    qs = Election.objects.filter(organization=organization)
    found = qs.filter(label=text).values_list("id", flat=True).first()
    if found is None and len(text) == 36:
        try:
            found = qs.filter(public_id=text).values_list("id", flat=True).first()
        except ValidationError:
            found = None
    return found


# --- filters ------------------------------------------------------------------------------------
def build_field_text(organization: Organization, params: Mapping[str, Any]) -> Q:
    name = _choice(params, "field", TEXT_FIELDS)
    op = _choice(params, "op", TEXT_OPS, "equals")
    value = _text(params, "value")
    if op == "empty":
        return Q(**{name: ""})
    if op == "not_empty":
        return ~Q(**{name: ""})
    if not value:
        raise ValidationError(_("Type the text to look for."))
    lookup = {"equals": "iexact", "contains": "icontains", "starts_with": "istartswith"}[op]
    return Q(**{f"{name}__{lookup}": value})


def build_field_number(organization: Organization, params: Mapping[str, Any]) -> Q:
    name = _choice(params, "field", NUMBER_FIELDS)
    return _range(name, _number(params, "min"), _number(params, "max"))


def build_field_date(organization: Organization, params: Mapping[str, Any]) -> Q:
    name = _choice(params, "field", DATE_FIELDS)
    lhs = f"{name}__date" if name in {"created_at", "updated_at"} else name
    return _range(lhs, _date(params, "from"), _date(params, "to"))


def build_list(organization: Organization, params: Mapping[str, Any]) -> Q:
    return Q(list=_choice(params, "list", tuple(PersonList.choices)))


def build_tag(organization: Organization, params: Mapping[str, Any]) -> Q:
    found = tag_id(organization, params.get("tag"))
    if found is None:
        return NOTHING
    return Q(Exists(PersonTag.objects.filter(person_id=OuterRef("pk"), tag_id=found)))


def build_support_level(organization: Organization, params: Mapping[str, Any]) -> Q:
    low, high = _number(params, "min"), _number(params, "max")
    for bound in (low, high):
        if bound is not None and not 1 <= bound <= 5:
            raise ValidationError(_("The support level goes from 1 to 5."))
    return _range("support_level", low, high)


def build_consent(organization: Organization, params: Mapping[str, Any]) -> Q:
    channel = _choice(params, "channel", tuple(Channel.choices))
    value = _choice(params, "value", CONSENT_VALUES, "yes")
    column = f"consent_{channel}"
    if value == "unknown":
        return Q(**{f"{column}__isnull": True})
    return Q(**{column: value == "yes"})


def build_do_not_contact(organization: Organization, params: Mapping[str, Any]) -> Q:
    return Q(do_not_contact=_bool(params, "value"))


def build_has_phone(organization: Organization, params: Mapping[str, Any]) -> Q:
    kind = _choice(params, "kind", PHONE_KINDS, "any")
    phones = PersonPhone.objects.filter(person_id=OuterRef("pk"), is_valid=True)
    if kind != "any":
        phones = phones.filter(kind=kind)
    return Q(Exists(phones))


def build_household_size(organization: Organization, params: Mapping[str, Any]) -> Q:
    low, high = _number(params, "min"), _number(params, "max")
    if low is None and high is None:
        raise ValidationError(_("Give a minimum, a maximum or both."))
    sizes = (
        Person.objects.filter(organization=organization, household__isnull=False)
        .values("household_id")
        .annotate(size=Count("id"))
    )
    if low is not None:
        sizes = sizes.filter(size__gte=math.ceil(low))
    if high is not None:
        sizes = sizes.filter(size__lte=math.floor(high))
    q = Q(household_id__in=sizes.values("household_id"))
    # Someone in no household lives alone: a household of one.
    if (low is None or low <= 1) and (high is None or high >= 1):
        q |= Q(household__isnull=True)
    return q


def build_household_with(organization: Organization, params: Mapping[str, Any]) -> Q:
    found = tag_id(organization, params.get("tag"))
    if found is None:
        return NOTHING
    housemates = Person.objects.filter(
        household_id=OuterRef("household_id"),
        household__isnull=False,
    ).exclude(pk=OuterRef("pk"))
    tagged = housemates.filter(
        Exists(PersonTag.objects.filter(person_id=OuterRef("pk"), tag_id=found))
    )
    return Q(household__isnull=False) & Q(Exists(tagged))


def build_voted(organization: Organization, params: Mapping[str, Any]) -> Q:
    found = election_id(organization, params.get("election"))
    voted = _bool(params, "voted")
    if found is None:
        return NOTHING if voted else Q()
    q = Q(Exists(VoteRecord.objects.filter(person_id=OuterRef("pk"), election_id=found)))
    return q if voted else ~q


def distance_q(*, latitude: float, longitude: float, km: float) -> Q:
    """People within `km` of a point: a bounding box the latitude index can use, then the exact
    great-circle (haversine) test. Comparing the haversine term `a` with sin²(d / 2R) avoids
    asin and sqrt, and both databases have SIN, COS, RADIANS and POWER (Django registers them
    on SQLite)."""
    dlat = km / KM_PER_DEGREE
    cos_lat = math.cos(math.radians(latitude))
    dlng = 180.0 if cos_lat < 1e-6 else min(180.0, km / (KM_PER_DEGREE * cos_lat))
    box = Q(latitude__gte=latitude - dlat, latitude__lte=latitude + dlat)
    if dlng < 180.0:
        box &= Q(longitude__gte=longitude - dlng, longitude__lte=longitude + dlng)
    else:
        box &= Q(longitude__isnull=False)
    phi1, lambda1 = math.radians(latitude), math.radians(longitude)
    half = Value(0.5, output_field=FloatField())
    a = Power(Sin((Radians(F("latitude")) - Value(phi1)) * half), 2) + Value(cos_lat) * Cos(
        Radians(F("latitude"))
    ) * Power(Sin((Radians(F("longitude")) - Value(lambda1)) * half), 2)
    limit = math.sin(min(km / (2 * EARTH_RADIUS_KM), math.pi / 2)) ** 2
    return box & Q(LessThanOrEqual(a, Value(limit * (1 + 1e-12), output_field=FloatField())))


def build_distance(organization: Organization, params: Mapping[str, Any]) -> Q:
    lat, lng, km = _number(params, "latitude"), _number(params, "longitude"), _number(params, "km")
    if lat is None or lng is None or km is None:
        raise ValidationError(_("Give a point (latitude, longitude) and a radius in km."))
    if not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise ValidationError(_("The point is not a valid latitude and longitude."))
    if not 0 < km <= 20000:
        raise ValidationError(_("The radius must be between 0 and 20,000 km."))
    return distance_q(latitude=lat, longitude=lng, km=km)


def build_linked_elector(organization: Organization, params: Mapping[str, Any]) -> Q:
    linked = Q(elector__isnull=False) | Q(Exists(Person.objects.filter(elector_id=OuterRef("pk"))))
    return linked if _bool(params, "value") else ~linked


def _truthy(condition: Q) -> Q:
    """`condition` as a plain true/false (never NULL), so that NOT of it is its exact complement
    even where a JSON key is missing."""
    return Q(
        Case(
            When(condition, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def _json_compare(key: str, lookup: type[Lookup[Any]], operand: float) -> Q:
    """Compare a custom field with a number, only where the stored value looks like one (the
    nested CASE keeps PostgreSQL from casting text that is not a number)."""
    lookup_name = f"custom_fields__{key}"
    number = Cast(KT(lookup_name), FloatField())
    return Q(
        Case(
            When(
                Q(**{f"{lookup_name}__regex": r"^-?[0-9]+(\.[0-9]+)?$"}),
                then=Case(
                    When(Q(lookup(number, Value(operand))), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def build_custom_field(organization: Organization, params: Mapping[str, Any]) -> Q:
    key = _text(params, "field").removeprefix("custom.")
    field = CustomField.objects.filter(organization=organization, key=key).first()
    if field is None:
        raise ValidationError(_("Unknown custom field “%(key)s”.") % {"key": key})
    op = _choice(params, "op", CUSTOM_OPS, "equals")
    lookup = f"custom_fields__{key}"
    present = _truthy(Q(**{f"{lookup}__isnull": False}) & ~Q(**{lookup: None}) & ~Q(**{lookup: ""}))
    if op == "empty":
        return ~present
    if op == "not_empty":
        return present
    kind = field.type
    if kind == CustomField.Type.BOOLEAN:
        if op not in {"yes", "no"}:
            raise ValidationError(_("A yes / no field is yes, no or empty."))
        return _truthy(Q(**{lookup: op == "yes"}))
    if op in {"yes", "no"}:
        raise ValidationError(_("Only yes / no fields are yes or no."))
    if kind == CustomField.Type.NUMBER:
        number = _number(params, "value")
        if number is None:
            raise ValidationError(_("Give a number."))
        if op == "contains":
            raise ValidationError(_("A number field can't “contain”."))
        cmp: type[Lookup[Any]] = {
            "equals": Exact,
            "gte": GreaterThanOrEqual,
            "lte": LessThanOrEqual,
        }[op]
        return _json_compare(key, cmp, number)
    if kind == CustomField.Type.DATE:
        day = _date(params, "value")
        if day is None:
            raise ValidationError(_("Give a date (YYYY-MM-DD)."))
        if op == "contains":
            raise ValidationError(_("A date field can't “contain”."))
        suffix = {"equals": "", "gte": "__gte", "lte": "__lte"}[op]
        iso = Q(**{f"{lookup}__regex": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
        return _truthy(iso & Q(**{f"{lookup}{suffix}": day.isoformat()}))
    value = _text(params, "value")
    if not value:
        raise ValidationError(_("Type the text to look for."))
    if op in {"gte", "lte"}:
        raise ValidationError(_("Text can only be compared with “is” or “contains”."))
    if kind == CustomField.Type.CHOICE and op == "equals":
        return _truthy(Q(**{lookup: value}))
    return _truthy(Q(**{f"{lookup}__{'iexact' if op == 'equals' else 'icontains'}": value}))


def register_builtin_filters() -> None:
    P = FilterParam  # noqa: N806
    person = _l("Person")
    campaign = _l("Campaign")
    contact = _l("Contact")
    electoral = _l("Electoral register")
    specs = [
        FilterSpec(
            "field_text",
            _l("Text field"),
            person,
            build_field_text,
            (
                P("field", _l("Field"), "choice", choices=TEXT_FIELDS),
                P("op", _l("Condition"), "choice", choices=TEXT_OPS),
                P("value", _l("Value"), "text", required=False),
            ),
        ),
        FilterSpec(
            "field_number",
            _l("Number field"),
            person,
            build_field_number,
            (
                P("field", _l("Field"), "choice", choices=NUMBER_FIELDS),
                P("min", _l("At least"), "number", required=False),
                P("max", _l("At most"), "number", required=False),
            ),
        ),
        FilterSpec(
            "field_date",
            _l("Date field"),
            person,
            build_field_date,
            (
                P("field", _l("Field"), "choice", choices=DATE_FIELDS),
                P("from", _l("From"), "date", required=False),
                P("to", _l("To"), "date", required=False),
            ),
        ),
        FilterSpec(
            "list",
            _l("List"),
            person,
            build_list,
            (P("list", _l("List"), "choice", choices=tuple(PersonList.choices)),),
        ),
        FilterSpec("tag", _l("Has tag"), campaign, build_tag, (P("tag", _l("Tag"), "tag"),)),
        FilterSpec(
            "custom_field",
            _l("Custom field"),
            person,
            build_custom_field,
            (
                P("field", _l("Field"), "custom_field"),
                P("op", _l("Condition"), "choice", choices=CUSTOM_OPS),
                P("value", _l("Value"), "text", required=False),
            ),
        ),
        FilterSpec(
            "support_level",
            _l("Support level"),
            campaign,
            build_support_level,
            (
                P("min", _l("At least"), "number", required=False),
                P("max", _l("At most"), "number", required=False),
            ),
        ),
        FilterSpec(
            "consent",
            _l("Consent"),
            contact,
            build_consent,
            (
                P("channel", _l("Channel"), "choice", choices=tuple(Channel.choices)),
                P("value", _l("Consent"), "choice", choices=CONSENT_VALUES),
            ),
        ),
        FilterSpec(
            "do_not_contact",
            _l("Do not contact"),
            contact,
            build_do_not_contact,
            (P("value", _l("Do not contact"), "choice", choices=YES_NO),),
        ),
        FilterSpec(
            "has_phone",
            _l("Has a valid phone"),
            contact,
            build_has_phone,
            (P("kind", _l("Type"), "choice", choices=PHONE_KINDS),),
        ),
        FilterSpec(
            "household_size",
            _l("Household size"),
            contact,
            build_household_size,
            (
                P("min", _l("At least"), "number", required=False),
                P("max", _l("At most"), "number", required=False),
            ),
        ),
        FilterSpec(
            "household_with",
            _l("Lives with someone tagged"),
            contact,
            build_household_with,
            (P("tag", _l("Tag"), "tag"),),
        ),
        FilterSpec(
            "voted",
            _l("Voted in an election"),
            electoral,
            build_voted,
            (
                P("election", _l("Election"), "election"),
                P("voted", _l("Voted"), "choice", choices=YES_NO),
            ),
        ),
        FilterSpec(
            "distance",
            _l("Within a distance of a point"),
            contact,
            build_distance,
            (
                P("latitude", _l("Latitude"), "number"),
                P("longitude", _l("Longitude"), "number"),
                P("km", _l("Radius (km)"), "number"),
            ),
        ),
        FilterSpec(
            "linked_elector",
            _l("Linked to an elector record"),
            electoral,
            build_linked_elector,
            (P("value", _l("Linked"), "choice", choices=YES_NO),),
        ),
    ]
    for spec in specs:
        register_filter(spec)

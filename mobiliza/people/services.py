"""Writes about people. Every change of personal data is audited.

Other apps (surveys' answer effects, calling's field edits, texting's opt-outs) change people only
through these functions.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record, diff_fields
from mobiliza.core.models import AuditEvent
from mobiliza.people.fields import EDITABLE_COLUMNS
from mobiliza.people.filters import definition_to_q
from mobiliza.people.households import household_assign_person
from mobiliza.people.models import (
    Channel,
    ConsentRecord,
    CustomField,
    Person,
    PersonList,
    PersonPhone,
    PersonTag,
    Segment,
    SegmentMember,
    Tag,
    VoteRecord,
)
from mobiliza.people.normalize import normalize_phone, person_time_zone

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User


def tag_get_or_create(*, organization: Organization, name: str) -> Tag:
    name = name.strip()
    if not name:
        raise ValidationError(_("A tag needs a name."))
    tag, _created = Tag.objects.get_or_create(organization=organization, name=name[:80])
    return tag


@transaction.atomic
def person_tag_add(*, person: Person, tag_name: str, actor: User | None) -> Tag:
    tag = tag_get_or_create(organization=person.organization, name=tag_name)
    _link, created = PersonTag.objects.get_or_create(person=person, tag=tag)
    if created:
        audit_record(
            organization=person.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={"tags": {"old": None, "new": f"+{tag.name}"}},
        )
    return tag


@transaction.atomic
def person_tag_remove(*, person: Person, tag_name: str, actor: User | None) -> None:
    deleted, _rows = PersonTag.objects.filter(
        person=person, tag__organization=person.organization, tag__name=tag_name.strip()
    ).delete()
    if deleted:
        audit_record(
            organization=person.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={"tags": {"old": f"-{tag_name.strip()}", "new": None}},
        )


@transaction.atomic
def person_set_support_level(*, person: Person, level: int | None, actor: User | None) -> Person:
    if level is not None and not 1 <= int(level) <= 5:
        raise ValidationError(_("The support level goes from 1 to 5."))
    old = person.support_level
    if old != level:
        person.support_level = level
        person.save(update_fields=["support_level", "updated_at"])
        audit_record(
            organization=person.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={"support_level": {"old": old, "new": level}},
        )
    return person


@transaction.atomic
def person_set_do_not_contact(*, person: Person, value: bool, actor: User | None) -> Person:
    old = person.do_not_contact
    if old != value:
        person.do_not_contact = value
        person.save(update_fields=["do_not_contact", "updated_at"])
        audit_record(
            organization=person.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={"do_not_contact": {"old": old, "new": value}},
        )
    return person


@transaction.atomic
def person_consent_record(
    *, person: Person, channel: str, granted: bool, source: str, actor: User | None
) -> ConsentRecord:
    """Record consent (or its withdrawal) for one channel, keeping the history."""
    if channel not in Channel.values:
        raise ValidationError(_("Unknown channel “%(channel)s”.") % {"channel": channel})
    field = f"consent_{channel}"
    old = getattr(person, field)
    record = ConsentRecord.objects.create(
        organization=person.organization,
        person=person,
        channel=channel,
        granted=granted,
        source=source[:120],
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if old != granted:
        setattr(person, field, granted)
        person.save(update_fields=[field, "updated_at"])
    audit_record(
        organization=person.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=person,
        changes={field: {"old": old, "new": granted}},
        meta={"source": source},
    )
    return record


# --- person create / update ---------------------------------------------------------------------
ADDRESS_FIELDS = ("street", "postcode", "city", "region", "country")
_MAX_TEXT = {"notes": 20_000}


def _clean_column(name: str, value: Any) -> Any:
    """Validate and convert one column value as the model field would, with clear messages."""
    field = Person._meta.get_field(name)
    assert isinstance(field, models.Field)
    if value is None and not field.null:
        value = "" if isinstance(field, models.CharField | models.TextField) else value
    if isinstance(value, str):
        value = value.strip()
    if value == "" and field.null and not isinstance(field, models.CharField | models.TextField):
        value = None
    if name == "donations_this_year" and value in (None, ""):
        value = decimal.Decimal("0")
    try:
        value = field.to_python(value)
        if value is not None and value != "":
            field.run_validators(value)
    except ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None
    label = str(field.verbose_name)
    if isinstance(field, models.CharField) and value and len(value) > (field.max_length or 0):
        raise ValidationError({name: _("%(field)s is too long.") % {"field": label}})
    if name in _MAX_TEXT and value and len(value) > _MAX_TEXT[name]:
        raise ValidationError({name: _("%(field)s is too long.") % {"field": label}})
    if name == "email" and value:
        value = value.lower()
    if name == "country" and value:
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise ValidationError({name: _("Use the two-letter country code, e.g. PT.")})
    if name == "gender" and value not in Person.Gender.values:
        raise ValidationError({name: _("Unknown gender.")})
    if name == "support_level" and value is not None and not 1 <= value <= 5:
        raise ValidationError({name: _("The support level goes from 1 to 5.")})
    if name == "latitude" and value is not None and not -90 <= value <= 90:
        raise ValidationError({name: _("A latitude is between -90 and 90.")})
    if name == "longitude" and value is not None and not -180 <= value <= 180:
        raise ValidationError({name: _("A longitude is between -180 and 180.")})
    if name == "birth_year" and value is not None and not 1850 <= value <= dt.date.today().year:
        raise ValidationError({name: _("That birth year is not plausible.")})
    if name == "birth_date" and value is not None and value > dt.date.today():
        raise ValidationError({name: _("A birth date can't be in the future.")})
    if name == "donations_this_year" and value is not None and value < 0:
        raise ValidationError({name: _("Donations can't be negative.")})
    if name in {"consent_phone", "consent_sms", "consent_email"} and value == "":
        value = None
    return value


def _clean_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_COLUMNS)
    if unknown:
        raise ValidationError(
            {
                "__all__": _("These fields can't be set here: %(fields)s.")
                % {"fields": ", ".join(sorted(unknown))}
            }
        )
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            cleaned[name] = _clean_column(name, value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def custom_field_value_clean(field: CustomField, value: Any) -> Any:
    """A custom field value, typed: text (str), number (int or float), date (ISO string),
    choice (one of the choices), yes / no (bool). Empty means None (the key is removed)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    label = field.label
    kind = field.type
    if kind == CustomField.Type.TEXT:
        text = str(value).strip()
        if len(text) > 2000:
            raise ValidationError(_("%(field)s is too long.") % {"field": label})
        return text
    if kind == CustomField.Type.NUMBER:
        if isinstance(value, bool):
            raise ValidationError(_("%(field)s must be a number.") % {"field": label})
        try:
            number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise ValidationError(_("%(field)s must be a number.") % {"field": label}) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValidationError(_("%(field)s must be a number.") % {"field": label})
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == CustomField.Type.DATE:
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError(
                _("%(field)s must be a date (YYYY-MM-DD).") % {"field": label}
            ) from None
    if kind == CustomField.Type.CHOICE:
        text = str(value).strip()
        if text not in [str(c) for c in field.choices or []]:
            raise ValidationError(
                _("“%(value)s” is not one of the choices of %(field)s.")
                % {"value": text, "field": label}
            )
        return text
    if kind == CustomField.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"yes", "true", "1", "on", "y", "sim", "oui"}:
            return True
        if text in {"no", "false", "0", "off", "n", "não", "nao", "non"}:
            return False
        raise ValidationError(_("%(field)s must be yes or no.") % {"field": label})
    return value


def _clean_custom(organization: Organization, values: Mapping[str, Any]) -> dict[str, Any]:
    """{key: typed value or None} for the given custom fields; unknown keys are refused."""
    keys = [str(k).removeprefix("custom.") for k in values]
    fields = {f.key: f for f in CustomField.objects.filter(organization=organization, key__in=keys)}
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for raw_key, value in values.items():
        key = str(raw_key).removeprefix("custom.")
        field = fields.get(key)
        if field is None:
            errors[f"custom.{key}"] = [_("Unknown custom field “%(key)s”.") % {"key": key}]
            continue
        try:
            cleaned[key] = custom_field_value_clean(field, value)
        except ValidationError as exc:
            errors[f"custom.{key}"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _refresh_time_zone(person: Person) -> None:
    phones = [p.e164 for p in person.phones.all() if p.e164] if person.pk else []
    person.time_zone = person_time_zone(
        country=person.country,
        region=person.region,
        postcode=person.postcode,
        phones=phones,
        default=person.organization.time_zone,
    )


@transaction.atomic
def person_create(
    *,
    organization: Organization,
    actor: User | None,
    list: str = PersonList.CONTACTS,
    phones: Sequence[str | tuple[str, str]] = (),
    tags: Sequence[str] = (),
    custom_fields: Mapping[str, Any] | None = None,
    **values: Any,
) -> Person:
    """Create a person. `values` are columns (see `fields.EDITABLE_COLUMNS`); `phones` raw
    numbers or (raw, kind) pairs; the time zone and household follow from the address."""
    if list not in PersonList.values:
        raise ValidationError({"list": _("Unknown list “%(list)s”.") % {"list": list}})
    cleaned = _clean_columns(values)
    custom = {
        k: v for k, v in _clean_custom(organization, custom_fields or {}).items() if v is not None
    }
    person = Person(organization=organization, list=list, custom_fields=custom, **cleaned)
    _refresh_time_zone(person)
    person.save()
    for position, entry in enumerate(phones):
        raw, kind = (entry, "") if isinstance(entry, str) else entry
        if str(raw).strip():
            _phone_create(person=person, raw=str(raw), kind=kind, position=position)
    if phones:
        _refresh_time_zone(person)
        Person.objects.filter(pk=person.pk).update(time_zone=person.time_zone)
    household_assign_person(person=person)
    for name in tags:
        if name.strip():
            PersonTag.objects.get_or_create(
                person=person, tag=tag_get_or_create(organization=organization, name=name)
            )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=person,
        changes={
            **diff_fields({}, {k: v for k, v in cleaned.items() if v not in (None, "")}),
            **({"custom_fields": {"old": None, "new": custom}} if custom else {}),
            **({"phones": {"old": None, "new": _phone_list(person)}} if phones else {}),
            **({"tags": {"old": None, "new": sorted(tags)}} if tags else {}),
        },
        meta={"list": list},
    )
    return person


@transaction.atomic
def person_update(
    *,
    person: Person,
    actor: User | None,
    custom_fields: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    **values: Any,
) -> Person:
    """Change columns and custom fields of a person, auditing each changed field (old → new).

    `custom_fields` sets the given keys (None or "" removes one) and leaves the others alone.
    A changed address recomputes the time zone and the household."""
    consents = {
        name.removeprefix("consent_"): values.pop(name)
        for name in ("consent_phone", "consent_sms", "consent_email")
        if name in values
    }
    cleaned = _clean_columns(values)
    clean_consents = _clean_columns({f"consent_{k}": v for k, v in consents.items()})
    custom = _clean_custom(person.organization, custom_fields or {})
    locked = Person.objects.select_for_update().get(pk=person.pk)
    before = {name: getattr(locked, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(locked, name, value)
    changes = diff_fields(before, cleaned)
    old_custom = dict(locked.custom_fields or {})
    new_custom = dict(old_custom)
    for key, value in custom.items():
        if value is None:
            new_custom.pop(key, None)
        else:
            new_custom[key] = value
    for key in sorted(set(old_custom) | set(new_custom)):
        if old_custom.get(key) != new_custom.get(key):
            changes[f"custom.{key}"] = {"old": old_custom.get(key), "new": new_custom.get(key)}
    locked.custom_fields = new_custom
    address_changed = any(name in changes for name in ADDRESS_FIELDS)
    if address_changed:
        old_tz = locked.time_zone
        _refresh_time_zone(locked)
        if old_tz != locked.time_zone:
            changes["time_zone"] = {"old": old_tz, "new": locked.time_zone}
    if changes:
        locked.save()
        if address_changed:
            old_household = locked.household_id
            household_assign_person(person=locked)
            if old_household != locked.household_id:
                changes["household"] = {
                    "old": old_household,
                    "new": locked.household_id,
                }
        audit_record(
            organization=locked.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=locked,
            changes=changes,
            meta=meta,
        )
    # Consent goes through its own service: it keeps the history (source, who, when).
    for name, value in clean_consents.items():
        channel = name.removeprefix("consent_")
        if value is not None and getattr(locked, name) != value:
            person_consent_record(
                person=locked,
                channel=channel,
                granted=bool(value),
                source=str((meta or {}).get("source", "")) or _("edited on the person page"),
                actor=actor,
            )
        elif value is None and getattr(locked, name) is not None:
            old_consent = getattr(locked, name)
            setattr(locked, name, None)
            locked.save(update_fields=[name, "updated_at"])
            audit_record(
                organization=locked.organization,
                actor=actor,
                action=AuditEvent.Action.UPDATE,
                target=locked,
                changes={name: {"old": old_consent, "new": None}},
            )
    # Keep the caller's instance in step.
    for name in [
        *cleaned,
        *clean_consents,
        "custom_fields",
        "time_zone",
        "household_id",
        "updated_at",
    ]:
        setattr(person, name, getattr(locked, name))
    return person


# --- phones -------------------------------------------------------------------------------------
def _phone_list(person: Person) -> list[str]:
    return [p.e164 or p.raw for p in PersonPhone.objects.filter(person=person).order_by("position")]


def _phone_create(*, person: Person, raw: str, kind: str, position: int) -> PersonPhone:
    text = raw.strip()
    if len(text) > 64:
        raise ValidationError({"phones": _("A phone number can't be longer than 64 characters.")})
    if kind and kind not in PersonPhone.Kind.values:
        raise ValidationError({"phones": _("Unknown phone type “%(kind)s”.") % {"kind": kind}})
    result = normalize_phone(text, person.organization.default_country)
    return PersonPhone.objects.create(
        organization=person.organization,
        person=person,
        raw=result.raw or text,
        e164=result.e164,
        kind=kind or result.kind,
        is_valid=result.is_valid,
        position=position,
    )


@transaction.atomic
def person_phone_add(
    *, person: Person, raw: str, kind: str = "", actor: User | None
) -> PersonPhone:
    """Add a number: stored as E.164 when it parses with the organization's default country,
    else kept as written and flagged invalid. The same valid number twice is added once."""
    if not raw.strip():
        raise ValidationError({"phones": _("Type a phone number.")})
    result = normalize_phone(raw.strip(), person.organization.default_country)
    if result.e164:
        existing = PersonPhone.objects.filter(person=person, e164=result.e164).first()
        if existing is not None:
            return existing
    position = (
        PersonPhone.objects.filter(person=person)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    phone = _phone_create(
        person=person, raw=raw, kind=kind, position=0 if position is None else position + 1
    )
    _phones_changed(person, actor, {"old": None, "new": f"+{phone.e164 or phone.raw}"})
    return phone


@transaction.atomic
def person_phone_remove(*, person: Person, phone_id: int, actor: User | None) -> None:
    phone = PersonPhone.objects.filter(person=person, pk=phone_id).first()
    if phone is None:
        raise ValidationError(_("That phone number is not on this person."))
    phone.delete()
    _phones_changed(person, actor, {"old": f"-{phone.e164 or phone.raw}", "new": None})


@transaction.atomic
def person_phones_normalize(*, person: Person, actor: User | None) -> int:
    """Parse the person's numbers again as written (e.g. after the organization's default
    country changed). Returns how many changed."""
    changed = 0
    for phone in PersonPhone.objects.filter(person=person).order_by("position", "id"):
        result = normalize_phone(phone.raw, person.organization.default_country)
        if (result.e164, result.is_valid) != (phone.e164, phone.is_valid):
            phone.e164, phone.is_valid = result.e164, result.is_valid
            if phone.kind == PersonPhone.Kind.OTHER:
                phone.kind = result.kind
            phone.save(update_fields=["e164", "is_valid", "kind"])
            changed += 1
    if changed:
        _phones_changed(person, actor, {"old": None, "new": _phone_list(person)})
    return changed


def _phones_changed(person: Person, actor: User | None, change: dict[str, Any]) -> None:
    changes: dict[str, Any] = {"phones": change}
    if not person.country:
        old = person.time_zone
        _refresh_time_zone(person)
        if old != person.time_zone:
            Person.objects.filter(pk=person.pk).update(time_zone=person.time_zone)
            changes["time_zone"] = {"old": old, "new": person.time_zone}
    audit_record(
        organization=person.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=person,
        changes=changes,
    )


# --- elector link -------------------------------------------------------------------------------
@transaction.atomic
def person_link_elector(*, person: Person, elector: Person | None, actor: User | None) -> Person:
    """Link a contact to its record in the electors list (None unlinks)."""
    if person.list != PersonList.CONTACTS:
        raise ValidationError(_("Only a contact can be linked to an elector record."))
    if elector is not None and (
        elector.organization_id != person.organization_id or elector.list != PersonList.ELECTORS
    ):
        raise ValidationError(_("Choose a person from the electors list."))
    old = person.elector
    if (old.pk if old else None) != (elector.pk if elector else None):
        person.elector = elector
        person.save(update_fields=["elector", "updated_at"])
        audit_record(
            organization=person.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={
                "elector": {"old": str(old) if old else None, "new": str(elector or "") or None}
            },
        )
    return person


# --- tags and custom fields of the organization -------------------------------------------------
@transaction.atomic
def tag_rename(*, tag: Tag, name: str, actor: User | None) -> Tag:
    name = name.strip()[:80]
    if not name:
        raise ValidationError({"name": _("A tag needs a name.")})
    if Tag.objects.filter(organization=tag.organization, name=name).exclude(pk=tag.pk).exists():
        raise ValidationError({"name": _("There is already a tag with that name.")})
    old = tag.name
    if old != name:
        tag.name = name
        tag.save(update_fields=["name", "updated_at"])
        audit_record(
            organization=tag.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=tag,
            changes={"name": {"old": old, "new": name}},
        )
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: User | None) -> None:
    count = PersonTag.objects.filter(tag=tag).count()
    audit_record(
        organization=tag.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=tag,
        meta={"people": count},
    )
    tag.delete()


@transaction.atomic
def person_tags_set(*, person: Person, names: Sequence[str], actor: User | None) -> None:
    """Make the person's tags exactly `names` (created when new), auditing additions and
    removals."""
    wanted = {n.strip()[:80] for n in names if n.strip()}
    current = set(person.tags.values_list("name", flat=True))
    for name in sorted(wanted - current):
        person_tag_add(person=person, tag_name=name, actor=actor)
    for name in sorted(current - wanted):
        person_tag_remove(person=person, tag_name=name, actor=actor)


@transaction.atomic
def custom_field_create(
    *,
    organization: Organization,
    key: str,
    label: str,
    type: str,
    choices: Sequence[str] = (),
    actor: User | None,
) -> CustomField:
    key = slugify(key or label).replace("-", "_")[:64]
    label = label.strip()[:120]
    if not key or not label:
        raise ValidationError({"label": _("A custom field needs a label.")})
    if type not in CustomField.Type.values:
        raise ValidationError({"type": _("Unknown field type “%(type)s”.") % {"type": type}})
    clean_choices = [c.strip() for c in choices if c.strip()]
    if type == CustomField.Type.CHOICE and not clean_choices:
        raise ValidationError({"choices": _("A choice field needs at least one choice.")})
    if CustomField.objects.filter(organization=organization, key=key).exists():
        raise ValidationError({"key": _("There is already a field with that key.")})
    position = CustomField.objects.filter(organization=organization).count()
    field = CustomField.objects.create(
        organization=organization,
        key=key,
        label=label,
        type=type,
        choices=clean_choices if type == CustomField.Type.CHOICE else [],
        position=position,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=field,
        changes={"key": {"old": None, "new": key}, "type": {"old": None, "new": type}},
    )
    return field


@transaction.atomic
def custom_field_delete(*, field: CustomField, actor: User | None) -> None:
    """Delete a custom field definition. Stored values stay in people's data (not shown)."""
    audit_record(
        organization=field.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=field,
    )
    field.delete()


# --- segments -----------------------------------------------------------------------------------
def _clean_segment(
    organization: Organization, name: str, list: str, definition: Mapping[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    name = name.strip()[:150]
    if not name:
        raise ValidationError({"name": _("Give the segment a name.")})
    if list not in PersonList.values:
        raise ValidationError({"list": _("Unknown list “%(list)s”.") % {"list": list}})
    if not isinstance(definition, Mapping):
        raise ValidationError({"definition": _("A filter must be an object.")})
    # Compiling checks every filter and parameter.
    definition_to_q(organization, definition)
    return name, list, dict(definition)


@transaction.atomic
def segment_create(
    *,
    organization: Organization,
    name: str,
    list: str,
    definition: Mapping[str, Any],
    actor: User | None,
) -> Segment:
    name, list, clean = _clean_segment(organization, name, list, definition)
    segment = Segment.objects.create(
        organization=organization,
        name=name,
        list=list,
        definition=clean,
        kind=Segment.Kind.DYNAMIC,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=segment,
        changes={"name": {"old": None, "new": name}, "definition": {"old": None, "new": clean}},
    )
    return segment


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    actor: User | None,
    name: str | None = None,
    definition: Mapping[str, Any] | None = None,
) -> Segment:
    """Rename a segment or change its filter. A frozen list keeps its members: only its name
    changes."""
    if definition is not None and segment.kind == Segment.Kind.STATIC:
        raise ValidationError(
            {"definition": _("A frozen list can't change its filter; save a new segment.")}
        )
    new_name, _list, clean = _clean_segment(
        segment.organization,
        segment.name if name is None else name,
        segment.list,
        segment.definition if definition is None else definition,
    )
    before = {"name": segment.name, "definition": segment.definition}
    segment.name, segment.definition = new_name, clean
    changes = diff_fields(before, {"name": new_name, "definition": clean})
    if changes:
        segment.save(update_fields=["name", "definition", "updated_at"])
        audit_record(
            organization=segment.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=segment,
            changes=changes,
        )
    return segment


@transaction.atomic
def segment_freeze(*, segment: Segment, actor: User | None, name: str = "") -> Segment:
    """Freeze the people a segment matches now into a new static list (set-based: one
    INSERT ... SELECT, whatever the size)."""
    from mobiliza.people.selectors import segment_queryset

    organization = segment.organization
    now = timezone.now()
    frozen_name = (name or "").strip()[:150] or _("%(name)s (frozen %(date)s)") % {
        "name": segment.name[:110],
        "date": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
    }
    frozen = Segment.objects.create(
        organization=organization,
        name=frozen_name,
        list=segment.list,
        kind=Segment.Kind.STATIC,
        definition=segment.definition,
        frozen_at=now,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    people = segment_queryset(organization=organization, segment=segment).order_by().values("id")
    sql, params = people.query.sql_with_params()
    member_table = SegmentMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {member_table} (segment_id, person_id) SELECT %s, q.id FROM ({sql}) q",  # noqa: S608 - our table, parameters bound
            [frozen.pk, *params],
        )
        count = cursor.rowcount
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=frozen,
        meta={"frozen_from": str(segment.public_id), "people": count},
    )
    return frozen


@transaction.atomic
def segment_delete(*, segment: Segment, actor: User | None) -> None:
    audit_record(
        organization=segment.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=segment,
    )
    segment.delete()


# --- merge --------------------------------------------------------------------------------------
MERGE_COLUMNS: tuple[str, ...] = EDITABLE_COLUMNS


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, decimal.Decimal) and value == 0)


def merge_defaults(keep: Person, other: Person) -> dict[str, str]:
    """The side each field is taken from unless the reviewer chooses: the kept person's value,
    or the other's when the kept one is empty."""
    choices = {
        name: "other"
        if _empty(getattr(keep, name)) and not _empty(getattr(other, name))
        else "keep"
        for name in MERGE_COLUMNS
    }
    keep_custom, other_custom = keep.custom_fields or {}, other.custom_fields or {}
    for key in set(keep_custom) | set(other_custom):
        choices[f"custom.{key}"] = (
            "other"
            if _empty(keep_custom.get(key)) and not _empty(other_custom.get(key))
            else "keep"
        )
    return choices


def _move_unique_rows(
    model: type[models.Model], fk: str, keep: Person, other: Person, key_fields: Sequence[str]
) -> tuple[int, int]:
    """Move `other`'s rows of `model` to `keep`, dropping those `keep` already has (same
    `key_fields`). Returns (moved, dropped)."""
    manager = model._default_manager
    kept = set(manager.filter(**{fk: keep}).values_list(*key_fields))
    dropped = [
        pk
        for pk, *key in manager.filter(**{fk: other}).values_list("pk", *key_fields)
        if tuple(key) in kept
    ]
    if dropped:
        manager.filter(pk__in=dropped).delete()
    moved = manager.filter(**{fk: other}).update(**{fk: keep})
    return moved, len(dropped)


def _row_time(row: models.Model) -> tuple[Any, int]:
    when = getattr(row, "answered_at", None) or getattr(row, "created_at", None)
    return (when.timestamp() if when else 0, int(row.pk))


def _move_other_apps_rows(
    keep: Person, other: Person, handled: set[type[models.Model]]
) -> dict[str, int]:
    """Move rows of other apps' models that point at `other` (survey answers, call targets...).

    Where a unique constraint would be broken: a row carrying an `is_latest` flag keeps both
    rows and leaves only the newer one flagged; any other duplicate (e.g. the same person twice
    in one call operation) keeps the kept person's row and drops the other's."""
    counts: dict[str, int] = {}
    for rel in Person._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if model is None or isinstance(model, str) or model in handled or model is Person:
            continue
        fk = rel.field.name  # type: ignore[union-attr]
        manager = model._default_manager
        uniques: list[tuple[list[str], Q]] = []
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and fk in constraint.fields:
                condition = constraint.condition if isinstance(constraint.condition, Q) else Q()
                uniques.append(([f for f in constraint.fields if f != fk], condition))
        for together in model._meta.unique_together:
            if fk in together:
                uniques.append(([f for f in together if f != fk], Q()))
        if rel.one_to_one:
            uniques.append(([], Q()))
        flagged = any(f.name == "is_latest" for f in model._meta.get_fields())
        for others, condition in uniques:
            keep_rows = {
                tuple(getattr(r, f"{f}_id", getattr(r, f, None)) for f in others): r
                for r in manager.filter(condition, **{fk: keep})
            }
            for row in manager.filter(condition, **{fk: other}):
                key = tuple(getattr(row, f"{f}_id", getattr(row, f, None)) for f in others)
                twin = keep_rows.get(key)
                if twin is None:
                    continue
                if flagged and "is_latest" in str(condition):
                    older = row if _row_time(row) < _row_time(twin) else twin
                    manager.filter(pk=older.pk).update(is_latest=False)
                    if older is twin:
                        keep_rows.pop(key)
                    counts[f"{model._meta.label_lower}.superseded"] = (
                        counts.get(f"{model._meta.label_lower}.superseded", 0) + 1
                    )
                else:
                    manager.filter(pk=row.pk).delete()
                    counts[f"{model._meta.label_lower}.dropped"] = (
                        counts.get(f"{model._meta.label_lower}.dropped", 0) + 1
                    )
        moved = manager.filter(**{fk: other}).update(**{fk: keep})
        if moved:
            counts[model._meta.label_lower] = moved
    return counts


MergeHook = Callable[..., Mapping[str, int] | None]
_MERGE_HOOKS: list[MergeHook] = []


def register_merge_hook(hook: MergeHook) -> None:
    """Let another app move its own rows when two people merge.

    `hook(keep=…, other=…)` runs inside `person_merge`'s transaction, both people locked, before
    the generic move of other apps' rows and before `other` is deleted (its rows would cascade
    away with it). It may return counts ("calling.calltarget": 2) for the audit event."""
    if hook not in _MERGE_HOOKS:
        _MERGE_HOOKS.append(hook)


@transaction.atomic
def person_merge(
    *,
    keep: Person,
    other: Person,
    choices: Mapping[str, str] | None = None,
    actor: User | None,
) -> Person:
    """Merge `other` into `keep`, field by field, then delete `other`.

    `choices` maps a field (or `custom.<key>`) to "keep" or "other"; fields not named follow
    `merge_defaults`. Phones, tags, votes, consent history, segment memberships, linked contacts
    and other apps' rows (answers, call targets...) move to the kept person without duplicates.
    The audit log records the fields taken and a snapshot of the merged person."""
    if keep.organization_id != other.organization_id or keep.pk == other.pk:
        raise ValidationError(_("Choose two different people of this organization."))
    if keep.list != other.list:
        raise ValidationError(
            _("A contact and an elector are not merged: link the contact to its elector record.")
        )
    first, second = sorted([keep.pk, other.pk])
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[first, second])}
    if len(locked) != 2:
        raise ValidationError(_("One of these people no longer exists."))
    keep, other = locked[keep.pk], locked[other.pk]
    wanted = {**merge_defaults(keep, other), **(choices or {})}
    bad = {k: v for k, v in wanted.items() if v not in {"keep", "other"}}
    if bad:
        raise ValidationError(_("Choose “keep” or “other” for every field."))
    snapshot = {
        name: getattr(other, name) for name in MERGE_COLUMNS if not _empty(getattr(other, name))
    }
    snapshot["custom_fields"] = other.custom_fields
    before = {name: getattr(keep, name) for name in MERGE_COLUMNS}
    for name in MERGE_COLUMNS:
        if wanted.get(name) == "other":
            setattr(keep, name, getattr(other, name))
    after = {name: getattr(keep, name) for name in MERGE_COLUMNS}
    changes = diff_fields(before, after)
    keep_custom, other_custom = dict(keep.custom_fields or {}), dict(other.custom_fields or {})
    new_custom = dict(keep_custom)
    for key in set(keep_custom) | set(other_custom):
        if wanted.get(f"custom.{key}") == "other":
            if key in other_custom:
                new_custom[key] = other_custom[key]
            else:
                new_custom.pop(key, None)
        if keep_custom.get(key) != new_custom.get(key):
            changes[f"custom.{key}"] = {"old": keep_custom.get(key), "new": new_custom.get(key)}
    keep.custom_fields = new_custom
    if keep.elector_id is None and other.elector_id is not None and other.elector_id != keep.pk:
        keep.elector_id = other.elector_id
        changes["elector"] = {"old": None, "new": str(other.elector_id)}

    moved: dict[str, int] = {}
    offset = (PersonPhone.objects.filter(person=keep).count() or 0) + 1
    keep_numbers = set(
        PersonPhone.objects.filter(person=keep).exclude(e164="").values_list("e164", flat=True)
    )
    keep_raw = set(PersonPhone.objects.filter(person=keep, e164="").values_list("raw", flat=True))
    for phone in PersonPhone.objects.filter(person=other).order_by("position", "id"):
        if (phone.e164 and phone.e164 in keep_numbers) or (
            not phone.e164 and phone.raw in keep_raw
        ):
            phone.delete()
            continue
        phone.person = keep
        phone.position = offset + phone.position
        phone.save(update_fields=["person", "position"])
        moved["phones"] = moved.get("phones", 0) + 1
    moved["tags"], _d = _move_unique_rows(PersonTag, "person", keep, other, ["tag_id"])
    moved["votes"], _d = _move_unique_rows(VoteRecord, "person", keep, other, ["election_id"])
    moved["segments"], _d = _move_unique_rows(SegmentMember, "person", keep, other, ["segment_id"])
    moved["consents"] = ConsentRecord.objects.filter(person=other).update(person=keep)
    moved["linked_contacts"] = (
        Person.objects.filter(elector=other)
        .exclude(pk=keep.pk)
        .update(elector=keep if keep.list == PersonList.ELECTORS else None)
    )
    handled: set[type[models.Model]] = {
        PersonPhone,
        PersonTag,
        VoteRecord,
        SegmentMember,
        ConsentRecord,
    }
    for hook in _MERGE_HOOKS:
        for key, count in (hook(keep=keep, other=other) or {}).items():
            moved[key] = moved.get(key, 0) + count
    moved.update(_move_other_apps_rows(keep, other, handled))
    other_id, other_repr = str(other.public_id), str(other)
    other_household = other.household_id
    address_changed = any(name in changes for name in ADDRESS_FIELDS)
    if address_changed or "phones" in moved:
        _refresh_time_zone(keep)
    keep.save()
    other.delete()
    if address_changed:
        household_assign_person(person=keep)
    if other_household and other_household != keep.household_id:
        from mobiliza.people.models import Household

        if not Person.objects.filter(household_id=other_household).exists():
            Household.objects.filter(pk=other_household).delete()
    audit_record(
        organization=keep.organization,
        actor=actor,
        action=AuditEvent.Action.MERGE,
        target=keep,
        changes=changes,
        meta={
            "merged": other_id,
            "merged_name": other_repr,
            "merged_values": snapshot,
            "moved": {k: v for k, v in moved.items() if v},
        },
    )
    audit_record(
        organization=keep.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        object_type=Person._meta.label_lower,
        object_id=other_id,
        object_repr=other_repr,
        meta={"merged_into": str(keep.public_id)},
    )
    return keep

"""Writes about people. Every change of personal data is audited.

Other apps (surveys' answer effects, calling's field edits, texting's opt-outs) change people only
through these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record
from mobiliza.core.models import AuditEvent
from mobiliza.people.models import Channel, ConsentRecord, Person, PersonTag, Tag

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

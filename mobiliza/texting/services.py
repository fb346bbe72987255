"""Writes for peer-to-peer texting: campaigns, texters, assignment, sending (the outbox),
webhook processing (delivery status, replies), opt-outs, answers, tags and escalations.

Rules enforced here, whatever the caller (page, API, task):
* a contact is assigned to one texter at a time (SKIP LOCKED on PostgreSQL; SQLite's IMMEDIATE
  transactions serialize writers);
* a send submitted twice is one message (idempotency key; the first message of a conversation
  has a fixed key, so it can never go twice);
* texting hours (in the person's own time zone) and opt-outs are checked when the texter clicks
  and again when the outbox hands the message to the provider;
* an opt-out is organization-wide and final: after it, the only message that number ever gets
  from the organization is the single confirmation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record, diff_fields, snapshot
from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Perm, Role, has_perm
from mobiliza.providers.base import (
    RETRYABLE,
    STATUS_RANK,
    ErrorClass,
    MessageStatus,
    MessagingProvider,
    ProviderError,
    WebhookKind,
)
from mobiliza.providers.models import ProviderAccount, SenderNumber, WebhookEvent
from mobiliza.providers.services import (
    accepts_in_transaction,
    account_provider,
    default_account,
    provider_for,
    register_tick_hook,
    register_webhook_batch_handler,
    register_webhook_handler,
    sender_number_add,
    webhook_url,
)
from mobiliza.providers.sms import sms_length
from mobiliza.texting.hours import person_zone, within_hours
from mobiliza.texting.models import (
    CannedResponse,
    Conversation,
    Message,
    OptOut,
    TextCampaign,
    Texter,
)
from mobiliza.texting.optout import confirmation_text, opt_out_language
from mobiliza.texting.render import BUILTIN, merge_values, render_message, unknown_fields

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.people.models import Person, Segment

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = {ErrorClass.TRANSIENT: 5, ErrorClass.RATE_LIMITED: 8}
BASE_BACKOFF = {ErrorClass.TRANSIENT: 30, ErrorClass.RATE_LIMITED: 60}
CONFIRMATION_PREFIX = "optout-confirm:"


class SendRefusedError(ValidationError):
    """A send the rules forbid; `code` tells why (opted_out, hours, campaign, not_assigned...)."""


def is_supervisor(membership: Membership) -> bool:
    return has_perm(membership, Perm.OPERATIONS_MANAGE_ALL) or has_perm(
        membership, Perm.OPERATIONS_CREATE
    )


# --- campaigns ----------------------------------------------------------------------------------
CAMPAIGN_FIELDS = (
    "name",
    "description",
    "segment",
    "first_message",
    "opt_out_sentence",
    "survey",
    "starts_at",
    "ends_at",
    "hours_start",
    "hours_end",
    "max_per_texter",
    "batch_size",
)


def _custom_field_keys(organization: Organization) -> set[str]:
    from mobiliza.people.models import CustomField

    return set(CustomField.objects.filter(organization=organization).values_list("key", flat=True))


def _validate_campaign(organization: Organization, values: Mapping[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if not str(values.get("name") or "").strip():
        errors["name"] = [_("Give the campaign a name.")]
    first = str(values.get("first_message") or "").strip()
    if not first:
        errors["first_message"] = [_("Write the first message.")]
    else:
        unknown = unknown_fields(first, set(BUILTIN) | _custom_field_keys(organization))
        if unknown:
            errors["first_message"] = [
                _("Unknown merge field(s): %(fields)s.")
                % {"fields": ", ".join("{" + u + "}" for u in unknown)}
            ]
    start, end = values.get("hours_start"), values.get("hours_end")
    if start is not None and end is not None and start == end:
        errors["hours_end"] = [_("The texting hours must not start and end at the same time.")]
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = [_("The end must come after the start.")]
    for key in ("max_per_texter", "batch_size"):
        value = values.get(key)
        if value is not None and not 1 <= int(value) <= 100_000:
            errors[key] = [_("Enter a number between 1 and 100,000.")]
    for key in ("segment", "survey"):
        obj = values.get(key)
        if obj is not None and obj.organization_id != organization.id:
            errors[key] = [_("Choose one of this organization's.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_create(
    *, organization: Organization, actor: User | None, **values: Any
) -> TextCampaign:
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown campaign fields: {unknown}")
    _validate_campaign(organization, values)
    campaign = TextCampaign(organization=organization, created_by=actor)
    for key, value in values.items():
        if value is not None or key in ("segment", "survey", "starts_at", "ends_at"):
            setattr(campaign, key, value.strip() if isinstance(value, str) else value)
    campaign.save()
    audit_record(
        organization=organization, actor=actor, action=AuditEvent.Action.CREATE, target=campaign
    )
    return campaign


@transaction.atomic
def campaign_update(*, campaign: TextCampaign, actor: User | None, **values: Any) -> TextCampaign:
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown campaign fields: {unknown}")
    merged = {**snapshot(campaign, CAMPAIGN_FIELDS), **values}
    _validate_campaign(campaign.organization, merged)
    if (
        campaign.contacts_loaded_at
        and "segment" in values
        and values["segment"] != campaign.segment
    ):
        raise ValidationError({"segment": [_("The list cannot change once contacts are loaded.")]})
    before = snapshot(campaign, values.keys())
    for key, value in values.items():
        setattr(campaign, key, value.strip() if isinstance(value, str) else value)
    campaign.save()
    changes = diff_fields(before, snapshot(campaign, values.keys()))
    if changes:
        audit_record(
            organization=campaign.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=campaign,
            changes=changes,
        )
    return campaign


def campaign_set_senders(
    *, campaign: TextCampaign, actor: User | None, senders: Iterable[SenderNumber]
) -> None:
    senders = list(senders)
    if any(s.organization_id != campaign.organization_id for s in senders):
        raise ValidationError(_("Choose one of this organization's numbers."))
    campaign.sender_numbers.set(senders)
    send_config_forget(campaign.pk)


def eligible_phones(*, organization: Organization, segment: Segment) -> Iterable[tuple[int, str]]:
    """(person id, E.164) of the segment's people who can be texted now: one valid mobile (or
    unknown-type) number each, not marked do-not-contact, no SMS refusal, not opted out."""
    from mobiliza.people.models import Person, PersonPhone

    try:
        from mobiliza.people.selectors import segment_queryset

        people = segment_queryset(organization=organization, segment=segment)
    except ImportError:  # pragma: no cover - people selectors not there yet
        people = Person.objects.filter(organization=organization)
    people = people.filter(do_not_contact=False).exclude(consent_sms=False)
    opted = OptOut.objects.filter(organization=organization).values("phone_e164")
    phones = (
        PersonPhone.objects.filter(
            organization=organization,
            person_id__in=people.values("id"),
            is_valid=True,
        )
        .exclude(kind=PersonPhone.Kind.LANDLINE)
        .exclude(e164="")
        .exclude(e164__in=opted)
        .order_by("person_id", "position", "id")
        .values_list("person_id", "e164")
    )
    seen: set[int] = set()
    for person_id, e164 in phones.iterator(chunk_size=5000):
        if person_id not in seen:
            seen.add(person_id)
            yield person_id, e164


@transaction.atomic
def campaign_load_contacts(*, campaign: TextCampaign, actor: User | None) -> int:
    """Add the list's textable people as conversations (again: only the new ones)."""
    if campaign.segment is None:
        raise ValidationError(_("Choose a list for this campaign first."))
    batch: list[Conversation] = []
    added = 0
    for person_id, e164 in eligible_phones(
        organization=campaign.organization, segment=campaign.segment
    ):
        batch.append(
            Conversation(
                organization_id=campaign.organization_id,
                campaign=campaign,
                person_id=person_id,
                phone_e164=e164,
            )
        )
        if len(batch) >= 2000:
            added += len(Conversation.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        added += len(Conversation.objects.bulk_create(batch, ignore_conflicts=True))
    campaign.contacts_loaded_at = timezone.now()
    campaign.save(update_fields=["contacts_loaded_at", "updated_at"])
    audit_record(
        organization=campaign.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=campaign,
        meta={"contacts_loaded": added},
    )
    return added


@transaction.atomic
def campaign_set_status(*, campaign: TextCampaign, actor: User | None, status: str) -> TextCampaign:
    if status not in TextCampaign.Status.values:
        raise ValidationError(_("Unknown status."))
    if status == TextCampaign.Status.ACTIVE and campaign.contacts_loaded_at is None:
        if campaign.segment is None:
            raise ValidationError(_("Choose a list before starting the campaign."))
        campaign_load_contacts(campaign=campaign, actor=actor)
    old = campaign.status
    if old != status:
        campaign.status = status
        campaign.save(update_fields=["status", "updated_at"])
        audit_record(
            organization=campaign.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=campaign,
            changes={"status": {"old": old, "new": status}},
        )
    return campaign


@transaction.atomic
def canned_response_create(
    *,
    campaign: TextCampaign,
    actor: User | None,
    title: str,
    text: str,
    question_key: str = "",
    answer_value: str = "",
    tag_name: str = "",
) -> CannedResponse:
    if not title.strip() or not text.strip():
        raise ValidationError(_("A canned response needs a title and a text."))
    if question_key and campaign.survey is None:
        raise ValidationError(_("This campaign has no survey to record answers in."))
    if question_key and campaign.survey is not None:
        from mobiliza.surveys.models import Question

        if not Question.objects.filter(
            survey=campaign.survey, key=question_key, removed_at__isnull=True
        ).exists():
            raise ValidationError(_("Unknown question “%(key)s”.") % {"key": question_key})
    position = campaign.canned_responses.count()
    response = CannedResponse.objects.create(
        organization_id=campaign.organization_id,
        campaign=campaign,
        title=title.strip()[:100],
        text=text.strip(),
        question_key=question_key.strip(),
        answer_value=answer_value.strip(),
        tag_name=tag_name.strip()[:80],
        position=position,
    )
    audit_record(
        organization=campaign.organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=response,
    )
    return response


@transaction.atomic
def canned_response_delete(*, response: CannedResponse, actor: User | None) -> None:
    audit_record(
        organization=response.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=response,
    )
    response.delete()


# --- texters and assignment -----------------------------------------------------------------------
@transaction.atomic
def texter_add(*, campaign: TextCampaign, membership: Membership, actor: User | None) -> Texter:
    if membership.organization_id != campaign.organization_id:
        raise ValidationError(_("This person is not a member of the organization."))
    texter, created = Texter.objects.get_or_create(
        campaign=campaign,
        membership=membership,
        defaults={"organization_id": campaign.organization_id},
    )
    if not created and not texter.is_active:
        texter.is_active = True
        texter.save(update_fields=["is_active", "updated_at"])
    if created:
        audit_record(
            organization=campaign.organization,
            actor=actor,
            action=AuditEvent.Action.JOIN,
            target=campaign,
            meta={"texter": membership.user.email},
        )
    return texter


@transaction.atomic
def texter_join(*, campaign: TextCampaign, user: User) -> Texter:
    """Join by link or QR code: becomes a volunteer of the organization if not yet a member."""
    from mobiliza.accounts.services import membership_add

    if campaign.status == TextCampaign.Status.ARCHIVED:
        raise ValidationError(_("This campaign is over."))
    membership = membership_add(
        organization=campaign.organization, user=user, role=Role.VOLUNTEER, actor=user
    )
    return texter_add(campaign=campaign, membership=membership, actor=user)


def _assign(*, campaign: TextCampaign, membership: Membership, count: int) -> int:
    """Give up to `count` unassigned new contacts to `membership`. Never one contact to two."""
    if count <= 0:
        return 0
    now = timezone.now()
    table = Conversation._meta.db_table
    if connection.vendor == "postgresql":
        from django.core.cache import cache

        # Assigned rows leave the partial index only when vacuumed; scanning from the lowest id
        # every time walks over all of them (quadratic at 100k contacts). A hint of where the
        # free contacts start skips that; if it finds too few, the scan restarts from the start
        # (contacts released below the hint are found again).
        hint_key = f"texting:assign-from:{campaign.pk}"
        hint = int(cache.get(hint_key) or 0)
        assigned: list[int] = []
        with connection.cursor() as cursor:
            # Losing an assignment in a crash is harmless (the contacts go back to the pool), so
            # this transaction does not wait for its WAL flush: many texters ask at once.
            cursor.execute("SET LOCAL synchronous_commit = off")
            for start in (hint, 0) if hint else (0,):
                wanted = count - len(assigned)
                if wanted <= 0:
                    break
                cursor.execute(
                    # A CTE with FOR UPDATE is evaluated exactly once (an IN (subquery) may be
                    # rescanned by a nested loop, which with SKIP LOCKED returns other rows).
                    f"""
                    WITH picked AS (
                        SELECT id FROM {table}
                        WHERE campaign_id = %s AND assigned_to_id IS NULL AND status = %s
                          AND id >= %s
                        ORDER BY id LIMIT %s
                        FOR UPDATE SKIP LOCKED
                    )
                    UPDATE {table} AS c
                    SET assigned_to_id = %s, assigned_at = %s, updated_at = %s
                    FROM picked WHERE c.id = picked.id AND c.assigned_to_id IS NULL
                    RETURNING c.id
                    """,  # noqa: S608 - the table name is ours, values are parameters
                    [
                        campaign.pk,
                        str(Conversation.Status.NEW),
                        start,
                        wanted,
                        membership.pk,
                        now,
                        now,
                    ],
                )
                assigned += [row[0] for row in cursor.fetchall()]
        if assigned:
            cache.set(hint_key, max(assigned) + 1, timeout=3600)
        return len(assigned)
    # SQLite: the surrounding transaction is IMMEDIATE, so no other writer runs meanwhile.
    ids = list(
        Conversation.objects.filter(
            campaign=campaign, assigned_to__isnull=True, status=Conversation.Status.NEW
        )
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    return Conversation.objects.filter(id__in=ids, assigned_to__isnull=True).update(
        assigned_to=membership, assigned_at=now, updated_at=now
    )


def unsent_held(*, campaign: TextCampaign, membership: Membership) -> int:
    return Conversation.objects.filter(
        campaign=campaign, assigned_to=membership, status=Conversation.Status.NEW
    ).count()


@transaction.atomic
def assignment_request(
    *, campaign: TextCampaign, membership: Membership, count: int | None = None
) -> int:
    """Dynamic assignment: a texter asks for a batch, up to the campaign's per-texter maximum."""
    if campaign.status != TextCampaign.Status.ACTIVE:
        raise ValidationError(_("This campaign is not active."))
    # Serializes one texter's requests (the maximum holds), never two texters' requests.
    texter = (
        Texter.objects.select_for_update(of=("self",))
        .filter(campaign=campaign, membership=membership, is_active=True)
        .order_by("pk")
        .first()
    )
    if texter is None:
        raise PermissionDenied(_("Join the campaign first."))
    wanted = campaign.batch_size if count is None else int(count)
    if wanted < 1:
        raise ValidationError(_("Ask for at least one contact."))
    room = campaign.max_per_texter - unsent_held(campaign=campaign, membership=membership)
    if room <= 0:
        raise ValidationError(
            _("Send the messages you already have before asking for more (at most %(n)s).")
            % {"n": campaign.max_per_texter}
        )
    return _assign(campaign=campaign, membership=membership, count=min(wanted, room))


@transaction.atomic
def assignment_give(
    *, campaign: TextCampaign, membership: Membership, count: int, actor: User | None
) -> int:
    """An admin assigns `count` more contacts to a texter (not bound by the per-texter maximum)."""
    if count < 1 or count > 100_000:
        raise ValidationError(_("Enter a number between 1 and 100,000."))
    texter_add(campaign=campaign, membership=membership, actor=actor)
    given = _assign(campaign=campaign, membership=membership, count=count)
    audit_record(
        organization=campaign.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=campaign,
        meta={"assigned": given, "texter": membership.user.email},
    )
    return given


@transaction.atomic
def assignment_release(
    *, campaign: TextCampaign, actor: User | None, membership: Membership | None = None
) -> int:
    """Put unsent contacts (of one texter, or everybody's) back in the pool."""
    qs = Conversation.objects.filter(
        campaign=campaign, status=Conversation.Status.NEW, assigned_to__isnull=False
    )
    if membership is not None:
        qs = qs.filter(assigned_to=membership)
    released = qs.update(assigned_to=None, assigned_at=None, updated_at=timezone.now())
    audit_record(
        organization=campaign.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=campaign,
        meta={"released": released},
    )
    return released


@transaction.atomic
def conversations_reassign(
    *,
    organization: Organization,
    conversation_ids: Iterable[Any],
    to_membership: Membership | None,
    actor: User | None,
) -> int:
    """Move conversations to another texter (None: back to the pool when unsent)."""
    if to_membership is not None and to_membership.organization_id != organization.id:
        raise ValidationError(_("This person is not a member of the organization."))
    ids = list(conversation_ids)
    qs = Conversation.objects.select_for_update().filter(
        organization=organization, public_id__in=ids
    )
    conversations = list(qs)
    now = timezone.now()
    moved = 0
    for conversation in conversations:
        if to_membership is None and conversation.status != Conversation.Status.NEW:
            continue  # a started conversation always has a texter
        if to_membership is not None:
            Texter.objects.get_or_create(
                campaign_id=conversation.campaign_id,
                membership=to_membership,
                defaults={"organization_id": organization.id},
            )
        conversation.assigned_to = to_membership
        conversation.assigned_at = now if to_membership else None
        conversation.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        moved += 1
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        object_type="texting.conversation",
        object_repr=f"{moved} conversations",
        meta={"reassigned": moved, "to": to_membership.user.email if to_membership else None},
    )
    return moved


# --- sending ----------------------------------------------------------------------------------
def is_opted_out(*, organization_id: int, phone_e164: str) -> bool:
    return OptOut.objects.filter(organization_id=organization_id, phone_e164=phone_e164).exists()


def _account_for(campaign: TextCampaign) -> ProviderAccount:
    if campaign.provider_account_id:
        account = ProviderAccount.objects.filter(
            pk=campaign.provider_account_id, organization_id=campaign.organization_id
        ).first()
        if account is not None:
            return account
    return default_account(organization=campaign.organization)


def _account_and_pool(campaign: TextCampaign) -> tuple[int, list[str]]:
    """(provider account id, sender numbers) in one query on the hot path: the campaign's own
    active numbers, else the active numbers of the campaign's account (or the default one)."""
    through = TextCampaign.sender_numbers.through
    rows = list(
        SenderNumber.objects.filter(organization_id=campaign.organization_id, is_active=True)
        .annotate(
            in_campaign=Exists(
                through.objects.filter(textcampaign_id=campaign.pk, sendernumber_id=OuterRef("pk"))
            )
        )
        .values_list("e164", "account_id", "account__is_default", "in_campaign")
        .order_by("e164")
    )
    chosen = [r for r in rows if r[3]]
    if chosen:
        return (campaign.provider_account_id or chosen[0][1]), sorted(r[0] for r in chosen)
    account_id = campaign.provider_account_id or next((r[1] for r in rows if r[2]), None)
    if account_id is None:
        account = _account_for(campaign)
        return account.pk, _sender_pool(campaign, account)
    pool = sorted(r[0] for r in rows if r[1] == account_id)
    if not pool:
        account = _account_for(campaign)
        return account.pk, _sender_pool(campaign, account)
    return account_id, pool


# (provider account id, sender pool) by campaign, per process, for the send path: both change
# rarely (settings pages), are read on every click. Kept SEND_CONFIG_SECONDS, keyed by the
# campaign's `updated_at` too; changing a campaign's numbers here, or saving / deleting a sender
# number in this process, drops it at once (other processes see it within the delay).
SEND_CONFIG_SECONDS = 10.0
_send_configs: dict[int, tuple[float, Any, int, list[str]]] = {}


def _send_config(campaign: TextCampaign) -> tuple[int, list[str]]:
    import time

    cached = _send_configs.get(campaign.pk)
    if cached is not None and cached[0] > time.monotonic() and cached[1] == campaign.updated_at:
        return cached[2], cached[3]
    account_id, pool = _account_and_pool(campaign)
    if pool:
        _send_configs[campaign.pk] = (
            time.monotonic() + SEND_CONFIG_SECONDS,
            campaign.updated_at,
            account_id,
            pool,
        )
    return account_id, pool


def send_config_forget(campaign_id: int | None = None) -> None:
    if campaign_id is None:
        _send_configs.clear()
    else:
        _send_configs.pop(campaign_id, None)


def _sender_pool(campaign: TextCampaign, account: ProviderAccount) -> list[str]:
    pool = sorted(
        campaign.sender_numbers.filter(is_active=True).values_list("e164", flat=True)
    ) or sorted(
        SenderNumber.objects.filter(
            organization_id=campaign.organization_id, account=account, is_active=True
        ).values_list("e164", flat=True)
    )
    if not pool and account.kind == ProviderAccount.Kind.SIMULATOR:
        import phonenumbers

        example = phonenumbers.example_number_for_type(
            campaign.organization.default_country or "PT", phonenumbers.PhoneNumberType.MOBILE
        ) or phonenumbers.parse("+351912000000")
        number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        with contextlib.suppress(ValidationError):
            sender_number_add(account=account, actor=None, number=number, label="Simulator")
        pool = [number]
    return pool


def _sticky_sender(conversation: Conversation, pool: list[str]) -> str:
    """The number that already talks to this person keeps doing so (sticky sender)."""
    if conversation.sender_e164 and conversation.sender_e164 in pool:
        return conversation.sender_e164
    if len(pool) == 1:
        return pool[0]  # one number: nothing to choose (and no query to ask)
    previous = (
        Conversation.objects.filter(
            organization_id=conversation.organization_id,
            phone_e164=conversation.phone_e164,
            sender_e164__in=pool,
        )
        .exclude(pk=conversation.pk)
        .order_by("-last_outbound_at")
        .values_list("sender_e164", flat=True)
        .first()
    )
    if previous:
        return previous
    digest = hashlib.sha256(conversation.phone_e164.encode()).digest()
    return pool[int.from_bytes(digest[:4], "big") % len(pool)]


def first_message_text(*, conversation: Conversation, membership: Membership) -> str:
    campaign = conversation.campaign
    values = merge_values(person=conversation.person, agent_first_name=membership.user.first_name)
    text = render_message(campaign.first_message, values)
    if campaign.opt_out_sentence.strip():
        text = f"{text} {campaign.opt_out_sentence.strip()}"
    return text


def send_check(
    *, conversation: Conversation, now: dt.datetime | None = None, opt_out_checked: bool = False
) -> None:
    """Raise SendRefusedError when this conversation must not get a message now."""
    now = now or timezone.now()
    campaign = conversation.campaign
    if campaign.status != TextCampaign.Status.ACTIVE:
        raise SendRefusedError(_("This campaign is not active."), code="campaign")
    if campaign.starts_at and now < campaign.starts_at:
        raise SendRefusedError(_("This campaign has not started yet."), code="campaign")
    if campaign.ends_at and now >= campaign.ends_at:
        raise SendRefusedError(_("This campaign has ended."), code="campaign")
    if conversation.status == Conversation.Status.OPTED_OUT or (
        not opt_out_checked
        and is_opted_out(
            organization_id=conversation.organization_id, phone_e164=conversation.phone_e164
        )
    ):
        raise SendRefusedError(_("This person opted out: no more texts."), code="opted_out")
    zone = person_zone(
        person_time_zone=conversation.person.time_zone,
        phone_e164=conversation.phone_e164,
        fallback=campaign.organization.time_zone,
    )
    check = within_hours(start=campaign.hours_start, end=campaign.hours_end, zone=zone, now=now)
    if not check.allowed:
        raise SendRefusedError(
            _(
                "Outside texting hours: it is %(time)s for this person (%(zone)s); texts go "
                "between %(start)s and %(end)s."
            )
            % {
                "time": check.local_time.strftime("%H:%M"),
                "zone": zone.key,
                "start": campaign.hours_start.strftime("%H:%M"),
                "end": campaign.hours_end.strftime("%H:%M"),
            },
            code="hours",
        )


# The click's fixed statements, as prepared statements on PostgreSQL (`core.sql`): the ORM's
# compilation of these four cost more CPU than PostgreSQL spends running them. Their errors are
# Django's (a duplicate idempotency key is `django.db.IntegrityError`: `message_send` catches it).
def _hot(sql: str, params: list[Any], *, fetch: bool = True) -> tuple[Any, ...] | None:
    from mobiliza.core.sql import prepared_fetchone

    return prepared_fetchone(sql, params, fetch=fetch)


def _when(value: dt.datetime) -> Any:
    from django.db import connection

    return connection.ops.adapt_datetimefield_value(value)


def _lock_conversation(conversation: Conversation) -> Conversation:
    """The send lease: the conversation's row, locked (FOR UPDATE where the database has it)."""
    from django.db import connection

    sql = (
        "SELECT id, status, sender_e164, phone_e164, organization_id FROM texting_conversation"
        " WHERE id = %s"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    row = _hot(sql, [conversation.pk])
    if row is None:
        raise Conversation.DoesNotExist
    return Conversation(
        id=row[0], status=row[1], sender_e164=row[2], phone_e164=row[3], organization_id=row[4]
    )


def _opted_out(conversation: Conversation) -> bool:
    """Read as its own statement after the lock (see `message_send`)."""
    row = _hot(
        "SELECT 1 FROM texting_optout WHERE organization_id = %s AND phone_e164 = %s LIMIT 1",
        [conversation.organization_id, conversation.phone_e164],
    )
    return row is not None


def _insert_message(message: Message, *, then: tuple[str, list[Any]] | None = None) -> None:
    """`message.save(force_insert=True)` as one prepared INSERT … RETURNING id (Message has no
    save() override and no signal receivers; fields' pre_save (auto_now) and adaptation kept).

    `then`, an UPDATE (sql, params) of the same transaction, runs in the same statement on
    PostgreSQL (a data-modifying WITH: one round trip for both writes); elsewhere after it."""
    from django.db import DEFAULT_DB_ALIAS, connections

    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each field asks it for its ops
    fields = _MESSAGE_FIELDS.get("insert")
    if fields is None:
        fields = _MESSAGE_FIELDS["insert"] = [
            f for f in Message._meta.concrete_fields if not f.primary_key
        ]
    values = [f.get_db_prep_save(f.pre_save(message, True), db) for f in fields]
    combined = then is not None and db.vendor == "postgresql"
    key = (db.vendor, then[0] if combined and then else "")
    sql = _MESSAGE_INSERT.get(key)
    if sql is None:
        cols = ", ".join(f'"{f.column}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f'INSERT INTO "texting_message" ({cols}) VALUES ({marks}) RETURNING "id"'  # noqa: S608 - names from the model
        if combined and then:
            sql = f"WITH m AS ({sql}), u AS ({then[0]}) SELECT id FROM m"  # noqa: S608 - our own SQL
        _MESSAGE_INSERT[key] = sql
    if combined and then:
        values += then[1]
    row = _hot(sql, values)
    assert row is not None
    message.pk = row[0]
    message._state.adding = False
    message._state.db = DEFAULT_DB_ALIAS
    if then is not None and not combined:
        _hot(then[0], then[1], fetch=False)


_MESSAGE_INSERT: dict[tuple[str, str], str] = {}
_MESSAGE_FIELDS: dict[str, list[Any]] = {}


def _send_what(
    *,
    conversation: Conversation,
    membership: Membership,
    idempotency_key: str,
    body: str | None,
    first_message: bool,
) -> tuple[bool, str, str]:
    """(first, idempotency key, text) of a click, or the refusal that needs no lock."""
    if conversation.organization_id != membership.organization_id:
        raise PermissionDenied
    if conversation.assigned_to_id != membership.pk and not is_supervisor(membership):
        raise SendRefusedError(
            _("This conversation is assigned to another texter."), code="not_assigned"
        )
    # The texter's "send the first message" click: always the same key, whatever the state.
    first = first_message or conversation.status == Conversation.Status.NEW
    if first:
        key = f"first:{conversation.pk}"
        text = first_message_text(conversation=conversation, membership=membership)
    else:
        key = f"c{conversation.pk}:{idempotency_key.strip()[:80]}"
        text = (body or "").strip()
        if not idempotency_key.strip():
            raise ValidationError(_("Missing idempotency key."))
        if not text:
            raise ValidationError(_("Write a message first."))
        if len(text) > 1600:
            raise ValidationError(_("A message can have at most 1600 characters."))
    return first, key, text


def _sent_with_key(conversation: Conversation, key: str) -> Message | None:
    return Message.objects.filter(
        organization_id=conversation.organization_id, idempotency_key=key
    ).first()


def message_send(
    *,
    conversation: Conversation,
    membership: Membership,
    idempotency_key: str,
    body: str | None = None,
    first_message: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Message, bool]:
    """One human click: queue one message in the outbox. Returns (message, created).

    The first message of a conversation is the campaign's, rendered here (its key is fixed, so a
    second click, tab or device cannot send it again). Later messages need a `body` and the
    client's idempotency key (a new one per composed message).
    """
    now = now or timezone.now()
    first, key, text = _send_what(
        conversation=conversation,
        membership=membership,
        idempotency_key=idempotency_key,
        body=body,
        first_message=first_message,
    )
    if not first:  # a first message is recognized under the conversation lock below
        existing = _sent_with_key(conversation, key)
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            # The conversation's row lock is the send lease (opt_out_record and the outbox take
            # it too).
            locked = _lock_conversation(conversation)
            return _send_locked(
                conversation=conversation,
                locked=locked,
                membership=membership,
                first=first,
                key=key,
                text=text,
                now=now,
            )
    except IntegrityError:
        existing = _sent_with_key(conversation, key)
        if existing is None:
            raise
        return existing, False


def first_message_click(
    *, membership: Membership, conversation_id: Any, now: dt.datetime | None = None
) -> tuple[Conversation, Message | None, ValidationError | None]:
    """The send screen's click (issue 7's hot path): `conversation_for_send` and `message_send`
    (first message) in one transaction, the conversation read *and* locked by one statement.

    Returns (conversation, message or None, the refusal or None): the screen shows the refusal
    on the card. Raises Http404 as `conversation_for_send` does."""
    from mobiliza.texting.selectors import conversation_for_send

    now = now or timezone.now()
    conversation: Conversation | None = None
    key = ""
    try:
        with transaction.atomic():
            conversation = conversation_for_send(
                membership=membership, conversation_id=conversation_id, lock=True
            )
            first, key, text = _send_what(
                conversation=conversation,
                membership=membership,
                idempotency_key="",
                body=None,
                first_message=True,
            )
            message, _created = _send_locked(
                conversation=conversation,
                locked=conversation,  # its row was read under the lock: fresh
                membership=membership,
                first=first,
                key=key,
                text=text,
                now=now,
            )
    except ValidationError as exc:
        if conversation is None:
            raise
        return conversation, None, exc
    except IntegrityError:
        found = _sent_with_key(conversation, key) if conversation is not None else None
        if conversation is None or found is None:
            raise
        return conversation, found, None
    return conversation, message, None


def _send_locked(
    *,
    conversation: Conversation,
    locked: Conversation,
    membership: Membership,
    first: bool,
    key: str,
    text: str,
    now: dt.datetime,
) -> tuple[Message, bool]:
    """The send under the conversation's row lock (`locked`: its row as read under the lock),
    inside the caller's transaction."""
    if first and locked.status != Conversation.Status.NEW:
        found = _sent_with_key(conversation, key)
        if found is not None:
            return found, False
        if locked.status != Conversation.Status.OPTED_OUT:
            raise SendRefusedError(_("This conversation has already started."), code="started")
    # The opt-out is read by a *separate* statement after the lock: in READ COMMITTED a
    # subquery in the locking statement would use the snapshot taken before waiting for the
    # lock, and miss an opt-out committed meanwhile (the concurrency test caught it). When it
    # finds one, send_check reads it again and refuses with its usual message and order of
    # checks.
    send_check(
        conversation=conversation,
        now=now,
        opt_out_checked=not _opted_out(locked),
    )
    account_id, pool = _send_config(conversation.campaign)
    if not pool:
        raise SendRefusedError(
            _("No sender number: add one in the provider settings."), code="no_sender"
        )
    sender = _sticky_sender(locked, pool)
    message = Message(
        organization_id=conversation.organization_id,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        body=text,
        author=membership,
        from_e164=sender,
        to_e164=conversation.phone_e164,
        provider_account_id=account_id,
        idempotency_key=key,
        status=Message.Status.QUEUED,
        segments=max(1, sms_length(text).segments),
        next_attempt_at=now,
    )
    account, provider = account_provider(account_id)
    inline = accepts_in_transaction(provider)
    failure: ProviderError | None = None
    if inline:
        # The provider's acceptance is a write in this transaction: hand the message
        # over now, under the same lock and checks, and store it with its SID.
        try:
            result = provider.send_sms(
                from_number=sender,
                to_number=message.to_e164,
                body=text,
                status_callback=webhook_url(account=account, kind=WebhookKind.MESSAGE_STATUS),
            )
        except ProviderError as exc:
            failure = exc
        else:
            message.provider_message_id = result.provider_message_id
            message.segments = result.segments
            message.attempts = 1
            message.sent_at = timezone.now()
            message.next_attempt_at = None
    new_status = (
        Conversation.Status.WAITING
        if first or locked.status == Conversation.Status.WAITING
        else Conversation.Status.REPLIED
    )
    if locked.status in (Conversation.Status.CLOSED,):
        new_status = Conversation.Status.REPLIED
    # the message and the conversation's new state: one statement on PostgreSQL
    _insert_message(
        message,
        then=(
            "UPDATE texting_conversation SET status = %s, sender_e164 = %s,"
            " last_outbound_at = %s, last_delivery_status = %s, updated_at = %s"
            " WHERE id = %s",
            [
                str(new_status),
                sender,
                _when(now),
                str(Message.Status.QUEUED),
                _when(now),
                conversation.pk,
            ],
        ),
    )
    conversation.status = new_status
    conversation.sender_e164 = sender
    conversation.last_outbound_at = now
    if failure is not None:
        message.attempts = 1
        _dispatch_failed(message, failure, now)
    elif not inline:
        _queue_dispatch(message.pk, conversation.pk)
    return message, True


def _queue_dispatch(message_id: int, conversation_id: int | None) -> None:
    from mobiliza.texting.tasks import dispatch_message

    transaction.on_commit(lambda: dispatch_message.delay(message_id, conversation_id))


def _backoff(error_class: ErrorClass, attempts: int) -> dt.timedelta:
    seconds = BASE_BACKOFF.get(error_class, 30) * (2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=min(seconds, 3600))


SENDING_STALE_AFTER = dt.timedelta(minutes=5)


def outbox_dispatch(
    *,
    message_id: int,
    now: dt.datetime | None = None,
    provider: MessagingProvider | None = None,
    conversation_id: int | None = None,
) -> str:
    """Hand one queued message to the provider. Idempotent: a message already handed over, or
    claimed by another worker, is left alone. Returns what happened.

    The conversation row stays locked from the opt-out check until the provider has the message,
    and `opt_out_record` takes the same lock first: an opt-out either lands before the check (the
    message is blocked) or waits until the message is out. Nothing leaves after an opt-out.

    A provider reached over the network (Twilio) is called in two steps so a crash cannot send a
    message twice: the claim (`sending_at`, one more attempt) is committed first, then the call
    and its outcome are recorded in a second transaction that re-checks the claim and the
    opt-out under the lock. A row left "sending" by a crash is resolved by
    `outbox_recover_sending` (asks the provider whether it got the message). A provider that
    accepts inside our transaction (the simulator) is called in one step.
    """
    now = now or timezone.now()
    if conversation_id is None:
        conversation_id = (
            Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
        )
    claimed: dt.datetime | None = None
    for step in ("claim", "hand_over"):
        with transaction.atomic():
            if conversation_id:
                # Lock order everywhere: conversation, then message (see opt_out_record).
                list(
                    Conversation.objects.select_for_update()
                    .filter(pk=conversation_id)
                    .values_list("id", flat=True)
                )
            qs = Message.objects.filter(
                pk=message_id,
                status=Message.Status.QUEUED,
                provider_message_id__isnull=True,
                direction=Message.Direction.OUTBOUND,
            )
            if step == "claim":
                qs = qs.filter(sending_at__isnull=True).filter(
                    Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
                )
            else:
                qs = qs.filter(sending_at=claimed)
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            message = qs.select_related(
                "conversation",
                "conversation__campaign",
                "conversation__campaign__organization",
                "conversation__person",
                "provider_account",
            ).first()
            if message is None:
                # Claimed but gone before the call: an opt-out blocked it meanwhile.
                return "skipped" if step == "claim" else "blocked"
            refused = _dispatch_refused(message, now)
            if refused:
                return refused
            account = message.provider_account
            if account is None:
                return "skipped"
            provider = provider or provider_for(account)
            if step == "claim" and not accepts_in_transaction(provider):
                claimed = timezone.now()
                message.attempts += 1
                Message.objects.filter(pk=message.pk).update(
                    sending_at=claimed, attempts=message.attempts, updated_at=claimed
                )
                continue  # commit the claim before calling out
            if step == "claim":
                message.attempts += 1
            try:
                result = provider.send_sms(
                    from_number=message.from_e164,
                    to_number=message.to_e164,
                    body=message.body,
                    status_callback=webhook_url(account=account, kind=WebhookKind.MESSAGE_STATUS),
                )
            except ProviderError as exc:
                Message.objects.filter(pk=message.pk).update(sending_at=None)
                return _dispatch_failed(message, exc, now)
            _record_handed_over(message.pk, result, attempts=message.attempts)
            return "handed_over"
    return "skipped"  # pragma: no cover - the loop always returns


def _dispatch_refused(message: Message, now: dt.datetime) -> str:
    """Block or defer a message the rules forbid now ("" when it may go)."""
    confirmation = (message.idempotency_key or "").startswith(CONFIRMATION_PREFIX)
    if not confirmation and is_opted_out(
        organization_id=message.organization_id, phone_e164=message.to_e164
    ):
        message.status = Message.Status.BLOCKED
        message.error_message = _("Opted out before it was sent.")
        message.next_attempt_at = None
        message.sending_at = None
        message.save(
            update_fields=["status", "error_message", "next_attempt_at", "sending_at", "updated_at"]
        )
        return "blocked"
    if not confirmation and message.conversation is not None:
        try:
            send_check(conversation=message.conversation, now=now, opt_out_checked=True)
        except SendRefusedError as exc:
            message.error_message = "; ".join(exc.messages)[:300]
            message.sending_at = None
            if exc.code == "hours":
                # Retried later: a queued message never goes out of hours.
                message.next_attempt_at = now + dt.timedelta(minutes=15)
                message.save(
                    update_fields=["next_attempt_at", "error_message", "sending_at", "updated_at"]
                )
                return "deferred"
            message.status = Message.Status.BLOCKED
            message.next_attempt_at = None
            message.save(
                update_fields=[
                    "status",
                    "error_message",
                    "next_attempt_at",
                    "sending_at",
                    "updated_at",
                ]
            )
            return "blocked"
    return ""


def _record_handed_over(message_id: int, result: Any, *, attempts: int) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message_id).update(
        provider_message_id=result.provider_message_id,
        attempts=attempts,
        segments=result.segments,
        sent_at=now,
        sending_at=None,
        next_attempt_at=None,
        error_code="",
        error_message="",
        updated_at=now,
    )


def outbox_recover_sending(
    *, now: dt.datetime | None = None, stale_after: dt.timedelta = SENDING_STALE_AFTER
) -> int:
    """Messages left "sending" (claimed, provider called, no SID recorded: the process died in
    between). Ask the provider whether it has the message: yes → record its SID (not sent
    again); no → back in the outbox for a retry. A provider that cannot be asked leaves the row
    for the next run. Returns how many rows were resolved."""
    now = now or timezone.now()
    ids = list(
        Message.objects.filter(
            status=Message.Status.QUEUED,
            provider_message_id__isnull=True,
            sending_at__lt=now - stale_after,
        )
        .order_by("sending_at")
        .values_list("pk", flat=True)[:200]
    )
    resolved = 0
    for pk in ids:
        with transaction.atomic():
            qs = Message.objects.filter(
                pk=pk,
                status=Message.Status.QUEUED,
                provider_message_id__isnull=True,
                sending_at__lt=now - stale_after,
            )
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            message = qs.select_related("provider_account").first()
            if message is None or message.provider_account is None or message.sending_at is None:
                continue
            provider = provider_for(message.provider_account)
            finder = getattr(provider, "find_sent", None)
            found = None
            if finder is not None:
                try:
                    found = finder(
                        from_number=message.from_e164,
                        to_number=message.to_e164,
                        body=message.body,
                        since=message.sending_at - dt.timedelta(minutes=1),
                    )
                except ProviderError:
                    logger.warning("outbox: cannot ask the provider", extra={"message_id": pk})
                    continue
            if found is not None:
                _record_handed_over(message.pk, found, attempts=message.attempts)
            else:
                Message.objects.filter(pk=message.pk).update(
                    sending_at=None, next_attempt_at=now, updated_at=timezone.now()
                )
            resolved += 1
    return resolved


def _dispatch_failed(message: Message, exc: ProviderError, now: dt.datetime) -> str:
    retry = exc.error_class in RETRYABLE and message.attempts < MAX_ATTEMPTS.get(exc.error_class, 1)
    with transaction.atomic():
        fields: dict[str, Any] = {
            "attempts": message.attempts,
            "error_code": exc.code[:16],
            "error_message": exc.message[:300],
            "updated_at": timezone.now(),
        }
        if retry:
            fields["next_attempt_at"] = now + _backoff(exc.error_class, message.attempts)
        else:
            fields["status"] = Message.Status.FAILED
            fields["next_attempt_at"] = None
        Message.objects.filter(pk=message.pk).update(**fields)
        if not retry and message.conversation_id:
            Conversation.objects.filter(pk=message.conversation_id).update(
                last_delivery_status=Message.Status.FAILED
            )
        if exc.error_class == ErrorClass.OPTED_OUT:
            opt_out_record(
                organization=message.organization,
                phone_e164=message.to_e164,
                source=OptOut.Source.CARRIER,
                person=message.conversation.person if message.conversation else None,
                campaign=message.conversation.campaign if message.conversation else None,
                actor=None,
                confirm=False,
            )
    return "retry" if retry else "failed"


def outbox_retry_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Dispatch queued messages whose retry time has come (the worker's beat, or a command),
    after resolving the ones a crash left "sending"."""
    now = now or timezone.now()
    outbox_recover_sending(now=now)
    ids = list(
        Message.objects.filter(
            status=Message.Status.QUEUED,
            provider_message_id__isnull=True,
            sending_at__isnull=True,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if outbox_dispatch(message_id=pk, now=now) == "handed_over")


# --- opt-outs -----------------------------------------------------------------------------------
def opt_out_record(
    *,
    organization: Organization,
    phone_e164: str,
    source: str,
    actor: User | None,
    person: Person | None = None,
    campaign: TextCampaign | None = None,
    message: Message | None = None,
    language: str = "",
    confirm: bool = False,
    sender_e164: str = "",
) -> tuple[OptOut, bool]:
    """Record an opt-out (organization-wide, for good). Only the first one of a number sends the
    single confirmation, when `confirm` (stop word replies)."""
    with transaction.atomic():
        # Wait for any send in flight to this number (outbox_dispatch holds these locks).
        list(
            Conversation.objects.select_for_update()
            .filter(organization=organization, phone_e164=phone_e164)
            .order_by("id")
            .values_list("id", flat=True)
        )
        try:
            with transaction.atomic():
                optout = OptOut.objects.create(
                    organization=organization,
                    phone_e164=phone_e164,
                    person=person,
                    source=source,
                    campaign=campaign,
                    message=message,
                    language=language,
                    recorded_by=actor if actor is not None and actor.is_authenticated else None,
                )
            created = True
        except IntegrityError:
            optout = OptOut.objects.get(organization=organization, phone_e164=phone_e164)
            created = False
        now = timezone.now()
        Conversation.objects.filter(organization=organization, phone_e164=phone_e164).update(
            status=Conversation.Status.OPTED_OUT, updated_at=now
        )
        # Anything still in the outbox for this number is stopped here.
        Message.objects.filter(
            organization=organization,
            to_e164=phone_e164,
            status=Message.Status.QUEUED,
            provider_message_id__isnull=True,
        ).exclude(idempotency_key__startswith=CONFIRMATION_PREFIX).update(
            status=Message.Status.BLOCKED, error_message="Opted out", next_attempt_at=None
        )
        if not created:
            return optout, False
        from mobiliza.people.models import Person as PersonModel
        from mobiliza.people.services import person_consent_record

        people = [person] if person is not None else []
        people += list(
            PersonModel.objects.filter(organization=organization, phones__e164=phone_e164).exclude(
                pk__in=[p.pk for p in people]
            )[:20]
        )
        for someone in people:
            person_consent_record(
                person=someone,
                channel="sms",
                granted=False,
                source=f"texting:{source}",
                actor=actor,
            )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            object_type="texting.optout",
            object_id=str(optout.public_id),
            object_repr=phone_e164,
            meta={"source": source},
        )
        if confirm and sender_e164:
            account = message.provider_account if message is not None else None
            account = account or (
                _account_for(campaign) if campaign else default_account(organization=organization)
            )
            confirmation = Message.objects.create(
                organization=organization,
                conversation=message.conversation if message is not None else None,
                direction=Message.Direction.OUTBOUND,
                body=confirmation_text(language=language, organization_name=organization.name),
                is_automatic=True,
                from_e164=sender_e164,
                to_e164=phone_e164,
                provider_account=account,
                idempotency_key=f"{CONFIRMATION_PREFIX}{optout.pk}",
                status=Message.Status.QUEUED,
                next_attempt_at=now,
            )
            _queue_dispatch(confirmation.pk, confirmation.conversation_id)
    return optout, True


def conversation_opt_out(*, conversation: Conversation, membership: Membership) -> OptOut:
    _check_can_act(conversation, membership)
    optout, _created = opt_out_record(
        organization=conversation.campaign.organization,
        phone_e164=conversation.phone_e164,
        source=OptOut.Source.TEXTER,
        person=conversation.person,
        campaign=conversation.campaign,
        actor=membership.user,
    )
    return optout


def _check_can_act(conversation: Conversation, membership: Membership) -> None:
    if conversation.organization_id != membership.organization_id:
        raise PermissionDenied
    if conversation.assigned_to_id != membership.pk and not is_supervisor(membership):
        raise PermissionDenied(_("This conversation is assigned to another texter."))


@transaction.atomic
def conversation_escalate(
    *, conversation: Conversation, membership: Membership, note: str = ""
) -> Conversation:
    _check_can_act(conversation, membership)
    conversation.escalated_at = timezone.now()
    conversation.escalation_note = note.strip()[:300]
    conversation.save(update_fields=["escalated_at", "escalation_note", "updated_at"])
    audit_record(
        organization=conversation.campaign.organization,
        actor=membership.user,
        action=AuditEvent.Action.UPDATE,
        object_type="texting.conversation",
        object_id=str(conversation.public_id),
        meta={"escalated": True, "note": conversation.escalation_note},
    )
    return conversation


@transaction.atomic
def conversation_set_closed(
    *, conversation: Conversation, membership: Membership, closed: bool
) -> Conversation:
    _check_can_act(conversation, membership)
    if conversation.status == Conversation.Status.OPTED_OUT:
        return conversation
    if closed:
        conversation.status = Conversation.Status.CLOSED
        conversation.escalated_at = None
    elif conversation.status == Conversation.Status.CLOSED:
        conversation.status = Conversation.Status.REPLIED
    conversation.save(update_fields=["status", "escalated_at", "updated_at"])
    return conversation


def conversation_tag(
    *, conversation: Conversation, membership: Membership, tag_name: str, remove: bool = False
) -> None:
    from mobiliza.people.services import person_tag_add, person_tag_remove

    _check_can_act(conversation, membership)
    if remove:
        person_tag_remove(person=conversation.person, tag_name=tag_name, actor=membership.user)
    else:
        person_tag_add(person=conversation.person, tag_name=tag_name, actor=membership.user)


def conversation_record_answers(
    *, conversation: Conversation, membership: Membership, answers: Mapping[str, Any]
) -> int:
    """Record survey answers from the thread (recorded once per value: double taps are safe)."""
    from mobiliza.surveys.services import answers_record

    _check_can_act(conversation, membership)
    campaign = conversation.campaign
    if campaign.survey is None:
        raise ValidationError(_("This campaign has no survey."))
    recorded = 0
    for key, value in answers.items():
        if value in (None, "", []):
            continue
        digest = hashlib.sha256(f"{key}={value}".encode()).hexdigest()[:16]
        result = answers_record(
            organization=campaign.organization,
            person=conversation.person,
            survey=campaign.survey,
            answers={key: value},
            channel="text",
            agent=membership.user,
            source_type=f"texting.c{campaign.pk}",
            source_id=f"{conversation.public_id.hex}:{digest}",
        )
        recorded += len(result)
    return recorded


def canned_response_apply(
    *,
    conversation: Conversation,
    membership: Membership,
    response: CannedResponse,
    idempotency_key: str,
) -> tuple[Message, bool]:
    """Send a canned response and record its answer and tag, in one click."""
    if response.campaign_id != conversation.campaign_id:
        raise PermissionDenied
    values = merge_values(person=conversation.person, agent_first_name=membership.user.first_name)
    message, created = message_send(
        conversation=conversation,
        membership=membership,
        idempotency_key=idempotency_key,
        body=render_message(response.text, values),
    )
    if created and response.question_key and response.answer_value:
        conversation_record_answers(
            conversation=conversation,
            membership=membership,
            answers={response.question_key: response.answer_value},
        )
    if created and response.tag_name:
        conversation_tag(
            conversation=conversation, membership=membership, tag_name=response.tag_name
        )
    return message, created


@transaction.atomic
def unmatched_resolve(
    *, message: Message, actor: User | None, conversation: Conversation | None = None
) -> Message:
    """An admin files an unmatched reply: attach it to a conversation, or just mark it handled."""
    if message.direction != Message.Direction.INBOUND or message.conversation_id is not None:
        raise ValidationError(_("This message is not an unmatched reply."))
    if conversation is not None:
        if conversation.organization_id != message.organization_id:
            raise PermissionDenied
        message.conversation = conversation
        Conversation.objects.filter(pk=conversation.pk).exclude(
            status=Conversation.Status.OPTED_OUT
        ).update(status=Conversation.Status.NEEDS_REPLY, last_inbound_at=message.created_at)
    message.handled_at = timezone.now()
    message.save(update_fields=["conversation", "handled_at", "updated_at"])
    return message


# --- webhooks (registered with providers) --------------------------------------------------------
def _e164(raw: str) -> str:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return raw.strip()[:20]
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def message_status_handle(
    event: WebhookEvent, account: ProviderAccount, provider: MessagingProvider
) -> str:
    update = provider.parse_status(event.payload)
    message = (
        Message.objects.select_for_update()
        .filter(provider_account=account, provider_message_id=update.provider_message_id)
        .first()
    )
    if message is None:
        return WebhookEvent.Outcome.UNMATCHED
    new = update.status.value
    if STATUS_RANK.get(new, 0) <= STATUS_RANK.get(message.status, 0):
        return WebhookEvent.Outcome.PROCESSED  # late or repeated: never move backwards
    now = timezone.now()
    message.status = new
    fields = ["status", "updated_at"]
    if update.error_code:
        message.error_code = update.error_code[:16]
        message.error_message = update.error_message[:300]
        fields += ["error_code", "error_message"]
    if new == MessageStatus.DELIVERED:
        message.delivered_at = now
        fields.append("delivered_at")
    message.save(update_fields=fields)
    if message.conversation_id:
        Conversation.objects.filter(pk=message.conversation_id).update(last_delivery_status=new)
    if update.error_code in {"21610", "30004"}:
        opt_out_record(
            organization=account.organization,
            phone_e164=message.to_e164,
            source=OptOut.Source.CARRIER,
            actor=None,
        )
    return WebhookEvent.Outcome.PROCESSED


def message_inbound_handle(
    event: WebhookEvent, account: ProviderAccount, provider: MessagingProvider
) -> str:
    inbound = provider.parse_inbound(event.payload)
    organization = account.organization
    if Message.objects.filter(
        provider_account=account, provider_message_id=inbound.provider_message_id
    ).exists():
        return WebhookEvent.Outcome.PROCESSED
    from_e164, to_e164 = _e164(inbound.from_number), _e164(inbound.to_number)
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(organization=organization, phone_e164=from_e164, sender_e164=to_e164)
        .order_by(F("last_outbound_at").desc(nulls_last=True), "-id")
        .select_related("campaign", "person")
        .first()
    )
    now = timezone.now()
    message = Message.objects.create(
        organization=organization,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        body=inbound.body[:5000],
        from_e164=from_e164,
        to_e164=to_e164,
        provider_account=account,
        provider_message_id=inbound.provider_message_id,
        status=Message.Status.RECEIVED,
    )
    if conversation is not None:
        fields: dict[str, Any] = {"last_inbound_at": now, "updated_at": now}
        if conversation.status != Conversation.Status.OPTED_OUT:
            fields["status"] = Conversation.Status.NEEDS_REPLY
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
    language = opt_out_language(inbound.body)
    if language is not None:
        opt_out_record(
            organization=organization,
            phone_e164=from_e164,
            source=OptOut.Source.KEYWORD,
            actor=None,
            person=conversation.person if conversation else None,
            campaign=conversation.campaign if conversation else None,
            message=message,
            language=language,
            confirm=True,
            sender_e164=to_e164,
        )
    return WebhookEvent.Outcome.PROCESSED


def message_inbound_batch(events: list[WebhookEvent]) -> dict[int, str]:
    """Replies processed set-based (the worker's drain of stored webhooks): the same rules as
    `message_inbound_handle`, with one query to find the already recorded ones, one to match
    every reply to its conversation, one insert for the messages and two updates for the
    conversations. Stop words still go through `opt_out_record`, one by one (rare).

    The caller holds the events' row locks (SKIP LOCKED), so no other worker has them.
    """
    if not events:
        return {}
    providers: dict[int, MessagingProvider] = {}
    parsed: list[tuple[WebhookEvent, Any, str, str]] = []
    for event in events:
        if event.account_id not in providers:
            providers[event.account_id] = provider_for(event.account)
        inbound = providers[event.account_id].parse_inbound(event.payload)
        parsed.append((event, inbound, _e164(inbound.from_number), _e164(inbound.to_number)))
    known = set(
        Message.objects.filter(
            provider_account_id__in={e.account_id for e in events},
            provider_message_id__in=[p[1].provider_message_id for p in parsed],
        ).values_list("provider_account_id", "provider_message_id")
    )
    outcomes: dict[int, str] = {}
    todo = []
    seen: set[tuple[int, str]] = set()
    for item in parsed:
        event, inbound = item[0], item[1]
        ident = (event.account_id, inbound.provider_message_id)
        if ident in known or ident in seen:
            outcomes[event.pk] = WebhookEvent.Outcome.PROCESSED
            continue
        seen.add(ident)
        todo.append(item)
    if not todo:
        return outcomes
    # The most recent conversation of each (organization, person's number, sender number).
    orgs = {e.organization_id for e, *_ in todo}
    candidates = (
        Conversation.objects.filter(
            organization_id__in=orgs,
            phone_e164__in={frm for _e, _i, frm, _t in todo},
            sender_e164__in={to for _e, _i, _f, to in todo},
        )
        .order_by(F("last_outbound_at").desc(nulls_last=True), "-id")
        .values_list("id", "organization_id", "phone_e164", "sender_e164", "status")
    )
    best: dict[tuple[int, str, str], tuple[int, str]] = {}
    for pk, org_id, phone, sender, status in candidates:
        best.setdefault((org_id, phone, sender), (pk, status))
    matched_ids = sorted({v[0] for v in best.values()})
    if matched_ids:
        # Lock order everywhere: conversations by id (see opt_out_record, outbox_dispatch).
        statuses = dict(
            Conversation.objects.select_for_update()
            .filter(pk__in=matched_ids)
            .order_by("id")
            .values_list("id", "status")
        )
    else:
        statuses = {}
    now = timezone.now()
    rows = []
    for event, inbound, frm, to in todo:
        match = best.get((event.organization_id, frm, to))
        rows.append(
            Message(
                organization_id=event.organization_id,
                conversation_id=match[0] if match else None,
                direction=Message.Direction.INBOUND,
                body=inbound.body[:5000],
                from_e164=frm,
                to_e164=to,
                provider_account_id=event.account_id,
                provider_message_id=inbound.provider_message_id,
                status=Message.Status.RECEIVED,
            )
        )
    messages = Message.objects.bulk_create(rows)
    replied = [pk for pk in matched_ids if statuses.get(pk) != Conversation.Status.OPTED_OUT]
    if replied:
        Conversation.objects.filter(pk__in=replied).update(
            status=Conversation.Status.NEEDS_REPLY, last_inbound_at=now, updated_at=now
        )
    opted = [pk for pk in matched_ids if statuses.get(pk) == Conversation.Status.OPTED_OUT]
    if opted:
        Conversation.objects.filter(pk__in=opted).update(last_inbound_at=now, updated_at=now)
    stops = [
        (item, message)
        for item, message in zip(todo, messages, strict=True)
        if opt_out_language(item[1].body) is not None
    ]
    if stops:
        by_id = {
            c.pk: c
            for c in Conversation.objects.filter(
                pk__in=[m.conversation_id for _i, m in stops if m.conversation_id]
            ).select_related("campaign", "person")
        }
        for (event, inbound, frm, to), message in stops:
            conversation = by_id.get(message.conversation_id) if message.conversation_id else None
            opt_out_record(
                organization=event.account.organization,
                phone_e164=frm,
                source=OptOut.Source.KEYWORD,
                actor=None,
                person=conversation.person if conversation else None,
                campaign=conversation.campaign if conversation else None,
                message=message,
                language=opt_out_language(inbound.body) or "",
                confirm=True,
                sender_e164=to,
            )
    for event, *_rest in todo:
        outcomes[event.pk] = WebhookEvent.Outcome.PROCESSED
    return outcomes


register_webhook_handler(WebhookKind.MESSAGE_STATUS, message_status_handle)
register_tick_hook(outbox_retry_due)
register_webhook_handler(WebhookKind.MESSAGE_INBOUND, message_inbound_handle)
register_webhook_batch_handler(WebhookKind.MESSAGE_INBOUND, message_inbound_batch)

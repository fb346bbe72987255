"""Peer-to-peer texting: campaigns, texters, conversations (one per person and campaign),
messages (the durable outbox), canned responses and organization-wide opt-outs."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobiliza.core.models import BaseModel, OrganizationScopedModel


def _join_token() -> str:
    return secrets.token_urlsafe(18)


class TextCampaign(OrganizationScopedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    segment = models.ForeignKey(
        "people.Segment",
        verbose_name=_("list"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    first_message = models.TextField(_("first message"))
    opt_out_sentence = models.CharField(
        _("opt-out sentence"),
        max_length=160,
        blank=True,
        help_text=_("Added to the first message, e.g. “Reply STOP to stop receiving texts.”"),
    )
    survey = models.ForeignKey(
        "surveys.Survey",
        verbose_name=_("survey"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    hours_start = models.TimeField(_("texting from"), default=dt.time(9, 0))
    hours_end = models.TimeField(_("texting until"), default=dt.time(21, 0))
    max_per_texter = models.PositiveIntegerField(
        _("most unsent contacts a texter may hold"), default=300
    )
    batch_size = models.PositiveIntegerField(_("contacts per request"), default=50)
    provider_account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sender_numbers = models.ManyToManyField(
        "providers.SenderNumber",
        verbose_name=_("sender numbers"),
        blank=True,
        related_name="+",
        help_text=_("Empty: the organization's active numbers."),
    )
    join_token = models.CharField(max_length=40, unique=True, default=_join_token)
    contacts_loaded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="textcampaign_org_status")]

    def __str__(self) -> str:
        return self.name


class Texter(BaseModel):
    """A member who texts for a campaign (joined by link / QR code, or added by an admin)."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(TextCampaign, on_delete=models.CASCADE, related_name="texters")
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="texting_roles"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["campaign_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "membership"], name="texter_unique")
        ]
        indexes = [models.Index(fields=["membership", "is_active"], name="texter_membership")]

    def __str__(self) -> str:
        return f"{self.membership} · {self.campaign_id}"


class Conversation(BaseModel):
    """One person in one campaign: their assignment, sticky sender and thread state."""

    class Status(models.TextChoices):
        NEW = "new", _("Needs first message")
        WAITING = "waiting", _("Waiting for a reply")
        NEEDS_REPLY = "needs_reply", _("Needs a reply")
        REPLIED = "replied", _("Replied")
        CLOSED = "closed", _("Closed")
        OPTED_OUT = "opted_out", _("Opted out")

    # Every index here is paid on each assignment and each status change (hot paths), so the
    # FK indexes already covered by a composite index below are not created.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    campaign = models.ForeignKey(
        TextCampaign, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    phone_e164 = models.CharField(max_length=20)
    sender_e164 = models.CharField(max_length=20, blank=True)
    assigned_to = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_note = models.CharField(max_length=300, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_delivery_status = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["campaign_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "person"], name="conversation_unique")
        ]
        indexes = [
            # Dynamic assignment: the next unassigned contacts of a campaign.
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(assigned_to__isnull=True, status="new"),
                name="conv_unassigned",
            ),
            # A texter's inbox, needing a reply first.
            models.Index(fields=["assigned_to", "campaign", "status"], name="conv_texter"),
            # Matching a reply: organization, person's number, sender number.
            models.Index(fields=["organization", "phone_e164", "sender_e164"], name="conv_match"),
        ]

    def __str__(self) -> str:
        return f"{self.phone_e164} · {self.campaign_id}"


class Message(BaseModel):
    """One SMS in or out. Outbound rows are the durable outbox (status queued until handed over).

    `idempotency_key` makes a send submitted twice (double click, held key, network retry) one row.
    Inbound rows with no conversation are the unmatched inbox.
    """

    class Direction(models.TextChoices):
        OUTBOUND = "out", _("Sent")
        INBOUND = "in", _("Received")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Undelivered")
        FAILED = "failed", _("Failed")
        BLOCKED = "blocked", _("Not sent")
        RECEIVED = "received", _("Received")

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    body = models.TextField()
    author = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_automatic = models.BooleanField(default=False)
    from_e164 = models.CharField(max_length=20)
    to_e164 = models.CharField(max_length=20)
    provider_account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    provider_message_id = models.CharField(max_length=64, null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    segments = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Claimed for a hand-over to a provider over the network, committed before the call: a row
    # still "sending" after a crash is checked with the provider, never resent blind.
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="message_idempotency"
            ),
            models.UniqueConstraint(
                fields=["provider_account", "provider_message_id"], name="message_provider_id"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_thread"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="queued", provider_message_id__isnull=True),
                name="message_outbox",
            ),
            models.Index(
                fields=["organization", "-created_at"],
                condition=models.Q(conversation__isnull=True, direction="in"),
                name="message_unmatched",
            ),
            # An opt-out stops whatever is still in the outbox for that number.
            models.Index(
                fields=["organization", "to_e164"],
                condition=models.Q(status="queued", provider_message_id__isnull=True),
                name="message_outbox_to",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.to_e164}: {self.body[:30]}"


class CannedResponse(OrganizationScopedModel):
    campaign = models.ForeignKey(
        TextCampaign, on_delete=models.CASCADE, related_name="canned_responses"
    )
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"))
    question_key = models.CharField(_("records the answer to"), max_length=50, blank=True)
    answer_value = models.CharField(_("answer"), max_length=50, blank=True)
    tag_name = models.CharField(_("adds the tag"), max_length=80, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["campaign_id", "position", "id"]

    def __str__(self) -> str:
        return self.title


class OptOut(OrganizationScopedModel):
    """A number that must never be texted again by this organization, whatever the campaign."""

    class Source(models.TextChoices):
        KEYWORD = "keyword", _("Replied with a stop word")
        TEXTER = "texter", _("Marked by a texter")
        ADMIN = "admin", _("Added by an admin")
        CARRIER = "carrier", _("Reported by the carrier")

    phone_e164 = models.CharField(max_length=20)
    person = models.ForeignKey(
        "people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    campaign = models.ForeignKey(
        TextCampaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=8, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone_e164"], name="optout_unique")
        ]

    def __str__(self) -> str:
        return self.phone_e164

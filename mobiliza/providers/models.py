"""Provider accounts (encrypted credentials), sender numbers, raw webhooks, simulator queue."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from mobiliza.core.models import OrganizationScopedModel


def _webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ProviderAccount(OrganizationScopedModel):
    """One organization's account at one provider. Secrets are stored encrypted (crypto.py)."""

    class Kind(models.TextChoices):
        SIMULATOR = "simulator", _("Simulator (no real messages)")
        TWILIO = "twilio", _("Twilio")

    kind = models.CharField(_("provider"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default account"), default=False)
    account_sid = models.CharField(_("account SID"), max_length=64, blank=True)
    auth_token_encrypted = models.TextField(blank=True)
    messaging_service_sid = models.CharField(_("messaging service SID"), max_length=64, blank=True)
    # The secret part of this account's webhook URLs: unguessable, so a URL names its account
    # without revealing anything; the signature is still checked on every request.
    webhook_token = models.CharField(max_length=64, unique=True, default=_webhook_token)
    options: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True),
                name="provideraccount_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SenderNumber(OrganizationScopedModel):
    """A phone number (E.164) an organization sends from, through one provider account."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="numbers")
    e164 = models.CharField(_("number"), max_length=20)
    label = models.CharField(_("label"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["e164"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "e164"], name="sendernumber_unique")
        ]

    def __str__(self) -> str:
        return f"{self.e164} {self.label}".strip()


class WebhookEvent(models.Model):
    """Every webhook request, stored raw before anything else happens, then processed once.

    `dedupe_key` is (account, kind, provider id, status): a provider retrying the same callback
    lands on the same row, so it is recorded once and processed once.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting")
        PROCESSED = "processed", _("Processed")
        UNMATCHED = "unmatched", _("No matching record")
        IGNORED = "ignored", _("Ignored")
        ERROR = "error", _("Error")

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    provider_id = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=200, unique=True)
    payload: models.JSONField[Any, Any] = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    deliveries = models.PositiveIntegerField(default=1)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "outcome", "-received_at"], name="webhook_org_out"
            ),
            models.Index(fields=["provider_id"], name="webhook_provider_id"),
            # The worker's drain: pending events, oldest first (webhook_process_batch).
            models.Index(
                fields=["id"],
                condition=models.Q(outcome="pending"),
                name="webhook_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_id}"


class SimulatedEvent(models.Model):
    """A callback the simulator will deliver later (a status change or an inbound reply)."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=300)
    params: models.JSONField[Any, Any] = models.JSONField(default=dict)
    due_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(delivered_at__isnull=True),
                name="simevent_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.path} @ {self.due_at}"

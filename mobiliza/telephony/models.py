"""Software-placed calls: the organization's voice rate, agents' verified phones, placed calls.

A `PlacedCall` is one click-to-call bridge: the platform rings the agent's own phone (the agent
leg), then dials the person (the person leg) and connects them when a human answers. Both legs'
states only move forward (`*_rank`, see `calling.providers.base.EVENT_RANK`); `stage` is what the
agent's screen shows.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from mobiliza.core.models import OrganizationScopedModel


class VoiceSettings(OrganizationScopedModel):
    """The organization's price of a software-placed call (per started minute, per leg)."""

    rate_per_minute = models.DecimalField(
        _("price per minute"), max_digits=8, decimal_places=4, default=Decimal("0.0200")
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    use_provider_price = models.BooleanField(
        _("use the price the provider reports when it is known"), default=True
    )

    class Meta:
        ordering = ["organization"]
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="voicesettings_one_per_org")
        ]


class AgentPhone(OrganizationScopedModel):
    """The phone the platform rings for an agent, verified by a code sent to it."""

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="agent_phone"
    )
    e164 = models.CharField(_("phone number"), max_length=20)
    code_hash = models.CharField(max_length=128, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Only for simulator accounts (no real phone receives anything): shown on the page.
    simulator_code = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["membership"]

    def __str__(self) -> str:
        return self.e164

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class PlacedCall(OrganizationScopedModel):
    class Stage(models.TextChoices):
        CALLING_AGENT = "calling_agent", _("Calling you")
        DIALING = "dialing", _("Dialing")
        RINGING = "ringing", _("Ringing")
        CONNECTED = "connected", _("Connected")
        ENDED = "ended", _("Ended")

    class PriceSource(models.TextChoices):
        NONE = "", _("Not known yet")
        RATE = "rate", _("Organization rate")
        PROVIDER = "provider", _("Provider")

    operation = models.ForeignKey(
        "calling.CallOperation", on_delete=models.CASCADE, related_name="placed_calls"
    )
    target = models.ForeignKey(
        "calling.CallTarget", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    agent = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    agent_call_id = models.CharField(max_length=64, blank=True)
    person_call_id = models.CharField(max_length=64, blank=True)
    agent_e164 = models.CharField(max_length=20)
    to_e164 = models.CharField(max_length=20)
    machine_detection = models.BooleanField(default=False)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.CALLING_AGENT)
    agent_event = models.CharField(max_length=20, blank=True)
    agent_rank = models.PositiveSmallIntegerField(default=0)
    person_event = models.CharField(max_length=20, blank=True)
    person_rank = models.PositiveSmallIntegerField(default=0)
    answered_by = models.CharField(max_length=24, blank=True)
    failure_reason = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=12, blank=True)
    auto_status = models.CharField(max_length=48, blank=True)
    end_reason = models.CharField(max_length=24, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    agent_duration_seconds = models.PositiveIntegerField(default=0)
    person_duration_seconds = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    price_source = models.CharField(
        max_length=8, choices=PriceSource.choices, default=PriceSource.NONE, blank=True
    )
    result_recorded = models.BooleanField(default=False)
    result_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "agent_call_id"], name="placedcall_agent_leg"),
            models.Index(fields=["account", "person_call_id"], name="placedcall_person_leg"),
            models.Index(fields=["operation", "created_at"], name="placedcall_op_time"),
            models.Index(fields=["agent", "stage"], name="placedcall_agent_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_call_id} → {self.to_e164}"

    @property
    def is_over(self) -> bool:
        return self.stage == self.Stage.ENDED

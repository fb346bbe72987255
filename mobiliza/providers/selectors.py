"""Reads about provider accounts and webhooks. Always scoped to one organization."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from mobiliza.providers.models import ProviderAccount, SenderNumber, WebhookEvent

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization


def provider_accounts(*, organization: Organization) -> QuerySet[ProviderAccount]:
    return ProviderAccount.objects.filter(organization=organization).prefetch_related("numbers")


def provider_account_get(*, organization: Organization, public_id: object) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, organization=organization, public_id=public_id)


def sender_number_get(*, organization: Organization, public_id: object) -> SenderNumber:
    return get_object_or_404(
        SenderNumber.objects.select_related("account"),
        organization=organization,
        public_id=public_id,
    )


def sender_numbers(
    *, organization: Organization, active_only: bool = True
) -> QuerySet[SenderNumber]:
    qs = SenderNumber.objects.filter(organization=organization).select_related("account")
    return qs.filter(is_active=True) if active_only else qs


def webhook_problems(*, organization: Organization, limit: int = 50) -> list[WebhookEvent]:
    """Webhooks that matched nothing or failed: kept for an admin to look at."""
    return list(
        WebhookEvent.objects.filter(
            organization=organization,
            outcome__in=[WebhookEvent.Outcome.UNMATCHED, WebhookEvent.Outcome.ERROR],
        ).order_by("-received_at")[:limit]
    )

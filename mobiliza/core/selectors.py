"""Reads of the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from mobiliza.core.models import AuditEvent

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization


def audit_events(
    *,
    organization: Organization,
    action: str = "",
    object_type: str = "",
    actor_email: str = "",
    object_id: str = "",
    before_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """Newest first, keyset-paginated by id (`before_id`)."""
    qs = AuditEvent.objects.filter(organization=organization).select_related("actor")
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if actor_email:
        qs = qs.filter(actor__email__iexact=actor_email)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if before_id:
        qs = qs.filter(id__lt=before_id)
    return qs.order_by("-id")

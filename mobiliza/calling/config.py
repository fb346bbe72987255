"""A per-process cache of an operation's rules, for the hot claim / result path.

Keyed by (operation public id, operation.updated_at): every service that changes a rule touches the
operation's `updated_at`, and each request reads the operation fresh from the database, so a
worker never serves rules older than the row it just read. Statuses are cached per organization
by key; they are only ever added, and an unknown key falls back to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallStatus,
    FieldRule,
    RecyclingRule,
)

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization

MAX_ENTRIES = 512


@dataclass(frozen=True)
class OperationConfig:
    blocking_rules: list[BlockingRule]
    field_rules: list[FieldRule]
    recycling: dict[int, RecyclingRule]


_CONFIGS: dict[tuple[str, str], OperationConfig] = {}
_STATUSES: dict[tuple[str, str], CallStatus] = {}


def operation_config(operation: CallOperation) -> OperationConfig:
    key = (
        str(operation.public_id),
        operation.updated_at.isoformat() if operation.updated_at else "",
    )
    found = _CONFIGS.get(key)
    if found is None:
        found = OperationConfig(
            blocking_rules=list(operation.blocking_rules.select_related("removal_status")),
            field_rules=list(FieldRule.objects.filter(operation=operation)),
            recycling={r.status_id: r for r in RecyclingRule.objects.filter(operation=operation)},
        )
        if len(_CONFIGS) >= MAX_ENTRIES:
            _CONFIGS.clear()
        _CONFIGS[key] = found
    return found


def status_by_key(*, organization: Organization, key: str) -> CallStatus | None:
    # Keyed by the organization's public UUID: integer ids can be reused (SQLite test rollbacks).
    cache_key = (str(organization.public_id), key)
    found = _STATUSES.get(cache_key)
    if found is None:
        found = CallStatus.objects.filter(organization=organization, key=key).first()
        if found is not None:
            if len(_STATUSES) >= MAX_ENTRIES * 8:
                _STATUSES.clear()
            _STATUSES[cache_key] = found
    return found


def operation_touch(operation: CallOperation) -> None:
    """Mark the operation's rules as changed (call inside the service's transaction)."""
    from django.utils import timezone

    now = timezone.now()
    CallOperation.objects.filter(pk=operation.pk).update(updated_at=now)
    operation.updated_at = now

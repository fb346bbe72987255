"""A per-process cache of an operation's rules, for the hot claim / result path.

Keyed by (operation public id, operation.updated_at): every service that changes a rule touches the
operation's `updated_at`, and each request reads the operation fresh from the database, so a
worker never serves rules older than the row it just read. Statuses are cached per organization
by key; they are only ever added, and an unknown key falls back to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallStatus,
    FieldRule,
    RecyclingRule,
)
from mobiliza.core.sql import model_columns as model_columns
from mobiliza.core.sql import model_from_row as model_from_row
from mobiliza.core.sql import prepared_fetchone

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


def _cached_status(
    cache: dict[Any, CallStatus], cache_key: Any, **lookup: Any
) -> CallStatus | None:
    found = cache.get(cache_key)
    if found is None:
        found = CallStatus.objects.filter(**lookup).first()
        if found is not None:
            if len(cache) >= MAX_ENTRIES * 8:
                cache.clear()
            cache[cache_key] = found
    return found


def status_by_key(*, organization: Organization, key: str) -> CallStatus | None:
    # Keyed by the organization's public UUID: integer ids can be reused (SQLite test rollbacks).
    return _cached_status(
        _STATUSES, (str(organization.public_id), key), organization=organization, key=key
    )


_STATUSES_BY_ID: dict[tuple[str, int], CallStatus] = {}


def status_by_id(*, organization: Organization, pk: int) -> CallStatus | None:
    """A status of the organization by id (the last status shown on a target's card)."""
    return _cached_status(
        _STATUSES_BY_ID, (str(organization.public_id), pk), organization=organization, pk=pk
    )


def operation_touch(operation: CallOperation) -> None:
    """Mark the operation's rules as changed (call inside the service's transaction)."""
    from django.utils import timezone

    now = timezone.now()
    CallOperation.objects.filter(pk=operation.pk).update(updated_at=now)
    operation.updated_at = now


# --- rows read by hand-written SQL on the hot paths (claim, result) ----------------------------
# The agent flow runs a few fixed statements thousands of times a minute: it reads rows with SQL
# written once (`core.sql.model_columns` / `model_from_row`) and writes with the two helpers below.


_INSERTS: dict[tuple[type[Model], str], tuple[str, list[Any]]] = {}
_UPDATES: dict[tuple[type[Model], tuple[str, ...]], tuple[str, list[Any]]] = {}


def model_insert_sql(instance: Model, *, conflict: str = "") -> tuple[str, list[Any]]:
    """`INSERT … RETURNING id` of every concrete non-key field of `instance` (values adapted by
    the fields), with an optional `ON CONFLICT …` clause."""
    key = (type(instance), conflict)
    found = _INSERTS.get(key)
    if found is None:
        meta = instance._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        cols = ", ".join(f'"{f.column}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f'INSERT INTO "{meta.db_table}" ({cols}) VALUES ({marks}) {conflict} RETURNING "id"'  # noqa: S608 - names from models
        found = _INSERTS[key] = (sql, fields)
    sql, fields = found
    conn = connections[DEFAULT_DB_ALIAS]
    return sql, [f.get_db_prep_save(getattr(instance, f.attname), conn) for f in fields]


def model_update_sql(instance: Model, field_names: list[str]) -> tuple[str, list[Any]]:
    """`UPDATE … SET … WHERE id = %s` of the given fields of `instance` (values adapted)."""
    key = (type(instance), tuple(field_names))
    found = _UPDATES.get(key)
    if found is None:
        meta = instance._meta
        fields: list[Any] = [meta.get_field(name) for name in field_names]
        sets = ", ".join(f'"{f.column}" = %s' for f in fields)
        sql = f'UPDATE "{meta.db_table}" SET {sets} WHERE "id" = %s'  # noqa: S608 - names from models
        found = _UPDATES[key] = (sql, fields)
    sql, fields = found
    conn = connections[DEFAULT_DB_ALIAS]
    params = [f.get_db_prep_save(getattr(instance, f.attname), conn) for f in fields]
    return sql, [*params, instance.pk]


def hot_fetchone(sql: str, params: Any, *, fetch: bool = True) -> tuple[Any, ...] | None:
    """Run one of the agent flow's fixed statements and return its first row: a prepared
    statement on PostgreSQL (`core.sql.prepared_fetchone`: parsed and planned once per
    connection), Django's cursor elsewhere."""
    return prepared_fetchone(sql, params, fetch=fetch)

"""A per-process cache of an operation's rules, for the hot claim / result path.

Keyed by (operation public id, operation.updated_at): every service that changes a rule touches the
operation's `updated_at`, and each request reads the operation fresh from the database, so a
worker never serves rules older than the row it just read. Statuses are cached per organization
by key; they are only ever added, and an unknown key falls back to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Model

from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallStatus,
    FieldRule,
    RecyclingRule,
)
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
# The ORM spends far more CPU compiling a query than PostgreSQL spends running it; the agent flow
# runs a few fixed statements thousands of times a minute, so it reads rows with SQL written once
# and turns them into model instances here (with the fields' own database converters).
_CONVERTERS: dict[tuple[str, type[Model]], list[Any]] = {}


def model_columns(model: type[Model], alias: str) -> str:
    """`alias."col", …` for every concrete field of `model`, in `model_from_row` order."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def model_from_row(model: type[Model], values: tuple[Any, ...] | list[Any]) -> Any:
    """An instance of `model` from values in `model_columns` order, as the ORM would load it
    (the backend's and the fields' own converters applied)."""
    key = (connection.vendor, model)
    converters = _CONVERTERS.get(key)
    if converters is None:
        from django.db.models.expressions import Col

        converters = []
        for f in model._meta.concrete_fields:
            col = Col(model._meta.db_table, f)
            funcs = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
            converters.append((funcs, col))
        _CONVERTERS[key] = converters
    row = list(values)
    for i, (funcs, col) in enumerate(converters):
        for func in funcs:
            row[i] = func(row[i], col, connection)
    names = [f.attname for f in model._meta.concrete_fields]
    return model.from_db(connection.alias, names, row)


def model_insert_sql(instance: Model, *, conflict: str = "") -> tuple[str, list[Any]]:
    """`INSERT … RETURNING id` of every concrete non-key field of `instance` (values adapted by
    the fields), with an optional `ON CONFLICT …` clause."""
    meta = instance._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    cols = ", ".join(f'"{f.column}"' for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f'INSERT INTO "{meta.db_table}" ({cols}) VALUES ({marks}) {conflict} RETURNING "id"'  # noqa: S608 - names from models
    params = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    return sql, params


def model_update_sql(instance: Model, field_names: list[str]) -> tuple[str, list[Any]]:
    """`UPDATE … SET … WHERE id = %s` of the given fields of `instance` (values adapted)."""
    meta = instance._meta
    fields = [meta.get_field(name) for name in field_names]
    sets = ", ".join(f'"{f.column}" = %s' for f in fields)  # type: ignore[union-attr]
    sql = f'UPDATE "{meta.db_table}" SET {sets} WHERE "id" = %s'  # noqa: S608 - names from models
    params = [
        f.get_db_prep_save(getattr(instance, f.attname), connection)  # type: ignore[union-attr]
        for f in fields
    ]
    return sql, [*params, instance.pk]


def hot_fetchone(sql: str, params: Any, *, fetch: bool = True) -> tuple[Any, ...] | None:
    """Run one of the agent flow's fixed statements and return its first row: a prepared
    statement on PostgreSQL (`core.sql.prepared_fetchone`: parsed and planned once per
    connection), Django's cursor elsewhere."""
    return prepared_fetchone(sql, params, fetch=fetch)

"""Reads for call operations. Every function takes the organization (or an object already
fetched within it); access rules (owner / agent / admin) live here too."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour
from django.http import Http404
from django.utils import timezone

from mobiliza.calling.config import hot_fetchone, model_columns, model_from_row
from mobiliza.calling.dispenser import operation_window
from mobiliza.calling.models import (
    CallAttempt,
    CallOperation,
    CallStatus,
    CallTarget,
    OperationUser,
)
from mobiliza.calling.window import zones_inside
from mobiliza.core.permissions import Perm, has_perm

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization

S = CallTarget.State
ACTIVE_MINUTES = 10


def can_manage_all(membership: Membership) -> bool:
    return has_perm(membership, Perm.OPERATIONS_MANAGE_ALL)


def operation_list(
    *, organization: Organization, membership: Membership
) -> QuerySet[CallOperation]:
    """The operations this member sees: all for admins, else those they own or call for."""
    qs = CallOperation.objects.filter(organization=organization)
    if not can_manage_all(membership):
        qs = qs.filter(
            Exists(OperationUser.objects.filter(operation=OuterRef("pk"), membership=membership))
        )
    return qs.annotate(
        my_role=OperationUser.objects.filter(
            operation=OuterRef("pk"), membership=membership
        ).values("role")[:1]
    ).order_by("archived_at", "-created_at", "-id")


def operation_get(
    *, organization: Organization, membership: Membership, public_id: Any, owner: bool = False
) -> CallOperation:
    """One operation the member may see (or edit, with owner=True); 404 otherwise."""
    try:
        operation = CallOperation.objects.select_related("organization").get(
            organization=organization, public_id=public_id
        )
    except (CallOperation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    role = operation_role(operation=operation, membership=membership)
    if role is None or (owner and role != OperationUser.Role.OWNER):
        raise Http404
    return operation


def operation_by_id(*, organization: Organization, public_id: Any) -> CallOperation:
    """The operation without an access check: the caller proves access (the dispenser does)."""
    try:
        return CallOperation.objects.select_related("organization").get(
            organization=organization, public_id=public_id
        )
    except (CallOperation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


_OPERATION_IDS: dict[tuple[int, uuid.UUID], int] = {}


def operation_ref(*, organization: Organization, public_id: Any) -> CallOperation:
    """The operation as a reference (only id, public id and organization loaded; every other field
    deferred), for the claim: the dispenser reads its row in its first statement. The id of a public id never changes, so
    the mapping is cached per process; 404 when the organization has no such operation."""
    try:
        key = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except (ValueError, TypeError, AttributeError):
        raise Http404 from None
    pk = _OPERATION_IDS.get((organization.pk, key))
    if pk is None:
        pk = (
            CallOperation.objects.filter(organization=organization, public_id=key)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise Http404
        if len(_OPERATION_IDS) > 4096:
            _OPERATION_IDS.clear()
        _OPERATION_IDS[(organization.pk, key)] = pk
    operation: CallOperation = CallOperation.from_db(
        None, ["id", "public_id", "organization_id"], [pk, key, organization.pk]
    )
    operation.organization = organization
    return operation


def operation_role(*, operation: CallOperation, membership: Membership) -> str | None:
    """ "owner", "agent" or None. Admins (manage all) count as owners of every operation."""
    if membership.organization_id != operation.organization_id:
        return None
    if can_manage_all(membership):
        return OperationUser.Role.OWNER
    role = (
        OperationUser.objects.filter(operation=operation, membership=membership)
        .values_list("role", flat=True)
        .first()
    )
    return role


def target_get(*, organization: Organization, public_id: Any) -> CallTarget:
    """One target of the organization, with its operation (and the organization) loaded."""
    if connection.vendor == "postgresql":
        return _target_get_sql(organization=organization, public_id=public_id)
    try:
        return CallTarget.objects.select_related("operation", "operation__organization").get(
            organization=organization, public_id=public_id
        )
    except (CallTarget.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


_TARGET_SQL = ""


def _target_get_sql(*, organization: Organization, public_id: Any) -> CallTarget:
    """`target_get` in one hand-written statement (the result endpoint's first read)."""
    global _TARGET_SQL
    if not _TARGET_SQL:
        _TARGET_SQL = (
            f"SELECT {model_columns(CallTarget, 't')}, {model_columns(CallOperation, 'o')} "  # noqa: S608 - names from models
            "FROM calling_calltarget t JOIN calling_calloperation o ON o.id = t.operation_id "
            "WHERE t.organization_id = %s AND t.public_id = %s AND o.organization_id = %s"
        )
    try:
        key = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except (ValueError, TypeError, AttributeError):
        raise Http404 from None
    row = hot_fetchone(_TARGET_SQL, [organization.id, key, organization.id])
    if row is None:
        raise Http404
    n = len(CallTarget._meta.concrete_fields)
    target: CallTarget = model_from_row(CallTarget, row[:n])
    operation: CallOperation = model_from_row(CallOperation, row[n:])
    operation.organization = organization
    target.operation = operation
    target.organization = organization
    return target


def agent_statuses(*, organization: Organization) -> list[CallStatus]:
    return list(
        CallStatus.objects.filter(organization=organization, group=CallStatus.Group.AGENT).order_by(
            "position", "key"
        )
    )


@dataclass
class OperationRow:
    operation: CallOperation
    total: int
    done: int
    removed: int
    ready_now: int
    waiting: int
    calls_today: int
    agents_active: int
    my_role: str | None

    @property
    def percent_done(self) -> int:
        finished = self.done + self.removed
        return round(100 * finished / self.total) if self.total else 0


def dashboard_rows(
    *, organization: Organization, membership: Membership, now: dt.datetime | None = None
) -> list[OperationRow]:
    """The dashboard: every visible operation with its progress, in a fixed number of queries."""
    now = now or timezone.now()
    operations = list(operation_list(organization=organization, membership=membership)[:200])
    if not operations:
        return []
    ids = [op.id for op in operations]
    inside = Q(pk__in=[])
    for op in operations:
        zones = zones_inside(operation_window(op), op.time_zones or [], now)
        if zones:
            inside |= Q(operation_id=op.id, time_zone__in=zones)
    ready = Q(state=S.READY)
    free = ready & (Q(held_by__isnull=True) | Q(lease_expires_at__lte=now))
    progress = {
        row["operation_id"]: row
        for row in CallTarget.objects.filter(operation_id__in=ids)
        .values("operation_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(state=S.DONE)),
            removed=Count("id", filter=Q(state=S.REMOVED)),
            ready_now=Count(
                "id",
                filter=free
                & Q(available_at__lte=now)
                & inside
                & (Q(callback_for__isnull=True) | Q(callback_open_at__lte=now)),
            ),
        )
        .order_by()
    }
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    calls = dict(
        CallAttempt.objects.filter(operation_id__in=ids, created_at__gte=start_of_day)
        .values_list("operation_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    active = dict(
        OperationUser.objects.filter(
            operation_id__in=ids, last_seen_at__gte=now - dt.timedelta(minutes=ACTIVE_MINUTES)
        )
        .values_list("operation_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = []
    for op in operations:
        p: dict[str, Any] = dict(progress.get(op.id, {}))
        total = p.get("total", 0)
        done = p.get("done", 0)
        removed = p.get("removed", 0)
        ready_now = p.get("ready_now", 0)
        rows.append(
            OperationRow(
                operation=op,
                total=total,
                done=done,
                removed=removed,
                ready_now=ready_now,
                waiting=max(0, total - done - removed - ready_now),
                calls_today=calls.get(op.id, 0),
                agents_active=active.get(op.id, 0),
                my_role=getattr(op, "my_role", None),
            )
        )
    return rows


def operation_stats(*, operation: CallOperation) -> dict[str, Any]:
    """Results: calls, people reached, per status, per agent, per hour, key-question answers."""
    attempts = CallAttempt.objects.filter(operation=operation)
    totals = attempts.aggregate(
        calls=Count("id"),
        reached_people=Count("person_id", filter=Q(is_reached=True), distinct=True),
    )
    per_status = list(
        attempts.values("status__key", "status__labels").annotate(n=Count("id")).order_by("-n")
    )
    statuses = {
        s.key: s.label for s in CallStatus.objects.filter(organization_id=operation.organization_id)
    }
    per_agent = list(
        attempts.values("agent__user__full_name", "agent__user__email")
        .annotate(
            n=Count("id"),
            reached=Count("id", filter=Q(is_reached=True)),
        )
        .order_by("-n")[:100]
    )
    tz = timezone.get_current_timezone()
    per_hour_rows = dict(
        attempts.annotate(h=ExtractHour("created_at", tzinfo=tz))
        .values_list("h")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_hour = [{"hour": h, "n": per_hour_rows.get(h, 0)} for h in range(24)]
    key_answers: list[dict[str, Any]] = []
    key_question = getattr(operation, "key_question", None)
    if key_question is not None:
        from mobiliza.surveys.models import Answer

        key_answers = [
            {"answer": row["value_text"], "n": row["n"]}
            for row in Answer.objects.filter(
                organization_id=operation.organization_id,
                question=key_question,
                source_type="call_attempt",
                person_id__in=CallTarget.objects.filter(operation=operation).values("person_id"),
                is_latest=True,
            )
            .values("value_text")
            .annotate(n=Count("id"))
            .order_by("-n")[:30]
        ]
    return {
        "calls": totals["calls"],
        "reached_people": totals["reached_people"],
        "per_status": [
            {
                "status": r["status__key"],
                "label": statuses.get(r["status__key"], r["status__key"]),
                "n": r["n"],
            }
            for r in per_status
        ],
        "per_agent": [
            {
                "agent": r["agent__user__full_name"] or r["agent__user__email"] or "—",
                "n": r["n"],
                "reached": r["reached"],
            }
            for r in per_agent
        ],
        "per_hour": per_hour,
        "key_question": str(key_question) if key_question is not None else "",
        "key_answers": key_answers,
    }


def removed_targets(*, operation: CallOperation) -> QuerySet[CallTarget]:
    return (
        CallTarget.objects.filter(operation=operation, state=S.REMOVED)
        .select_related("person", "removed_status")
        .order_by("-updated_at", "-id")
    )


def operation_users(*, operation: CallOperation) -> QuerySet[OperationUser]:
    return operation.users.select_related("membership__user").order_by("role", "id")

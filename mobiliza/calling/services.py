"""Writes for call operations: the wizard's steps, users and share links, statuses, and the
idempotent recording of a call result. Each function runs in one transaction."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.calling import fieldrules
from mobiliza.calling.config import (
    hot_fetchone,
    model_columns,
    model_from_row,
    model_insert_sql,
    model_update_sql,
    operation_config,
    operation_touch,
    status_by_key,
)
from mobiliza.calling.dispenser import list_build
from mobiliza.calling.models import (
    BlockingRule,
    CallAttempt,
    CallOperation,
    CallStatus,
    CallTarget,
    FieldRule,
    OperationUser,
    RecyclingRule,
)
from mobiliza.calling.statuses import BUILTIN_BY_KEY, statuses_ensure
from mobiliza.core.audit import audit_record
from mobiliza.core.models import AuditEvent
from mobiliza.people.models import Person

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization, User

S = CallTarget.State
P = CallTarget.Priority
MAX_NOTES = 5000


def _token() -> str:
    return secrets.token_urlsafe(24)


# --- operations ---------------------------------------------------------------------------------
@transaction.atomic
def operation_create(*, organization: Organization, creator: Membership) -> CallOperation:
    """A new draft with sensible defaults; the creator is its first owner."""
    statuses_ensure(organization=organization)
    today = timezone.localdate()
    operation = CallOperation.objects.create(
        organization=organization,
        starts_on=today,
        ends_at=timezone.make_aware(
            dt.datetime.combine(today + dt.timedelta(days=30), dt.time(23, 59))
        ),
        share_token=_token(),
        created_by=creator.user,
    )
    OperationUser.objects.create(
        organization=organization,
        operation=operation,
        membership=creator,
        role=OperationUser.Role.OWNER,
    )
    recycling_defaults(operation=operation)
    fieldrules.field_rules_default(operation=operation)
    audit_record(
        organization=organization,
        actor=creator.user,
        action=AuditEvent.Action.CREATE,
        target=operation,
    )
    return operation


def recycling_defaults(*, operation: CallOperation) -> None:
    rows = []
    for status in CallStatus.objects.filter(organization_id=operation.organization_id).exclude(
        group=CallStatus.Group.REMOVAL
    ):
        builtin = BUILTIN_BY_KEY.get(status.key)
        recycle = builtin.recycle if builtin else None
        rows.append(
            RecyclingRule(
                operation=operation,
                status=status,
                enabled=recycle is not None,
                max_further_calls=recycle[0] if recycle else 0,
                interval_minutes=recycle[1] if recycle else 60,
            )
        )
    RecyclingRule.objects.bulk_create(rows, ignore_conflicts=True)
    operation_touch(operation)


@transaction.atomic
def operation_update(
    *, operation: CallOperation, actor: User, step: int | None = None, **values: Any
) -> CallOperation:
    """Save wizard fields (already validated by the step's form) and the furthest step reached."""
    changed = []
    for name, value in values.items():
        if getattr(operation, name) != value:
            setattr(operation, name, value)
            changed.append(name)
    if step is not None and step > operation.wizard_step:
        operation.wizard_step = step
        changed.append("wizard_step")
    if changed:
        operation.save(update_fields=[*changed, "updated_at"])
    return operation


@transaction.atomic
def operation_finish(*, operation: CallOperation, actor: User) -> dict[str, Any]:
    """Finish the wizard: build the list and leave draft."""
    problems = operation_problems(operation=operation)
    if problems:
        raise ValidationError(problems)
    report = list_build(operation=operation)
    was_draft = operation.is_draft
    operation.is_draft = False
    operation.wizard_step = max(operation.wizard_step, 11)
    operation.save(update_fields=["is_draft", "wizard_step", "updated_at"])
    audit_record(
        organization=operation.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=operation,
        meta={"finished": was_draft, "report": report},
    )
    return report


def operation_problems(*, operation: CallOperation) -> list[str]:
    problems = []
    if not operation.name:
        problems.append(_("Give the operation a name (step 3)."))
    if not operation.starts_on or not operation.ends_at:
        problems.append(_("Set the start and end dates (step 3)."))
    if operation.window_start >= operation.window_end:
        problems.append(_("The calling window must end after it starts (step 3)."))
    if not operation.days_of_week:
        problems.append(_("Choose at least one day of the week (step 3)."))
    return problems


@transaction.atomic
def operation_set_paused(*, operation: CallOperation, paused: bool, actor: User) -> CallOperation:
    if operation.paused != paused:
        operation.paused = paused
        operation.save(update_fields=["paused", "updated_at"])
        audit_record(
            organization=operation.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=operation,
            changes={"paused": {"old": not paused, "new": paused}},
        )
    return operation


@transaction.atomic
def operation_archive(*, operation: CallOperation, actor: User) -> CallOperation:
    if operation.archived_at is None:
        operation.archived_at = timezone.now()
        operation.save(update_fields=["archived_at", "updated_at"])
        CallTarget.objects.filter(operation=operation, held_by__isnull=False).update(
            held_by=None, lease_expires_at=None
        )
        audit_record(
            organization=operation.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=operation,
            changes={"archived": {"old": False, "new": True}},
        )
    return operation


@transaction.atomic
def operation_duplicate(*, operation: CallOperation, creator: Membership) -> CallOperation:
    """A new draft with the same settings, rules and owners; no targets, no results."""
    copy = CallOperation.objects.get(pk=operation.pk)
    copy.pk = None
    copy.id = None
    copy.public_id = __import__("uuid").uuid4()
    copy.name = (_("Copy of %(name)s") % {"name": operation.name})[:150]
    copy.is_draft = True
    copy.paused = False
    copy.archived_at = None
    copy.built_at = None
    copy.build_report = {}
    copy.time_zones = []
    copy.share_token = _token()
    copy.created_by = creator.user
    copy.wizard_step = 1
    copy.save()
    RecyclingRule.objects.bulk_create(
        [
            RecyclingRule(
                operation=copy,
                status_id=r.status_id,
                enabled=r.enabled,
                max_further_calls=r.max_further_calls,
                interval_minutes=r.interval_minutes,
            )
            for r in operation.recycling_rules.all()
        ]
    )
    BlockingRule.objects.bulk_create(
        [
            BlockingRule(
                operation=copy,
                kind=r.kind,
                params=r.params,
                removal_status_id=r.removal_status_id,
                reason=r.reason,
                apply_to_household=r.apply_to_household,
                position=r.position,
            )
            for r in operation.blocking_rules.all()
        ]
    )
    FieldRule.objects.bulk_create(
        [
            FieldRule(
                operation=copy,
                field_key=r.field_key,
                visibility=r.visibility,
                highlight=r.highlight,
                position=r.position,
            )
            for r in operation.field_rules.all()
        ]
    )
    owners = {u.membership_id for u in operation.users.filter(role=OperationUser.Role.OWNER)} | {
        creator.id
    }
    OperationUser.objects.bulk_create(
        [
            OperationUser(
                organization=operation.organization,
                operation=copy,
                membership_id=m,
                role=OperationUser.Role.OWNER,
            )
            for m in owners
        ]
    )
    audit_record(
        organization=operation.organization,
        actor=creator.user,
        action=AuditEvent.Action.CREATE,
        target=copy,
        meta={"duplicate_of": str(operation.public_id)},
    )
    return copy


# --- rules ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecyclingInput:
    status_id: int
    enabled: bool
    max_further_calls: int
    interval_minutes: int


@transaction.atomic
def recycling_save(*, operation: CallOperation, rows: list[RecyclingInput]) -> None:
    for row in rows:
        if not 0 <= row.max_further_calls <= 20:
            raise ValidationError(_("The number of further calls goes from 0 to 20."))
        if not 1 <= row.interval_minutes <= 60 * 24 * 30:
            raise ValidationError(_("The interval goes from 1 minute to 30 days."))
        RecyclingRule.objects.update_or_create(
            operation=operation,
            status_id=row.status_id,
            defaults={
                "enabled": row.enabled,
                "max_further_calls": row.max_further_calls,
                "interval_minutes": row.interval_minutes,
            },
        )
    operation_touch(operation)


@dataclass(frozen=True)
class BlockingInput:
    kind: str
    params: dict[str, Any]
    removal_status: CallStatus
    reason: str
    apply_to_household: bool


@transaction.atomic
def blocking_save(*, operation: CallOperation, rules: list[BlockingInput]) -> None:
    operation.blocking_rules.all().delete()
    BlockingRule.objects.bulk_create(
        [
            BlockingRule(
                operation=operation,
                kind=r.kind,
                params=r.params,
                removal_status=r.removal_status,
                reason=r.reason[:200],
                apply_to_household=r.apply_to_household,
                position=i,
            )
            for i, r in enumerate(rules)
        ]
    )
    operation_touch(operation)
    if not operation.is_draft:
        from mobiliza.calling.dispenser import blocking_apply

        blocking_apply(operation=operation)


@dataclass(frozen=True)
class FieldRuleInput:
    field_key: str
    visibility: str
    highlight: bool


@transaction.atomic
def field_rules_save(*, operation: CallOperation, rows: list[FieldRuleInput]) -> None:
    """Replace the rules; refuses an editable rule on a field agents may never edit."""
    table = {r.field.key: r for r in fieldrules.field_rules_table(operation=operation)}
    errors = []
    for row in rows:
        known = table.get(row.field_key)
        if known is None:
            errors.append(_("Unknown field “%(key)s”.") % {"key": row.field_key})
        elif row.visibility not in FieldRule.Visibility.values:
            errors.append(_("Unknown visibility for %(field)s.") % {"field": known.field.label})
        elif row.visibility == FieldRule.Visibility.EDITABLE and not known.can_edit:
            errors.append(_("Agents can never edit “%(field)s”.") % {"field": known.field.label})
    if errors:
        raise ValidationError(errors)
    operation.field_rules.all().delete()
    FieldRule.objects.bulk_create(
        [
            FieldRule(
                operation=operation,
                field_key=row.field_key,
                visibility=row.visibility,
                highlight=row.highlight,
                position=i,
            )
            for i, row in enumerate(rows)
        ]
    )
    operation_touch(operation)


# --- users and share links --------------------------------------------------------------------
@transaction.atomic
def operation_user_add(
    *, operation: CallOperation, membership: Membership, role: str, actor: User | None
) -> OperationUser:
    """Add a member as owner or agent; an existing owner stays owner."""
    if membership.organization_id != operation.organization_id:
        raise ValidationError(_("This person is not a member of the organization."))
    if role not in OperationUser.Role.values:
        raise ValidationError(_("Unknown role."))
    user, created = OperationUser.objects.get_or_create(
        operation=operation,
        membership=membership,
        defaults={"role": role, "organization_id": operation.organization_id},
    )
    if not created and role == OperationUser.Role.OWNER and user.role != role:
        user.role = role
        user.save(update_fields=["role", "updated_at"])
    if created:
        audit_record(
            organization=operation.organization,
            actor=actor,
            action=AuditEvent.Action.JOIN,
            target=operation,
            meta={"member": str(membership.public_id), "role": role},
        )
    return user


@transaction.atomic
def operation_user_remove(*, operation_user: OperationUser, actor: User) -> None:
    operation = operation_user.operation
    owners = operation.users.filter(role=OperationUser.Role.OWNER)
    if operation_user.role == OperationUser.Role.OWNER and owners.count() <= 1:
        raise ValidationError(_("An operation needs at least one owner."))
    CallTarget.objects.filter(operation=operation, held_by=operation_user.membership).update(
        held_by=None, lease_expires_at=None, available_at=timezone.now()
    )
    operation_user.delete()


@transaction.atomic
def share_link_update(
    *,
    operation: CallOperation,
    actor: User,
    role: str | None = None,
    enabled: bool | None = None,
    qr: bool | None = None,
    regenerate: bool = False,
) -> CallOperation:
    if role is not None:
        if role not in CallOperation.LinkRole.values:
            raise ValidationError(_("Unknown role."))
        operation.share_role = role
    if enabled is not None:
        operation.share_enabled = enabled
    if qr is not None:
        operation.share_qr = qr
    if regenerate:
        operation.share_token = _token()
    operation.save(
        update_fields=["share_role", "share_enabled", "share_qr", "share_token", "updated_at"]
    )
    audit_record(
        organization=operation.organization,
        actor=actor,
        action=AuditEvent.Action.SETTINGS,
        target=operation,
        meta={
            "share_role": operation.share_role,
            "share_enabled": operation.share_enabled,
            "share_qr": operation.share_qr,
            "regenerated": regenerate,
        },
    )
    return operation


def share_link_operation(*, token: str) -> CallOperation | None:
    """The operation of an enabled share link, or None (unknown, disabled or archived)."""
    if not token or len(token) > 64:
        return None
    operation = (
        CallOperation.objects.select_related("organization")
        .filter(share_token=token, share_enabled=True, archived_at__isnull=True)
        .first()
    )
    if operation is None or not secrets.compare_digest(operation.share_token, token):
        return None
    return operation


@transaction.atomic
def share_link_join(*, operation: CallOperation, user: User) -> OperationUser:
    """The visitor joins the organization (as a volunteer when new) and the operation."""
    from mobiliza.accounts.services import membership_add
    from mobiliza.core.permissions import Role

    membership = membership_add(
        organization=operation.organization, user=user, role=Role.VOLUNTEER, actor=user
    )
    return operation_user_add(
        operation=operation, membership=membership, role=operation.share_role, actor=user
    )


# --- statuses ------------------------------------------------------------------------------
@transaction.atomic
def status_create(
    *,
    organization: Organization,
    actor: User,
    key: str,
    labels: dict[str, str],
    group: str = CallStatus.Group.AGENT,
    is_final: bool = False,
    is_reached: bool = False,
    is_do_not_call: bool = False,
    removes_target: bool = False,
) -> CallStatus:
    from django.utils.text import slugify

    key = slugify(key)[:48]
    labels = {k: str(v).strip()[:80] for k, v in labels.items() if str(v).strip()}
    if not key or not labels:
        raise ValidationError(_("A status needs a key and at least one label."))
    if group not in CallStatus.Group.values:
        raise ValidationError(_("Unknown status group."))
    if CallStatus.objects.filter(organization=organization, key=key).exists():
        raise ValidationError(_("A status with this key already exists."))
    status = CallStatus.objects.create(
        organization=organization,
        key=key,
        labels=labels,
        group=group,
        is_final=is_final,
        is_reached=is_reached,
        is_system_only=group != CallStatus.Group.AGENT,
        is_do_not_call=is_do_not_call,
        removes_target=removes_target,
        position=200,
    )
    audit_record(
        organization=organization, actor=actor, action=AuditEvent.Action.CREATE, target=status
    )
    return status


# --- targets --------------------------------------------------------------------------------
@transaction.atomic
def target_restore(*, target: CallTarget, actor: User) -> CallTarget:
    """Put a removed target back in the queue (its removal reason stays in the audit log)."""
    if target.state != S.REMOVED:
        raise ValidationError(_("Only a removed person can be restored."))
    old_reason = target.removed_reason
    target.state = S.READY
    target.available_at = timezone.now()
    target.removed_status = None
    target.removed_reason = ""
    target.save(
        update_fields=["state", "available_at", "removed_status", "removed_reason", "updated_at"]
    )
    audit_record(
        organization=target.operation.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=target,
        changes={"state": {"old": S.REMOVED, "new": S.READY}},
        meta={"reason": old_reason},
    )
    return target


# --- results ---------------------------------------------------------------------------------
class ResultConflictError(Exception):
    """The target is not (or no longer) held by this agent."""


@dataclass(frozen=True)
class CallbackInput:
    at: dt.datetime
    personal: bool = True


@dataclass
class ResultOutcome:
    attempt: CallAttempt
    replayed: bool


def _validate_result(
    *,
    operation: CallOperation,
    status_key: str,
    notes: str,
    callback: CallbackInput | None,
    idempotency_key: str,
    now: dt.datetime,
    detected_by_provider: bool = False,
) -> CallStatus:
    errors: dict[str, str] = {}
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 64:
        errors["idempotency_key"] = _("A client key of 8 to 64 characters is required.")
    status = status_by_key(organization=operation.organization, key=str(status_key))
    if status is None or status.group == CallStatus.Group.REMOVAL:
        errors["status"] = _("Unknown status “%(status)s”.") % {"status": str(status_key)[:40]}
    elif status.group == CallStatus.Group.AUTO and not detected_by_provider:
        errors["status"] = _("This status is set by the telephony provider, not by agents.")
    if len(notes or "") > MAX_NOTES:
        errors["notes"] = _("Notes are limited to %(n)d characters.") % {"n": MAX_NOTES}
    if callback is not None:
        if callback.at <= now - dt.timedelta(minutes=1):
            errors["callback"] = _("The callback time is in the past.")
        elif operation.ends_at and callback.at >= operation.ends_at:
            errors["callback"] = _("The callback time is after the operation ends.")
    if errors:
        raise ValidationError(errors)
    assert status is not None
    return status


def call_result_record(
    *,
    target: CallTarget,
    agent: Membership,
    status_key: str,
    idempotency_key: str,
    answers: dict[str, Any] | None = None,
    field_edits: dict[str, Any] | None = None,
    notes: str = "",
    callback: CallbackInput | None = None,
    survey_version: int | None = None,
    now: dt.datetime | None = None,
    detected_by_provider: bool = False,
) -> ResultOutcome:
    """Record one call result exactly once per client key, and move the target on.

    `survey_version` is the number of the survey version the agent was shown (the claim payload
    carries it); answers are recorded against that version, so an edit published while the agent
    was on the phone doesn't re-interpret them.

    `detected_by_provider`: the telephony app records an auto-detected status (busy, no answer,
    voicemail...) for a software-placed call; agents can never choose those.

    Raises ValidationError for bad input (nothing is written) and ResultConflictError when the target
    is held by someone else.
    """
    now = now or timezone.now()
    operation = target.operation
    key = (idempotency_key or "").strip()
    status = _validate_result(
        operation=operation,
        status_key=status_key,
        notes=notes,
        callback=callback,
        idempotency_key=key,
        now=now,
        detected_by_provider=detected_by_provider,
    )
    edits: dict[str, Any] = {}
    if field_edits:
        rules = operation_config(operation).field_rules
        edits = fieldrules.validate_field_edits(operation=operation, edits=field_edits, rules=rules)
    try:
        with transaction.atomic():
            locked = _target_for_update(target.pk)
            if locked.held_by_id != agent.id or locked.state != S.READY:
                # Not (or no longer) this agent's: a retry of a recorded result, or a conflict.
                existing = _attempt_by_key(operation, key)
                if existing is not None:
                    return ResultOutcome(attempt=existing, replayed=True)
                raise ResultConflictError
            outcome = _next_state(
                target=locked,
                operation=operation,
                status=status,
                callback=callback,
                agent=agent,
                now=now,
            )
            attempt = CallAttempt(
                public_id=uuid.uuid4(),
                created_at=now,
                updated_at=now,
                organization_id=operation.organization_id,
                operation_id=operation.pk,
                target_id=locked.pk,
                person_id=locked.person_id,
                agent_id=agent.pk,
                status_id=status.pk,
                is_reached=status.is_reached,
                idempotency_key=key,
                notes=(notes or "").strip(),
                answers=answers or {},
                field_edits=edits,
                callback_at=callback.at if callback else None,
                callback_personal=bool(callback and callback.personal),
                outcome=outcome,
            )
            # Idempotency by the unique (operation, key): the same key seen before (this agent
            # holds the target again after a recycle) inserts nothing and replays.
            sql, params = model_insert_sql(
                attempt, conflict='ON CONFLICT ("operation_id", "idempotency_key") DO NOTHING'
            )
            locked.updated_at = now
            person_changes = bool(edits or answers or status.is_do_not_call)
            if connection.vendor == "postgresql" and not person_changes:
                # The common result (no answers, edits or do-not-call): the attempt and the
                # target's next state in one statement, one round trip. The target moves only
                # if the attempt was inserted (a conflicting key replays, below).
                usql, uparams = model_update_sql(locked, RESULT_FIELDS)
                # Both statements are built from model metadata; every value is a parameter.
                both = f"WITH ins AS ({sql}), upd AS ({usql} AND EXISTS (SELECT 1 FROM ins)) SELECT id FROM ins"  # noqa: S608
                row = hot_fetchone(both, [*params, *uparams])
                if row is not None:
                    attempt.pk = row[0]
                    attempt._state.adding = False
                    attempt._state.db = connection.alias
                    attempt.status = status
                    return ResultOutcome(attempt=attempt, replayed=False)
            else:
                row = hot_fetchone(sql, params)
            if row is None:
                existing = _attempt_by_key(operation, key)
                if existing is None:  # pragma: no cover - the conflict row is committed
                    raise ResultConflictError
                return ResultOutcome(attempt=existing, replayed=True)
            attempt.pk = row[0]
            attempt._state.adding = False
            attempt._state.db = connection.alias
            attempt.status = status
            person: Person | None = None
            if person_changes:
                person = Person.objects.get(
                    pk=locked.person_id, organization_id=operation.organization_id
                )
                if edits:
                    _person_apply_edits(
                        person=person, edits=edits, actor=agent.user, operation=operation
                    )
                if answers:
                    _answers_save(
                        operation=operation,
                        person=person,
                        answers=answers,
                        agent=agent,
                        source_id=key,
                        version_number=survey_version,
                    )
                if status.is_do_not_call:
                    _person_do_not_contact(person=person, agent=agent)
            sql, params = model_update_sql(locked, RESULT_FIELDS)
            hot_fetchone(sql, params, fetch=False)
    except IntegrityError:
        # A concurrent submit with the same key won the race: return what it recorded.
        existing = _attempt_by_key(operation, key)
        if existing is None:
            raise
        return ResultOutcome(attempt=existing, replayed=True)
    return ResultOutcome(attempt=attempt, replayed=False)


RESULT_FIELDS = [
    "status_counts",
    "attempts",
    "last_status",
    "last_attempt_at",
    "held_by",
    "lease_expires_at",
    "callback_for",
    "callback_at",
    "callback_open_at",
    "priority",
    "available_at",
    "state",
    "removed_status",
    "removed_reason",
    "updated_at",
]
_LOCK_TARGET_SQL = ""


def _target_for_update(pk: int) -> CallTarget:
    """The target's row, locked until the end of the transaction (SQLite: the IMMEDIATE
    transaction already holds the write lock)."""
    global _LOCK_TARGET_SQL
    if not _LOCK_TARGET_SQL:
        _LOCK_TARGET_SQL = (
            f"SELECT {model_columns(CallTarget, 't')} FROM calling_calltarget t "  # noqa: S608
            "WHERE t.id = %s"
        )
    sql = _LOCK_TARGET_SQL
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    row = hot_fetchone(sql, [pk])
    if row is None:
        raise CallTarget.DoesNotExist
    target: CallTarget = model_from_row(CallTarget, row)
    return target


def _attempt_by_key(operation: CallOperation, key: str) -> CallAttempt | None:
    return (
        CallAttempt.objects.filter(operation=operation, idempotency_key=key)
        .select_related("status")
        .first()
    )


def _person_do_not_contact(*, person: Person, agent: Membership) -> None:
    from mobiliza.people.services import person_set_do_not_contact

    person_set_do_not_contact(person=person, value=True, actor=agent.user)


def _apply_status(
    *,
    target: CallTarget,
    operation: CallOperation,
    status: CallStatus,
    callback: CallbackInput | None,
    agent: Membership,
    now: dt.datetime,
    person: Person | None,
) -> str:
    """Recycling, removal, do-not-call, callback: set the target's next state and save it (and
    the person's do-not-contact flag). Returns the outcome."""
    outcome = _next_state(
        target=target, operation=operation, status=status, callback=callback, agent=agent, now=now
    )
    if status.is_do_not_call:
        _person_do_not_contact(
            person=person or Person.objects.get(pk=target.person_id), agent=agent
        )
    target.save(update_fields=RESULT_FIELDS)
    return outcome


def _next_state(
    *,
    target: CallTarget,
    operation: CallOperation,
    status: CallStatus,
    callback: CallbackInput | None,
    agent: Membership,
    now: dt.datetime,
) -> str:
    """The target's next state after an attempt with `status`, set in memory. Returns the outcome
    (done, recycled, callback, removed)."""
    counts = dict(target.status_counts or {})
    counts[status.key] = int(counts.get(status.key, 0)) + 1
    target.status_counts = counts
    target.attempts += 1
    target.last_status = status
    target.last_attempt_at = now
    target.held_by = None
    target.lease_expires_at = None
    target.callback_for = None
    target.callback_at = None
    target.callback_open_at = None
    outcome = "done"
    if status.is_do_not_call or status.removes_target:
        outcome = "removed"
    elif callback is not None:
        target.priority = P.CALLBACK
        target.available_at = callback.at
        target.callback_at = callback.at
        if callback.personal:
            target.callback_for = agent
            target.callback_open_at = callback.at + dt.timedelta(
                minutes=operation.callback_open_after_minutes
            )
        outcome = "callback"
    else:
        rule = operation_config(operation).recycling.get(status.id)
        if rule is not None and rule.enabled and counts[status.key] <= rule.max_further_calls:
            target.priority = P.RECYCLED
            target.available_at = now + dt.timedelta(minutes=rule.interval_minutes)
            outcome = "recycled"
    if outcome == "removed":
        target.state = S.REMOVED
        target.removed_status = status
        target.removed_reason = status.label[:200]
    elif outcome == "done":
        target.state = S.DONE
    return outcome


def _person_apply_edits(
    *, person: Person, edits: dict[str, Any], actor: User, operation: CallOperation
) -> None:
    """Agents' field edits, through the people service when it exists (always audited)."""
    from mobiliza.people import services as people_services

    person_update = getattr(people_services, "person_update", None)
    columns = {k: v for k, v in edits.items() if not k.startswith("custom.")}
    custom = {k.removeprefix("custom."): v for k, v in edits.items() if k.startswith("custom.")}
    if person_update is not None:
        values: dict[str, Any] = dict(columns)
        if custom:
            values["custom_fields"] = {**(person.custom_fields or {}), **custom}
        person_update(person=person, actor=actor, **values)
        return
    before = {k: getattr(person, k) for k in columns}
    before_custom = {k: (person.custom_fields or {}).get(k) for k in custom}
    for k, v in columns.items():
        setattr(person, k, v)
    if custom:
        person.custom_fields = {**(person.custom_fields or {}), **custom}
    person.save()
    from mobiliza.core.audit import diff_fields

    changes = diff_fields(before, columns)
    changes.update({f"custom.{k}": v for k, v in diff_fields(before_custom, custom).items()})
    audit_record(
        organization=person.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=person,
        changes=changes,
        meta={"via": "call", "operation": str(operation.public_id)},
    )


def _answers_save(
    *,
    operation: CallOperation,
    person: Person,
    answers: dict[str, Any],
    agent: Membership,
    source_id: str,
    version_number: int | None = None,
) -> None:
    """Survey answers through the surveys service, against the version the agent was shown."""
    survey = getattr(operation, "survey", None)
    if survey is None:
        return
    from mobiliza.surveys import services as survey_services
    from mobiliza.surveys.models import SurveyVersion

    version = None
    if version_number is not None:
        version = SurveyVersion.objects.filter(survey=survey, number=version_number).first()
        if version is None:
            raise ValidationError(
                _("Unknown version %(number)s of this survey.") % {"number": version_number}
            )
    survey_services.answers_record(
        organization=operation.organization,
        person=person,
        survey=survey,
        answers=answers,
        channel="call",
        agent=agent.user,
        source_type="call_attempt",
        source_id=source_id,
        version=version,
    )


def list_preview(*, operation: CallOperation) -> dict[str, int]:
    """How many targets the list would give now, after blocking (without building it)."""
    from django.db.models import Exists, OuterRef, Q

    from mobiliza.calling.dispenser import rule_people, segment_people
    from mobiliza.people.models import PersonPhone

    people = segment_people(
        organization=operation.organization, source=operation.source, segment=operation.segment
    )
    with_phone = people.filter(
        Exists(PersonPhone.objects.filter(person=OuterRef("pk"), is_valid=True).exclude(e164=""))
    )
    kept = with_phone.filter(do_not_contact=False)
    for rule in operation.blocking_rules.all():
        ids = rule_people(rule, operation.organization)
        if ids is None:
            continue
        field_name = "id" if rule.kind == BlockingRule.Kind.NO_CONSENT else "person_id"
        blocked = Q(id__in=ids.values(field_name))
        if rule.apply_to_household:
            blocked |= Q(
                household_id__in=Person.objects.filter(
                    organization=operation.organization,
                    id__in=ids.values(field_name),
                    household__isnull=False,
                ).values("household_id")
            )
        kept = kept.exclude(blocked)
    return {"in_list": people.count(), "with_phone": with_phone.count(), "targets": kept.count()}


@transaction.atomic
def person_merge_calling(*, keep: Person, other: Person) -> dict[str, int]:
    """Move `other`'s call targets and attempts to `keep` before people merges them (registered
    with `people.services.register_merge_hook`; `other` is deleted afterwards and its rows would
    cascade away: the attempt log is append-only and must not lose a call).

    A target of an operation `keep` is not in moves to `keep`. Where both are in the same
    operation the targets merge into `keep`'s: every attempt moves to it, counters add up, the
    latest status and attempt time win, and a finished target (done or removed) wins over one
    still waiting in the queue unless that one is in an agent's hands right now."""
    counts = {"calling.calltarget": 0, "calling.calltarget.merged": 0, "calling.callattempt": 0}
    theirs = list(CallTarget.objects.select_for_update().filter(person=other).order_by("id"))
    if theirs:
        mine = {
            t.operation_id: t
            for t in CallTarget.objects.select_for_update().filter(
                person=keep, operation_id__in=[t.operation_id for t in theirs]
            )
        }
        for target in theirs:
            twin = mine.get(target.operation_id)
            if twin is None:
                CallTarget.objects.filter(pk=target.pk).update(person=keep)
                counts["calling.calltarget"] += 1
                continue
            CallAttempt.objects.filter(target=target).update(target=twin)
            _merge_targets(twin, target)
            CallTarget.objects.filter(pk=target.pk).delete()
            counts["calling.calltarget.merged"] += 1
    counts["calling.callattempt"] = CallAttempt.objects.filter(person=other).update(person=keep)
    return {k: v for k, v in counts.items() if v}


def _merge_targets(twin: CallTarget, gone: CallTarget) -> None:
    """Fold `gone`'s counters and outcome into `twin` (same operation, same merged person)."""
    twin.attempts += gone.attempts
    counts = dict(twin.status_counts or {})
    for key, n in (gone.status_counts or {}).items():
        counts[key] = counts.get(key, 0) + n
    twin.status_counts = counts
    if gone.last_attempt_at and (
        twin.last_attempt_at is None or gone.last_attempt_at > twin.last_attempt_at
    ):
        twin.last_attempt_at, twin.last_status_id = gone.last_attempt_at, gone.last_status_id
    fields = ["attempts", "status_counts", "last_attempt_at", "last_status", "updated_at"]
    if twin.state == S.READY and twin.held_by_id is None and gone.state != S.READY:
        twin.state = gone.state
        twin.removed_status_id, twin.removed_reason = gone.removed_status_id, gone.removed_reason
        twin.callback_for_id = twin.callback_at = twin.callback_open_at = None
        fields += ["state", "removed_status", "removed_reason", "callback_for"]
        fields += ["callback_at", "callback_open_at"]
    twin.save(update_fields=fields)

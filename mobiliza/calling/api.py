"""Call operations API: the agent flow (claim, heartbeat, release, result) used by the phone app
and the load test, and the organizer's endpoints (operations, statuses, rules, users, stats)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from mobiliza.calling import dispenser, fieldrules, selectors, services
from mobiliza.calling.agentview import target_payload
from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallStatus,
    CallTarget,
    FieldRule,
    OperationUser,
    RecyclingRule,
)
from mobiliza.core.api import api_membership, api_org, unprocessable
from mobiliza.core.permissions import Perm
from mobiliza.core.types import OrgRequest

router = Router(tags=["calling"])


# --- schemas ------------------------------------------------------------------------------------
class FieldOut(Schema):
    key: str
    label: str
    type: str
    value: Any = None
    editable: bool
    highlight: bool
    choices: list[list[str]] = []


class SurveyOut(Schema):
    version: int
    definition: dict[str, Any]


class TargetOut(Schema):
    id: uuid.UUID
    phone_e164: str
    tel_url: str
    script: str
    fields: list[FieldOut]
    attempts: int
    last_status: str
    is_callback: bool
    lease_expires_at: str | None
    time_zone: str
    survey: SurveyOut | None = None


class ClaimOut(Schema):
    target: TargetOut | None = None
    message: str = ""
    reasons: dict[str, int] = {}
    next_available_at: dt.datetime | None = None


class LeaseOut(Schema):
    id: uuid.UUID
    lease_expires_at: dt.datetime | None


class CallbackIn(Schema):
    at: dt.datetime
    personal: bool = True


class ResultIn(Schema):
    status: str
    idempotency_key: str
    answers: dict[str, Any] = {}
    field_edits: dict[str, Any] = {}
    notes: str = ""
    callback: CallbackIn | None = None
    survey_version: int | None = None


class ResultOut(Schema):
    id: uuid.UUID
    status: str
    outcome: str
    replayed: bool


class OperationOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    state: str
    version: str
    source: str
    call_method: str
    starts_on: dt.date | None
    ends_at: dt.datetime | None
    window_start: dt.time
    window_end: dt.time
    days_of_week: list[int]
    script: str
    paused: bool
    role: str | None = None


class OperationIn(Schema):
    name: str | None = None
    description: str | None = None
    version: CallOperation.Version | None = None
    source: str | None = None
    call_method: CallOperation.Method | None = None
    starts_on: dt.date | None = None
    ends_at: dt.datetime | None = None
    window_start: dt.time | None = None
    window_end: dt.time | None = None
    days_of_week: list[int] | None = None
    script: str | None = None


class StatusOut(Schema):
    key: str
    label: str
    labels: dict[str, str]
    group: str
    is_final: bool
    is_reached: bool
    is_system_only: bool
    is_do_not_call: bool
    removes_target: bool


class StatusIn(Schema):
    key: str
    labels: dict[str, str]
    group: CallStatus.Group = CallStatus.Group.AGENT
    is_final: bool = False
    is_reached: bool = False
    is_do_not_call: bool = False
    removes_target: bool = False


class RecyclingRow(Schema):
    status: str
    enabled: bool
    max_further_calls: int
    interval_minutes: int


class BlockingRow(Schema):
    kind: BlockingRule.Kind
    params: dict[str, Any] = {}
    removal_status: str
    reason: str = ""
    apply_to_household: bool = False


class FieldRuleRow(Schema):
    field_key: str
    visibility: FieldRule.Visibility
    highlight: bool = False


class UserOut(Schema):
    member_id: uuid.UUID
    name: str
    role: str


class UserIn(Schema):
    member_id: uuid.UUID
    role: OperationUser.Role = OperationUser.Role.AGENT


class StatsOut(Schema):
    calls: int
    reached_people: int
    per_status: list[dict[str, Any]]
    per_agent: list[dict[str, Any]]
    per_hour: list[dict[str, Any]]
    key_question: str
    key_answers: list[dict[str, Any]]
    queue: dict[str, int]
    next_available_at: dt.datetime | None


# --- helpers ------------------------------------------------------------------------------------
def _operation(
    request: OrgRequest, calloperation_id: uuid.UUID, owner: bool = False
) -> CallOperation:
    org = api_org(request, Perm.AGENT_WORK)
    return selectors.operation_get(
        organization=org,
        membership=api_membership(request),
        public_id=calloperation_id,
        owner=owner,
    )


def _agent_target(request: OrgRequest, calltarget_id: uuid.UUID) -> CallTarget:
    org = api_org(request, Perm.AGENT_WORK)
    # Heartbeat, release and result act only on a target this member holds (checked by the
    # dispenser in the same statement), which proves they are an agent of its operation.
    return selectors.target_get(organization=org, public_id=calltarget_id)


def _operation_out(op: CallOperation, role: str | None = None) -> OperationOut:
    return OperationOut(
        id=op.public_id,
        name=op.name,
        description=op.description,
        state=op.state,
        version=op.version,
        source=op.source,
        call_method=op.call_method,
        starts_on=op.starts_on,
        ends_at=op.ends_at,
        window_start=op.window_start,
        window_end=op.window_end,
        days_of_week=list(op.days_of_week or []),
        script=op.script,
        paused=op.paused,
        role=role,
    )


def _ensure_agent_row(operation: CallOperation, request: OrgRequest) -> None:
    membership = api_membership(request)
    if selectors.can_manage_all(membership):
        OperationUser.objects.get_or_create(
            operation=operation,
            membership=membership,
            defaults={"role": OperationUser.Role.OWNER, "organization": operation.organization},
        )


# --- agent flow ---------------------------------------------------------------------------------
@router.post(
    "/call-operations/{calloperation_id}/claim",
    response=ClaimOut,
    summary="Take the next person to call (a lease), or learn why there is none",
)
def claim(request: OrgRequest, calloperation_id: uuid.UUID) -> ClaimOut | HttpResponse:
    return claim_run(request, calloperation_id)


def claim_run(request: OrgRequest, calloperation_id: uuid.UUID) -> ClaimOut | HttpResponse:
    """The claim endpoint's work, shared by the ninja operation and the bearer fast path
    (`calling.fastpath`)."""
    org = api_org(request, Perm.AGENT_WORK)
    membership = api_membership(request)
    # The dispenser reads the operation's row in its first statement (and proves access).
    operation = selectors.operation_ref(organization=org, public_id=calloperation_id)
    _ensure_agent_row(operation, request)
    result = dispenser.target_claim(operation=operation, agent=membership)
    if result.message == "not_agent":
        from django.http import Http404

        raise Http404
    if result.target is None:
        return ClaimOut(
            message=result.message,
            reasons=result.reasons,
            next_available_at=result.next_available_at,
        )
    payload = target_payload(target=result.target, operation=operation, agent=membership)
    # The hot path of the agent flow: the payload is built from typed code that matches
    # `TargetOut` (tests compare both), so it is sent as JSON without a second validation pass.
    return _json({"target": payload, "message": "", "reasons": {}, "next_available_at": None})


def _json(data: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")),
        content_type="application/json",
        status=status,
    )


@router.post(
    "/call-targets/{calltarget_id}/heartbeat",
    response=LeaseOut,
    summary="Extend the lease on the person being called",
)
def heartbeat(request: OrgRequest, calltarget_id: uuid.UUID) -> LeaseOut:
    target = _agent_target(request, calltarget_id)
    kept = dispenser.target_heartbeat(target=target, agent=api_membership(request))
    if kept is None:
        raise HttpError(409, _("This person is no longer assigned to you."))
    return LeaseOut(id=target.public_id, lease_expires_at=kept.lease_expires_at)


@router.post(
    "/call-targets/{calltarget_id}/release",
    response=LeaseOut,
    summary="Give the person back without a result (Skip)",
)
def release(request: OrgRequest, calltarget_id: uuid.UUID) -> LeaseOut:
    target = _agent_target(request, calltarget_id)
    if not dispenser.target_release(target=target, agent=api_membership(request)):
        raise HttpError(409, _("This person is no longer assigned to you."))
    return LeaseOut(id=target.public_id, lease_expires_at=None)


@router.post(
    "/call-targets/{calltarget_id}/result",
    response={200: ResultOut, 201: ResultOut},
    summary="Record the call's result (idempotent by idempotency_key)",
)
def result(request: OrgRequest, calltarget_id: uuid.UUID, payload: ResultIn) -> Status:
    return result_run(request, _agent_target(request, calltarget_id), payload)


def result_run(request: OrgRequest, target: CallTarget, payload: ResultIn) -> Status:
    """The result endpoint's work once the target is found (`_agent_target`), shared by the ninja
    operation and the bearer fast path (`calling.fastpath`)."""
    try:
        outcome = services.call_result_record(
            target=target,
            agent=api_membership(request),
            status_key=payload.status,
            idempotency_key=payload.idempotency_key,
            answers=payload.answers,
            field_edits=payload.field_edits,
            notes=payload.notes,
            survey_version=payload.survey_version,
            callback=(
                services.CallbackInput(at=payload.callback.at, personal=payload.callback.personal)
                if payload.callback
                else None
            ),
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    except services.ResultConflictError:
        raise HttpError(409, _("This person is no longer assigned to you.")) from None
    attempt = outcome.attempt
    return Status(
        200 if outcome.replayed else 201,
        ResultOut(
            id=attempt.public_id,
            status=attempt.status.key,
            outcome=attempt.outcome,
            replayed=outcome.replayed,
        ),
    )


@router.post(
    "/call-targets/{calltarget_id}/restore",
    response=LeaseOut,
    summary="Put a removed person back in the queue (owners)",
)
def restore(request: OrgRequest, calltarget_id: uuid.UUID) -> LeaseOut:
    target = _agent_target(request, calltarget_id)
    role = selectors.operation_role(operation=target.operation, membership=api_membership(request))
    if role is None:
        from django.http import Http404

        raise Http404
    if role != OperationUser.Role.OWNER:
        raise HttpError(403, _("Only owners may restore a person."))
    try:
        services.target_restore(target=target, actor=request.user)
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return LeaseOut(id=target.public_id, lease_expires_at=None)


# --- organizer ----------------------------------------------------------------------------------
@router.get("/call-operations", response=list[OperationOut], summary="Call operations I can see")
def operations_list(request: OrgRequest) -> list[OperationOut]:
    org = api_org(request, Perm.AGENT_WORK)
    ops = selectors.operation_list(organization=org, membership=api_membership(request))[:500]
    return [_operation_out(op, getattr(op, "my_role", None)) for op in ops]


@router.post(
    "/call-operations", response={201: OperationOut}, summary="Create a draft call operation"
)
def operation_create(request: OrgRequest, payload: OperationIn) -> Status:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    with transaction.atomic():
        op = services.operation_create(organization=org, creator=api_membership(request))
        _patch(op, payload, request)
    return Status(201, _operation_out(op, OperationUser.Role.OWNER))


def _patch(op: CallOperation, payload: OperationIn, request: OrgRequest) -> None:
    values = payload.dict(exclude_none=True)
    if "days_of_week" in values and not set(values["days_of_week"]) <= set(range(7)):
        raise HttpError(422, _("Days of the week go from 0 (Monday) to 6 (Sunday)."))
    if "source" in values and values["source"] not in ("contacts", "electors"):
        raise HttpError(422, _("The source is contacts or electors."))
    start = values.get("window_start", op.window_start)
    end = values.get("window_end", op.window_end)
    if start >= end:
        raise HttpError(422, _("The calling window must end after it starts."))
    services.operation_update(operation=op, actor=request.user, **values)


@router.get("/call-operations/{calloperation_id}", response=OperationOut, summary="One operation")
def operation_detail(request: OrgRequest, calloperation_id: uuid.UUID) -> OperationOut:
    op = _operation(request, calloperation_id)
    return _operation_out(
        op, selectors.operation_role(operation=op, membership=api_membership(request))
    )


@router.patch(
    "/call-operations/{calloperation_id}", response=OperationOut, summary="Change an operation"
)
def operation_patch(
    request: OrgRequest, calloperation_id: uuid.UUID, payload: OperationIn
) -> OperationOut:
    op = _operation(request, calloperation_id, owner=True)
    _patch(op, payload, request)
    return _operation_out(op, OperationUser.Role.OWNER)


@router.post(
    "/call-operations/{calloperation_id}/finish",
    response=dict[str, Any],
    summary="Finish the wizard: build the list and start",
)
def operation_finish(request: OrgRequest, calloperation_id: uuid.UUID) -> dict[str, Any]:
    op = _operation(request, calloperation_id, owner=True)
    try:
        return services.operation_finish(operation=op, actor=request.user)
    except ValidationError as exc:
        raise unprocessable(exc) from exc


@router.post(
    "/call-operations/{calloperation_id}/pause", response=OperationOut, summary="Pause calls"
)
def operation_pause(request: OrgRequest, calloperation_id: uuid.UUID) -> OperationOut:
    op = _operation(request, calloperation_id, owner=True)
    services.operation_set_paused(operation=op, paused=True, actor=request.user)
    return _operation_out(op, OperationUser.Role.OWNER)


@router.post(
    "/call-operations/{calloperation_id}/resume", response=OperationOut, summary="Resume calls"
)
def operation_resume(request: OrgRequest, calloperation_id: uuid.UUID) -> OperationOut:
    op = _operation(request, calloperation_id, owner=True)
    services.operation_set_paused(operation=op, paused=False, actor=request.user)
    return _operation_out(op, OperationUser.Role.OWNER)


@router.get(
    "/call-operations/{calloperation_id}/stats", response=StatsOut, summary="Results and queue"
)
def operation_stats(request: OrgRequest, calloperation_id: uuid.UUID) -> StatsOut:
    op = _operation(request, calloperation_id, owner=True)
    stats = selectors.operation_stats(operation=op)
    queue, next_at = dispenser.queue_explain(operation=op, agent=None)
    return StatsOut(**stats, queue=queue, next_available_at=next_at)


@router.get("/call-statuses", response=list[StatusOut], summary="The organization's call statuses")
def statuses_list(request: OrgRequest) -> list[StatusOut]:
    from mobiliza.calling.statuses import statuses_ensure

    org = api_org(request, Perm.AGENT_WORK)
    return [_status_out(s) for s in statuses_ensure(organization=org)]


def _status_out(s: CallStatus) -> StatusOut:
    return StatusOut(
        key=s.key,
        label=s.label,
        labels=s.labels,
        group=s.group,
        is_final=s.is_final,
        is_reached=s.is_reached,
        is_system_only=s.is_system_only,
        is_do_not_call=s.is_do_not_call,
        removes_target=s.removes_target,
    )


@router.post("/call-statuses", response={201: StatusOut}, summary="Add a call status (admins)")
def status_create(request: OrgRequest, payload: StatusIn) -> Status:
    org = api_org(request, Perm.ORG_SETTINGS)
    try:
        status = services.status_create(organization=org, actor=request.user, **payload.dict())
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return Status(201, _status_out(status))


@router.get(
    "/call-operations/{calloperation_id}/recycling",
    response=list[RecyclingRow],
    summary="Recycling rules",
)
def recycling_get(request: OrgRequest, calloperation_id: uuid.UUID) -> list[RecyclingRow]:
    op = _operation(request, calloperation_id, owner=True)
    return [
        RecyclingRow(
            status=r.status.key,
            enabled=r.enabled,
            max_further_calls=r.max_further_calls,
            interval_minutes=r.interval_minutes,
        )
        for r in RecyclingRule.objects.filter(operation=op).select_related("status")
    ]


@router.put(
    "/call-operations/{calloperation_id}/recycling",
    response=list[RecyclingRow],
    summary="Replace recycling rules",
)
def recycling_put(
    request: OrgRequest, calloperation_id: uuid.UUID, payload: list[RecyclingRow]
) -> list[RecyclingRow]:
    op = _operation(request, calloperation_id, owner=True)
    statuses = {s.key: s for s in CallStatus.objects.filter(organization=op.organization)}
    rows = []
    for row in payload:
        status = statuses.get(row.status)
        if status is None:
            raise HttpError(422, _("Unknown status %(status)s.") % {"status": repr(row.status)})
        rows.append(
            services.RecyclingInput(
                status_id=status.id,
                enabled=row.enabled,
                max_further_calls=row.max_further_calls,
                interval_minutes=row.interval_minutes,
            )
        )
    try:
        services.recycling_save(operation=op, rows=rows)
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return recycling_get(request, calloperation_id)


@router.get(
    "/call-operations/{calloperation_id}/blocking",
    response=list[BlockingRow],
    summary="Blocking rules",
)
def blocking_get(request: OrgRequest, calloperation_id: uuid.UUID) -> list[BlockingRow]:
    op = _operation(request, calloperation_id, owner=True)
    return [
        BlockingRow(
            kind=BlockingRule.Kind(r.kind),
            params=r.params,
            removal_status=r.removal_status.key,
            reason=r.reason,
            apply_to_household=r.apply_to_household,
        )
        for r in op.blocking_rules.select_related("removal_status")
    ]


@router.put(
    "/call-operations/{calloperation_id}/blocking",
    response=list[BlockingRow],
    summary="Replace blocking rules",
)
def blocking_put(
    request: OrgRequest, calloperation_id: uuid.UUID, payload: list[BlockingRow]
) -> list[BlockingRow]:
    op = _operation(request, calloperation_id, owner=True)
    statuses = {s.key: s for s in CallStatus.objects.filter(organization=op.organization)}
    rules = []
    for row in payload:
        status = statuses.get(row.removal_status)
        if status is None:
            raise HttpError(
                422, _("Unknown status %(status)s.") % {"status": repr(row.removal_status)}
            )
        rules.append(
            services.BlockingInput(
                kind=row.kind,
                params=row.params,
                removal_status=status,
                reason=row.reason,
                apply_to_household=row.apply_to_household,
            )
        )
    services.blocking_save(operation=op, rules=rules)
    return blocking_get(request, calloperation_id)


@router.get(
    "/call-operations/{calloperation_id}/fields",
    response=list[FieldRuleRow],
    summary="Field rules (what agents see and may edit)",
)
def fields_get(request: OrgRequest, calloperation_id: uuid.UUID) -> list[FieldRuleRow]:
    op = _operation(request, calloperation_id, owner=True)
    return [
        FieldRuleRow(field_key=r.field.key, visibility=r.visibility, highlight=r.highlight)  # type: ignore[arg-type]
        for r in fieldrules.field_rules_table(operation=op)
    ]


@router.put(
    "/call-operations/{calloperation_id}/fields",
    response=list[FieldRuleRow],
    summary="Replace field rules, in display order",
)
def fields_put(
    request: OrgRequest, calloperation_id: uuid.UUID, payload: list[FieldRuleRow]
) -> list[FieldRuleRow]:
    op = _operation(request, calloperation_id, owner=True)
    try:
        services.field_rules_save(
            operation=op,
            rows=[
                services.FieldRuleInput(
                    field_key=r.field_key, visibility=r.visibility, highlight=r.highlight
                )
                for r in payload
            ],
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return fields_get(request, calloperation_id)


@router.get(
    "/call-operations/{calloperation_id}/users",
    response=list[UserOut],
    summary="Owners and agents",
)
def users_get(request: OrgRequest, calloperation_id: uuid.UUID) -> list[UserOut]:
    op = _operation(request, calloperation_id, owner=True)
    return [
        UserOut(member_id=u.membership.public_id, name=str(u.membership.user), role=u.role)
        for u in selectors.operation_users(operation=op)
    ]


@router.post(
    "/call-operations/{calloperation_id}/users",
    response=list[UserOut],
    summary="Add a member as owner or agent",
)
def users_add(request: OrgRequest, calloperation_id: uuid.UUID, payload: UserIn) -> list[UserOut]:
    from mobiliza.accounts.models import Membership

    op = _operation(request, calloperation_id, owner=True)
    membership = Membership.objects.filter(
        organization=op.organization, public_id=payload.member_id
    ).first()
    if membership is None:
        raise HttpError(422, _("No such member in this organization."))
    services.operation_user_add(
        operation=op, membership=membership, role=payload.role, actor=request.user
    )
    return users_get(request, calloperation_id)

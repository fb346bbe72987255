"""Software-placed calls API: dial, live call state, hang up, the agent's phone verification, and
the organization's voice rate. The calling screen and the phone app use the same endpoints."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from mobiliza.calling import selectors as calling_selectors
from mobiliza.core.api import api_membership, api_org, unprocessable
from mobiliza.core.permissions import Perm
from mobiliza.core.types import OrgRequest
from mobiliza.telephony import selectors, services

router = Router(tags=["telephony"])


class CallStateOut(Schema):
    id: uuid.UUID
    target: uuid.UUID | None
    stage: str
    stage_label: str
    person_event: str
    answered_by: str
    auto_status: str
    end_reason: str
    result_recorded: bool
    duration_seconds: int
    price: str
    over: bool


class RefusalOut(Schema):
    code: str
    detail: str


class PhoneIn(Schema):
    number: str


class CodeIn(Schema):
    code: str


class PhoneOut(Schema):
    e164: str
    verified: bool
    simulator_code: str = ""


class VoiceSettingsIO(Schema):
    rate_per_minute: Decimal
    currency: str
    use_provider_price: bool = True


@router.post(
    "/call-targets/{calltarget_id}/dial",
    response={201: CallStateOut, 409: RefusalOut},
    summary="Software call: ring my phone, then the person held by me, and bridge us",
)
def dial(request: OrgRequest, calltarget_id: uuid.UUID) -> Status:
    org = api_org(request, Perm.AGENT_WORK)
    target = calling_selectors.target_get(organization=org, public_id=calltarget_id)
    try:
        call = services.call_dial(target=target, agent=api_membership(request))
    except services.DialRefusedError as exc:
        return Status(409, RefusalOut(code=exc.code, detail=exc.message))
    return Status(201, CallStateOut(**selectors.placed_call_state(call)))


@router.get(
    "/placed-calls/{placedcall_id}",
    response=CallStateOut,
    summary="The live state of one of my software calls (calling you, dialing, ringing...)",
)
def call_state(request: OrgRequest, placedcall_id: uuid.UUID) -> CallStateOut:
    org = api_org(request, Perm.AGENT_WORK)
    call = selectors.placed_call_get(
        organization=org, agent=api_membership(request), public_id=placedcall_id
    )
    return CallStateOut(**selectors.placed_call_state(call))


@router.post(
    "/placed-calls/{placedcall_id}/hangup",
    response={200: CallStateOut, 409: RefusalOut},
    summary="Hang up one of my software calls",
)
def hang_up(request: OrgRequest, placedcall_id: uuid.UUID) -> Status:
    org = api_org(request, Perm.AGENT_WORK)
    membership = api_membership(request)
    call = selectors.placed_call_get(organization=org, agent=membership, public_id=placedcall_id)
    try:
        services.call_hang_up(call=call, agent=membership)
    except services.DialRefusedError as exc:
        return Status(409, RefusalOut(code=exc.code, detail=exc.message))
    return Status(200, CallStateOut(**selectors.placed_call_state(call)))


def _phone_out(phone: object) -> PhoneOut:
    from mobiliza.telephony.models import AgentPhone

    assert isinstance(phone, AgentPhone)
    return PhoneOut(
        e164=phone.e164, verified=phone.is_verified, simulator_code=phone.simulator_code
    )


@router.get("/agent-phone", response={200: PhoneOut, 404: RefusalOut}, summary="My calling phone")
def agent_phone(request: OrgRequest) -> Status:
    api_org(request, Perm.AGENT_WORK)
    phone = selectors.agent_phone_for(membership=api_membership(request))
    if phone is None:
        return Status(404, RefusalOut(code="none", detail=_("No phone yet.")))
    return Status(200, _phone_out(phone))


@router.post(
    "/agent-phone",
    response=PhoneOut,
    summary="Set my calling phone: a code is sent to it (shown here only on the simulator)",
)
def agent_phone_set(request: OrgRequest, payload: PhoneIn) -> PhoneOut:
    api_org(request, Perm.AGENT_WORK)
    try:
        phone = services.agent_phone_start(
            membership=api_membership(request), number=payload.number
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return _phone_out(phone)


@router.post("/agent-phone/verify", response=PhoneOut, summary="Verify my calling phone's code")
def agent_phone_verify(request: OrgRequest, payload: CodeIn) -> PhoneOut:
    api_org(request, Perm.AGENT_WORK)
    try:
        phone = services.agent_phone_verify(membership=api_membership(request), code=payload.code)
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return _phone_out(phone)


@router.get("/voice-settings", response=VoiceSettingsIO, summary="The voice rate (admins)")
def voice_settings(request: OrgRequest) -> VoiceSettingsIO:
    org = api_org(request, Perm.PROVIDERS_MANAGE)
    current = services.voice_settings_get(organization=org)
    return VoiceSettingsIO(
        rate_per_minute=current.rate_per_minute,
        currency=current.currency,
        use_provider_price=current.use_provider_price,
    )


@router.put("/voice-settings", response=VoiceSettingsIO, summary="Set the voice rate (admins)")
def voice_settings_put(request: OrgRequest, payload: VoiceSettingsIO) -> VoiceSettingsIO:
    org = api_org(request, Perm.PROVIDERS_MANAGE)
    try:
        current = services.voice_settings_update(
            organization=org,
            actor=request.user,
            rate_per_minute=payload.rate_per_minute,
            currency=payload.currency,
            use_provider_price=payload.use_provider_price,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return VoiceSettingsIO(
        rate_per_minute=current.rate_per_minute,
        currency=current.currency,
        use_provider_price=current.use_provider_price,
    )

"""Texting API: campaigns, assignment, sending, conversations, opt-outs. Same services as pages."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from mobiliza.accounts.models import Membership
from mobiliza.core.api import api_membership, api_org
from mobiliza.core.permissions import Perm
from mobiliza.core.types import OrgRequest
from mobiliza.texting import selectors, services
from mobiliza.texting.models import Conversation, Message, OptOut, TextCampaign

router = Router(tags=["texting"])


def _error(exc: ValidationError) -> HttpError:
    code = getattr(exc, "code", None)
    message = "; ".join(exc.messages)
    return HttpError(422, f"{message} [{code}]" if code else message)


def _supervisor(request: OrgRequest) -> Membership:
    membership = api_membership(request)
    if not services.is_supervisor(membership):
        raise HttpError(403, _("Your role does not allow this."))
    return membership


class CampaignIn(Schema):
    name: str
    first_message: str
    description: str = ""
    segment_id: uuid.UUID | None = None
    survey_id: uuid.UUID | None = None
    opt_out_sentence: str = ""
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    hours_start: dt.time = dt.time(9, 0)
    hours_end: dt.time = dt.time(21, 0)
    max_per_texter: int = 300
    batch_size: int = 50


class CampaignPatch(Schema):
    name: str | None = None
    first_message: str | None = None
    description: str | None = None
    opt_out_sentence: str | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    hours_start: dt.time | None = None
    hours_end: dt.time | None = None
    max_per_texter: int | None = None
    batch_size: int | None = None


class CampaignOut(Schema):
    id: uuid.UUID
    name: str
    status: str
    first_message: str
    opt_out_sentence: str
    hours_start: dt.time
    hours_end: dt.time
    max_per_texter: int
    batch_size: int
    segment_id: uuid.UUID | None
    survey_id: uuid.UUID | None
    stats: dict[str, int] | None = None


class StatusIn(Schema):
    status: TextCampaign.Status


class CountIn(Schema):
    count: int | None = None


class AssignIn(Schema):
    member_id: uuid.UUID
    count: int


class ReleaseIn(Schema):
    member_id: uuid.UUID | None = None


class JoinIn(Schema):
    token: str


class CountOut(Schema):
    count: int


class MessageOut(Schema):
    id: uuid.UUID
    direction: str
    body: str
    status: str
    error_code: str
    created_at: dt.datetime
    is_automatic: bool


class ConversationOut(Schema):
    id: uuid.UUID
    campaign_id: uuid.UUID
    person_id: uuid.UUID
    first_name: str
    phone: str
    status: str
    escalated: bool
    last_delivery_status: str
    assigned_to: uuid.UUID | None
    messages: list[MessageOut] | None = None


class SendIn(Schema):
    idempotency_key: str
    body: str | None = None
    first: bool = False
    canned_id: uuid.UUID | None = None


class SendOut(Schema):
    created: bool
    message: MessageOut


class NoteIn(Schema):
    note: str = ""


class AnswersIn(Schema):
    answers: dict[str, Any]


class ReassignIn(Schema):
    conversation_ids: list[uuid.UUID]
    member_id: uuid.UUID | None = None


class OptOutIn(Schema):
    number: str


class OptOutOut(Schema):
    id: uuid.UUID
    phone: str
    source: str
    created_at: dt.datetime


def _campaign_out(c: TextCampaign, stats: bool = False) -> CampaignOut:
    return CampaignOut(
        id=c.public_id,
        name=c.name,
        status=c.status,
        first_message=c.first_message,
        opt_out_sentence=c.opt_out_sentence,
        hours_start=c.hours_start,
        hours_end=c.hours_end,
        max_per_texter=c.max_per_texter,
        batch_size=c.batch_size,
        segment_id=c.segment.public_id if c.segment_id and c.segment else None,
        survey_id=c.survey.public_id if c.survey_id and c.survey else None,
        stats=selectors.campaign_stats(campaign=c) if stats else None,
    )


def _message_out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.public_id,
        direction=m.direction,
        body=m.body,
        status=m.status,
        error_code=m.error_code,
        created_at=m.created_at,
        is_automatic=m.is_automatic,
    )


def _conversation_out(c: Conversation, with_messages: bool = False) -> ConversationOut:
    return ConversationOut(
        id=c.public_id,
        campaign_id=c.campaign.public_id,
        person_id=c.person.public_id,
        first_name=c.person.first_name,
        phone=c.phone_e164,
        status=c.status,
        escalated=c.escalated_at is not None,
        last_delivery_status=c.last_delivery_status,
        assigned_to=c.assigned_to.public_id if c.assigned_to else None,
        messages=[_message_out(m) for m in selectors.thread(conversation=c)]
        if with_messages
        else None,
    )


def _member(org: Any, member_id: uuid.UUID) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"), organization=org, public_id=member_id
    )


# --- campaigns ----------------------------------------------------------------------------------
@router.get("/texting/campaigns", response=list[CampaignOut], summary="Texting campaigns I can see")
def campaigns_list(request: OrgRequest) -> list[CampaignOut]:
    membership = api_membership(request)
    api_org(request, Perm.AGENT_WORK)
    qs = selectors.campaigns_for(membership=membership).select_related("segment", "survey")
    return [_campaign_out(c) for c in qs]


@router.post("/texting/campaigns", response={201: CampaignOut}, summary="Create a texting campaign")
def campaigns_create(request: OrgRequest, payload: CampaignIn) -> Status:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    from mobiliza.people.models import Segment
    from mobiliza.surveys.models import Survey

    values = payload.dict(exclude={"segment_id", "survey_id"})
    values["segment"] = (
        get_object_or_404(Segment, organization=org, public_id=payload.segment_id)
        if payload.segment_id
        else None
    )
    values["survey"] = (
        get_object_or_404(Survey, organization=org, public_id=payload.survey_id)
        if payload.survey_id
        else None
    )
    try:
        campaign = services.campaign_create(organization=org, actor=request.user, **values)
    except ValidationError as exc:
        raise _error(exc) from exc
    return Status(201, _campaign_out(campaign))


@router.get(
    "/texting/campaigns/{textcampaign_id}", response=CampaignOut, summary="A campaign and its stats"
)
def campaigns_get(request: OrgRequest, textcampaign_id: uuid.UUID) -> CampaignOut:
    membership = api_membership(request)
    campaign = selectors.campaign_for_member(membership=membership, campaign_id=textcampaign_id)
    return _campaign_out(campaign, stats=services.is_supervisor(membership))


@router.patch(
    "/texting/campaigns/{textcampaign_id}", response=CampaignOut, summary="Edit a campaign"
)
def campaigns_patch(
    request: OrgRequest, textcampaign_id: uuid.UUID, payload: CampaignPatch
) -> CampaignOut:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    campaign = selectors.campaign_get(organization=org, campaign_id=textcampaign_id)
    try:
        services.campaign_update(
            campaign=campaign, actor=request.user, **payload.dict(exclude_none=True)
        )
    except ValidationError as exc:
        campaign.refresh_from_db()
        raise _error(exc) from exc
    return _campaign_out(campaign)


@router.post(
    "/texting/campaigns/{textcampaign_id}/status",
    response=CampaignOut,
    summary="Start, pause or archive (starting loads the list's textable people)",
)
def campaigns_status(
    request: OrgRequest, textcampaign_id: uuid.UUID, payload: StatusIn
) -> CampaignOut:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    campaign = selectors.campaign_get(organization=org, campaign_id=textcampaign_id)
    try:
        services.campaign_set_status(campaign=campaign, actor=request.user, status=payload.status)
    except ValidationError as exc:
        raise _error(exc) from exc
    return _campaign_out(campaign, stats=True)


@router.post("/texting/join", response=CampaignOut, summary="Join a campaign with its link token")
def campaigns_join(request: OrgRequest, payload: JoinIn) -> CampaignOut:
    membership = api_membership(request)
    campaign = selectors.campaign_by_token(token=payload.token)
    if campaign.organization_id != membership.organization_id:
        raise HttpError(404, _("Not Found"))
    try:
        services.texter_join(campaign=campaign, user=request.user)
    except ValidationError as exc:
        raise _error(exc) from exc
    return _campaign_out(campaign)


# --- assignment -----------------------------------------------------------------------------------
@router.post(
    "/texting/campaigns/{textcampaign_id}/assignments/request",
    response=CountOut,
    summary="Ask for a batch of contacts (dynamic assignment)",
)
def assignments_request(
    request: OrgRequest, textcampaign_id: uuid.UUID, payload: CountIn
) -> CountOut:
    membership = api_membership(request)
    campaign = selectors.campaign_for_member(membership=membership, campaign_id=textcampaign_id)
    try:
        count = services.assignment_request(
            campaign=campaign, membership=membership, count=payload.count
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from exc
    return CountOut(count=count)


@router.post(
    "/texting/campaigns/{textcampaign_id}/assignments",
    response=CountOut,
    summary="Assign a number of contacts to a texter",
)
def assignments_give(
    request: OrgRequest, textcampaign_id: uuid.UUID, payload: AssignIn
) -> CountOut:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    campaign = selectors.campaign_get(organization=org, campaign_id=textcampaign_id)
    member = _member(org, payload.member_id)
    try:
        count = services.assignment_give(
            campaign=campaign, membership=member, count=payload.count, actor=request.user
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    return CountOut(count=count)


@router.post(
    "/texting/campaigns/{textcampaign_id}/assignments/release",
    response=CountOut,
    summary="Release unsent contacts (of one texter, or everybody's)",
)
def assignments_release(
    request: OrgRequest, textcampaign_id: uuid.UUID, payload: ReleaseIn
) -> CountOut:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    campaign = selectors.campaign_get(organization=org, campaign_id=textcampaign_id)
    member = _member(org, payload.member_id) if payload.member_id else None
    count = services.assignment_release(campaign=campaign, actor=request.user, membership=member)
    return CountOut(count=count)


# --- conversations ----------------------------------------------------------------------------------
@router.get(
    "/texting/campaigns/{textcampaign_id}/conversations",
    response=list[ConversationOut],
    summary="My conversations in a campaign, needing a reply first",
)
def conversations_list(
    request: OrgRequest, textcampaign_id: uuid.UUID, status: str = ""
) -> list[ConversationOut]:
    membership = api_membership(request)
    campaign = selectors.campaign_for_member(membership=membership, campaign_id=textcampaign_id)
    new = list(
        Conversation.objects.filter(
            campaign=campaign, assigned_to=membership, status=Conversation.Status.NEW
        )
        .select_related("person", "campaign", "assigned_to")
        .order_by("id")[:200]
    )
    started = selectors.texter_inbox(campaign=campaign, membership=membership, status=status)
    for c in started:
        c.campaign = campaign
        c.assigned_to = membership
    return [_conversation_out(c) for c in ([] if status else new) + started]


@router.get(
    "/texting/conversations/{conversation_id}",
    response=ConversationOut,
    summary="A conversation with its messages",
)
def conversations_get(request: OrgRequest, conversation_id: uuid.UUID) -> ConversationOut:
    membership = api_membership(request)
    conversation = selectors.conversation_for_member(
        membership=membership, conversation_id=conversation_id
    )
    return _conversation_out(conversation, with_messages=True)


@router.post(
    "/texting/conversations/{conversation_id}/messages",
    response={200: SendOut, 201: SendOut},
    summary="Send one message (first, reply or canned); the same idempotency key sends once",
)
def conversations_send(request: OrgRequest, conversation_id: uuid.UUID, payload: SendIn) -> Status:
    membership = api_membership(request)
    conversation = selectors.conversation_for_member(
        membership=membership, conversation_id=conversation_id
    )
    try:
        if payload.canned_id:
            canned = selectors.canned_get(
                organization=membership.organization, canned_id=payload.canned_id
            )
            message, created = services.canned_response_apply(
                conversation=conversation,
                membership=membership,
                response=canned,
                idempotency_key=payload.idempotency_key,
            )
        else:
            message, created = services.message_send(
                conversation=conversation,
                membership=membership,
                idempotency_key=payload.idempotency_key,
                body=payload.body,
                first_message=payload.first,
            )
    except ValidationError as exc:
        raise _error(exc) from exc
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or _("Forbidden")) from exc
    return Status(201 if created else 200, SendOut(created=created, message=_message_out(message)))


@router.post(
    "/texting/conversations/{conversation_id}/opt-out",
    response=ConversationOut,
    summary="Opt this person out, organization-wide",
)
def conversations_opt_out(request: OrgRequest, conversation_id: uuid.UUID) -> ConversationOut:
    membership = api_membership(request)
    conversation = selectors.conversation_for_member(
        membership=membership, conversation_id=conversation_id
    )
    services.conversation_opt_out(conversation=conversation, membership=membership)
    conversation.refresh_from_db()
    return _conversation_out(conversation)


@router.post(
    "/texting/conversations/{conversation_id}/escalate",
    response=ConversationOut,
    summary="Escalate to a supervisor",
)
def conversations_escalate(
    request: OrgRequest, conversation_id: uuid.UUID, payload: NoteIn
) -> ConversationOut:
    membership = api_membership(request)
    conversation = selectors.conversation_for_member(
        membership=membership, conversation_id=conversation_id
    )
    services.conversation_escalate(
        conversation=conversation, membership=membership, note=payload.note
    )
    return _conversation_out(conversation)


@router.post(
    "/texting/conversations/{conversation_id}/answers",
    response=CountOut,
    summary="Record survey answers {question key: value}",
)
def conversations_answers(
    request: OrgRequest, conversation_id: uuid.UUID, payload: AnswersIn
) -> CountOut:
    membership = api_membership(request)
    conversation = selectors.conversation_for_member(
        membership=membership, conversation_id=conversation_id
    )
    try:
        count = services.conversation_record_answers(
            conversation=conversation, membership=membership, answers=payload.answers
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    return CountOut(count=count)


@router.post(
    "/texting/reassign",
    response=CountOut,
    summary="Reassign conversations to a texter (none: unsent ones back to the pool)",
)
def conversations_reassign(request: OrgRequest, payload: ReassignIn) -> CountOut:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    member = _member(org, payload.member_id) if payload.member_id else None
    try:
        count = services.conversations_reassign(
            organization=org,
            conversation_ids=payload.conversation_ids,
            to_membership=member,
            actor=request.user,
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    return CountOut(count=count)


# --- opt-outs -------------------------------------------------------------------------------------
@router.get("/texting/opt-outs", response=list[OptOutOut], summary="Numbers never to text again")
def opt_outs_list(request: OrgRequest, limit: int = 500, offset: int = 0) -> list[OptOutOut]:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    limit = max(1, min(limit, 5000))
    rows = selectors.opt_outs(organization=org).order_by("-created_at", "-id")[
        offset : offset + limit
    ]
    return [
        OptOutOut(id=o.public_id, phone=o.phone_e164, source=o.source, created_at=o.created_at)
        for o in rows
    ]


@router.post(
    "/texting/opt-outs", response={201: OptOutOut, 200: OptOutOut}, summary="Add an opt-out"
)
def opt_outs_create(request: OrgRequest, payload: OptOutIn) -> Status:
    org = api_org(request, Perm.OPERATIONS_CREATE)
    from mobiliza.providers.services import normalize_number

    try:
        number = normalize_number(payload.number, region=org.default_country)
    except ValidationError as exc:
        raise _error(exc) from exc
    optout, created = services.opt_out_record(
        organization=org, phone_e164=number, source=OptOut.Source.ADMIN, actor=request.user
    )
    return Status(
        201 if created else 200,
        OptOutOut(
            id=optout.public_id,
            phone=optout.phone_e164,
            source=optout.source,
            created_at=optout.created_at,
        ),
    )

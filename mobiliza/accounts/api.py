"""Accounts API: who am I, my organizations, members, invitations, settings, audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import EmailStr

from mobiliza.accounts import selectors, services
from mobiliza.accounts.models import Membership
from mobiliza.core.api import api_membership, api_org, unprocessable
from mobiliza.core.permissions import Perm, Role
from mobiliza.core.selectors import audit_events
from mobiliza.core.types import OrgRequest

router = Router(tags=["accounts"])


class OrganizationOut(Schema):
    id: uuid.UUID
    name: str
    slug: str
    default_country: str
    default_language: str
    time_zone: str


class MeOut(Schema):
    id: uuid.UUID
    email: str
    full_name: str
    language: str
    organization: OrganizationOut
    role: str
    permissions: list[str]


class MemberOut(Schema):
    id: uuid.UUID
    email: str
    full_name: str
    role: str


class InvitationIn(Schema):
    email: EmailStr
    role: Role = Role.VOLUNTEER


class InvitationOut(Schema):
    id: uuid.UUID
    email: str
    role: str
    expires_at: dt.datetime
    url: str | None = None


class SettingsIn(Schema):
    name: str | None = None
    default_country: str | None = None
    default_language: str | None = None
    time_zone: str | None = None


class RoleIn(Schema):
    role: Role


class AuditEventOut(Schema):
    id: int
    created_at: dt.datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any]
    meta: dict[str, Any]


def _org_out(org: Any) -> OrganizationOut:
    return OrganizationOut(
        id=org.public_id,
        name=org.name,
        slug=org.slug,
        default_country=org.default_country,
        default_language=org.default_language,
        time_zone=org.time_zone,
    )


def _member_out(m: Membership) -> MemberOut:
    return MemberOut(id=m.public_id, email=m.user.email, full_name=m.user.full_name, role=m.role)


@router.get(
    "/me", response=MeOut, summary="The authenticated user and the organization they act for"
)
def me(request: OrgRequest) -> MeOut:
    from mobiliza.core.permissions import ROLE_PERMISSIONS

    membership = api_membership(request)
    user = membership.user
    return MeOut(
        id=user.public_id,
        email=user.email,
        full_name=user.full_name,
        language=user.language,
        organization=_org_out(membership.organization),
        role=membership.role,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[membership.role]),
    )


@router.get("/organization", response=OrganizationOut, summary="The current organization")
def organization_get(request: OrgRequest) -> OrganizationOut:
    return _org_out(api_org(request))


@router.patch(
    "/organization", response=OrganizationOut, summary="Change the organization's settings"
)
def organization_patch(request: OrgRequest, payload: SettingsIn) -> OrganizationOut:
    org = api_org(request, Perm.ORG_SETTINGS)
    try:
        services.organization_update(
            organization=org,
            actor=request.user,
            **payload.dict(exclude_none=True),
        )
    except ValidationError as exc:
        org.refresh_from_db()
        raise unprocessable(exc) from exc
    return _org_out(org)


@router.get("/members", response=list[MemberOut], summary="Members of the organization")
def members_list(request: OrgRequest, q: str = "") -> list[MemberOut]:
    org = api_org(request, Perm.MEMBERS_VIEW)
    found = selectors.member_search(organization=org, query=q, limit=500)
    return [_member_out(m) for m in found]


@router.patch("/members/{membership_id}", response=MemberOut, summary="Change a member's role")
def member_update(request: OrgRequest, membership_id: uuid.UUID, payload: RoleIn) -> MemberOut:
    org = api_org(request, Perm.MEMBERS_MANAGE)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization=org,
        public_id=membership_id,
    )
    try:
        services.membership_set_role(membership=membership, role=payload.role, actor=request.user)
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return _member_out(membership)


@router.post("/invitations", response={201: InvitationOut}, summary="Invite someone by email")
def invitation_create(request: OrgRequest, payload: InvitationIn) -> Status:
    org = api_org(request, Perm.MEMBERS_MANAGE)
    try:
        invitation, url = services.invitation_create(
            organization=org,
            email=payload.email,
            role=payload.role,
            invited_by=request.user,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return Status(
        201,
        InvitationOut(
            id=invitation.public_id,
            email=invitation.email,
            role=invitation.role,
            expires_at=invitation.expires_at,
            url=url,
        ),
    )


@router.get("/invitations", response=list[InvitationOut], summary="Pending invitations")
def invitations_list(request: OrgRequest) -> list[InvitationOut]:
    org = api_org(request, Perm.MEMBERS_MANAGE)
    return [
        InvitationOut(id=i.public_id, email=i.email, role=i.role, expires_at=i.expires_at)
        for i in selectors.pending_invitations(organization=org)
    ]


@router.get("/audit-events", response=list[AuditEventOut], summary="The audit log, newest first")
def audit_list(
    request: OrgRequest,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    before: int | None = None,
    limit: int = 100,
) -> list[AuditEventOut]:
    org = api_org(request, Perm.AUDIT_VIEW)
    qs = audit_events(
        organization=org,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before_id=before,
    )[: max(1, min(limit, 500))]
    return [
        AuditEventOut(
            id=e.id,
            created_at=e.created_at,
            actor=e.actor.email if e.actor else None,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            object_repr=e.object_repr,
            changes=e.changes,
            meta=e.meta,
        )
        for e in qs
    ]

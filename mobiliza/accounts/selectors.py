"""Reads about users, organizations and memberships."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from mobiliza.accounts.models import ApiToken, Invitation, Membership, Organization, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization")


def membership_for_user(*, user: User, organization_public_id: str | None) -> Membership | None:
    """The membership for the chosen organization, or the user's first one."""
    qs = memberships_for_user(user=user).order_by("created_at", "id")
    if organization_public_id:
        try:
            wanted = uuid.UUID(str(organization_public_id))
        except ValueError:
            wanted = None
        if wanted is not None:
            found = qs.filter(organization__public_id=wanted).first()
            if found is not None:
                return found
    return qs.first()


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def member_search(*, organization: Organization, query: str, limit: int = 20) -> list[Membership]:
    from django.db.models import Q

    qs = organization_members(organization=organization)
    if query:
        qs = qs.filter(Q(user__full_name__icontains=query) | Q(user__email__icontains=query))
    return list(qs[:limit])


def pending_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    from django.utils import timezone

    return Invitation.objects.filter(
        organization=organization,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("invited_by")


def api_tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(membership__user=user, revoked_at__isnull=True).select_related(
        "membership__organization"
    )

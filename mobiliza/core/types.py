"""Typed request for views behind `org_view` and API endpoints behind `AUTH`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization, User


class AuthedRequest(HttpRequest):
    """A request from a logged-in user (behind `login_required`), maybe in no organization."""

    user: User
    membership: Membership | None
    organization: Organization | None


class OrgRequest(HttpRequest):
    """A request from a logged-in member acting for one organization."""

    user: User
    membership: Membership
    organization: Organization

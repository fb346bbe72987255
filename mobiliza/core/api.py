"""Authentication and permission helpers for the JSON API (django-ninja).

Two ways in: the browser session (CSRF-protected) and personal API tokens sent as
`Authorization: Bearer <token>`. A token is bound to one organization; a session uses the
organization chosen in the switcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from mobiliza.core.permissions import Perm, has_perm

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from mobiliza.accounts.services import api_token_authenticate

        api_token = api_token_authenticate(raw_token=token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.membership = api_token.membership  # type: ignore[attr-defined]
        request.organization = api_token.membership.organization  # type: ignore[attr-defined]
        return api_token.user


class OrganizationSessionAuth(SessionAuth):
    """Session login, but only for users acting inside an organization."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or getattr(request, "membership", None) is None:
            return None
        return user


AUTH = [BearerTokenAuth(), OrganizationSessionAuth()]


def unprocessable(exc: ValidationError) -> HttpError:
    """A service's ValidationError as the API's 422: its messages joined in `detail`, each
    prefixed with the field it is about ("email: Enter a valid email address.")."""
    if hasattr(exc, "error_dict"):
        parts = [
            message if field == "__all__" else f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
        return HttpError(422, "; ".join(parts))
    return HttpError(422, "; ".join(exc.messages))


def api_membership(request: HttpRequest) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None:
        raise HttpError(403, "You are not a member of an organization.")
    return membership


def api_org(request: HttpRequest, perm: Perm | None = None) -> Organization:
    """The organization the request acts for, after checking `perm` when given."""
    membership = api_membership(request)
    if perm is not None and not has_perm(membership, perm):
        raise HttpError(403, f"Your role does not allow this ({perm.value}).")
    return membership.organization

"""Which organization a request acts for, and the guards that views use.

The active organization is kept in the session (its public id). Each request loads the user's
membership for it once; views read `request.organization` and `request.membership`.
API requests authenticated by a bearer token take the token's organization instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from mobiliza.core.permissions import Perm, has_perm

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization

SESSION_KEY = "mobiliza_org"

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def active_membership(request: HttpRequest) -> Membership | None:
    """The membership of the logged-in user in the organization chosen in the session."""
    from mobiliza.accounts.selectors import membership_for_user

    user = request.user
    if not user.is_authenticated:
        return None
    return membership_for_user(user=user, organization_public_id=request.session.get(SESSION_KEY))


def activate_organization(request: HttpRequest, organization: Organization) -> None:
    request.session[SESSION_KEY] = str(organization.public_id)


def _preloaded(request: HttpRequest) -> tuple[bool, Membership | None]:
    """(True, the membership) that `accounts.request_auth.preload` read with the user in this
    request, when it was read for this user and the organization the session names now."""
    found = getattr(request, "_preloaded_membership", None)
    if found is None:
        return False, None
    user_id, organization, membership = found
    user = request.user
    if not user.is_authenticated or user.pk != user_id:
        return False, None
    if request.session.get(SESSION_KEY) != organization:
        return False, None
    return True, membership


class OrganizationMiddleware:
    """Sets `request.membership` and `request.organization` (None when not a member of any)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found, membership = _preloaded(request)
        if not found:
            membership = active_membership(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.organization = membership.organization if membership else None  # type: ignore[attr-defined]
        return self.get_response(request)


def org_view(perm: Perm | None = None) -> Callable[[ViewFunc], ViewFunc]:
    """Guard a page: logged in, member of an organization and, when given, holding `perm`."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect("accounts:no_organization")
            if perm is not None and not has_perm(membership, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapped)

    return decorator

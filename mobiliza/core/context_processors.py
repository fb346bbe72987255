from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from mobiliza.accounts.selectors import memberships_for_user
from mobiliza.core.permissions import Perm, has_perm


def organization(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    granted = {p.name: has_perm(membership, p) for p in Perm}
    # The organization switcher's list, loaded once with its organizations, only if rendered.
    memberships: Any = (
        SimpleLazyObject(lambda: list(memberships_for_user(user=request.user)))  # type: ignore[arg-type]
        if membership is not None
        else []
    )
    return {
        "my_memberships": memberships,
        "current_membership": membership,
        "current_organization": getattr(request, "organization", None),
        "can": granted,
    }

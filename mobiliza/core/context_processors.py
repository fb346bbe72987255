from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mobiliza.core.permissions import Perm, has_perm


def organization(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    granted = {p.name: has_perm(membership, p) for p in Perm}
    return {
        "current_membership": membership,
        "current_organization": getattr(request, "organization", None),
        "can": granted,
    }

"""Roles and permissions, checked in one place.

Roles follow what the peers offer (Qomon: Admin / Staff / Organizer / Champ; Spoke: owner / admin /
supervolunteer / texter) reduced to three that map onto real campaign jobs:

* **admin**: everything, including exports, members, settings and the audit log;
* **organizer**: runs the CRM and creates operations, surveys and campaigns;
* **volunteer**: only the operations they are an agent of, only the fields those operations show.

Object-level rules (an agent of *this* operation) live in the owning app's selectors and reuse
`has_perm` for the organization-wide part.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    ORGANIZER = "organizer", _("Organizer")
    VOLUNTEER = "volunteer", _("Volunteer")


class Perm(StrEnum):
    ORG_SETTINGS = "org.settings"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"
    AUDIT_VIEW = "audit.view"
    PEOPLE_VIEW = "people.view"
    PEOPLE_EDIT = "people.edit"
    PEOPLE_IMPORT = "people.import"
    PEOPLE_MERGE = "people.merge"
    PEOPLE_EXPORT = "people.export"
    SEGMENTS_MANAGE = "segments.manage"
    SURVEYS_MANAGE = "surveys.manage"
    OPERATIONS_CREATE = "operations.create"
    OPERATIONS_MANAGE_ALL = "operations.manage_all"
    RESULTS_EXPORT = "results.export"
    PROVIDERS_MANAGE = "providers.manage"
    API_TOKENS = "api.tokens"
    AGENT_WORK = "agent.work"


_ORGANIZER = {
    Perm.MEMBERS_VIEW,
    Perm.PEOPLE_VIEW,
    Perm.PEOPLE_EDIT,
    Perm.PEOPLE_IMPORT,
    Perm.PEOPLE_MERGE,
    Perm.SEGMENTS_MANAGE,
    Perm.SURVEYS_MANAGE,
    Perm.OPERATIONS_CREATE,
    Perm.API_TOKENS,
    Perm.AGENT_WORK,
}
_VOLUNTEER = {Perm.AGENT_WORK, Perm.API_TOKENS}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.ORGANIZER: frozenset(_ORGANIZER),
    Role.VOLUNTEER: frozenset(_VOLUNTEER),
}


def role_has_perm(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def has_perm(membership: Membership | None, perm: Perm) -> bool:
    """True when the membership's role grants `perm`. No membership: nothing."""
    if membership is None:
        return False
    return role_has_perm(membership.role, perm)

"""The People card on the home dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from mobiliza.core.permissions import Perm, has_perm
from mobiliza.web.dashboard import Card, register_card

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def people_card(membership: Membership) -> Card | None:
    if not has_perm(membership, Perm.PEOPLE_VIEW):
        return None
    from mobiliza.people.selectors import people_counts

    counts = people_counts(organization=membership.organization)
    total = counts["contacts"] + counts["electors"]
    return Card(
        title=_("People"),
        value=f"{total:,}".replace(",", "\u202f"),
        url=reverse("people:list"),
        detail=_("%(contacts)s contacts · %(electors)s electors")
        % {"contacts": f"{counts['contacts']:,}", "electors": f"{counts['electors']:,}"},
        order=10,
    )


def register() -> None:
    register_card(people_card)

"""Registrations with other apps: the home dashboard card and the demo seeder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from mobiliza.web.dashboard import Card, register_card

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def _card(membership: Membership) -> Card | None:
    from mobiliza.calling.selectors import operation_list

    count = (
        operation_list(organization=membership.organization, membership=membership)
        .filter(archived_at__isnull=True, is_draft=False)
        .count()
    )
    return Card(
        title=_("Call operations"),
        value=str(count),
        url=reverse("calling:dashboard"),
        detail=_("operations you can call for"),
        order=30,
    )


register_card(_card)

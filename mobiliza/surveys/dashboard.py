"""Home page card: survey answers collected this week."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.core.permissions import Perm, has_perm
from mobiliza.web.dashboard import Card, register_card

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def surveys_card(membership: Membership) -> Card | None:
    if not has_perm(membership, Perm.SURVEYS_MANAGE):
        return None
    from mobiliza.surveys.models import Answer

    since = timezone.now() - dt.timedelta(days=7)
    count = Answer.objects.filter(
        organization=membership.organization, answered_at__gte=since
    ).count()
    return Card(
        title=_("Survey answers, last 7 days"),
        value=f"{count:,}",
        url=reverse("surveys:list"),
        order=40,
    )


def register() -> None:
    register_card(surveys_card)

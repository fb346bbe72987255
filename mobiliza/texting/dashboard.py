"""Home page card: what waits for this member in texting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from mobiliza.web.dashboard import Card, register_card

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def texting_card(membership: Membership) -> Card | None:
    from mobiliza.texting.models import Conversation

    waiting = Conversation.objects.filter(
        assigned_to=membership, status=Conversation.Status.NEEDS_REPLY
    ).count()
    unsent = Conversation.objects.filter(
        assigned_to=membership, status=Conversation.Status.NEW
    ).count()
    if not waiting and not unsent:
        return None
    return Card(
        title=_("Texting"),
        value=str(waiting),
        url=reverse("texting:list"),
        detail=_("replies to answer · %(n)s first messages to send") % {"n": unsent},
        order=40,
    )


register_card(texting_card)

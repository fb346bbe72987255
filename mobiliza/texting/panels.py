"""The texting section of the person page: opt-out status and conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from mobiliza.core.permissions import Perm, has_perm
from mobiliza.people.panels import Panel, register_person_panel

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership
    from mobiliza.people.models import Person


def texting_panel(person: Person, membership: Membership) -> Panel | None:
    if not has_perm(membership, Perm.PEOPLE_VIEW):
        return None
    from mobiliza.texting.selectors import person_texting
    from mobiliza.texting.services import is_supervisor

    context = person_texting(organization=membership.organization, person_id=person.pk)
    context["can_open"] = is_supervisor(membership)
    return Panel(
        title=_("Texting"), template_name="texting/_person_panel.html", context=context, order=60
    )


register_person_panel(texting_panel)

"""The person page panel: the person's latest answer to each survey question."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from mobiliza.core.permissions import Perm, has_perm
from mobiliza.people.panels import Panel, register_person_panel

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership
    from mobiliza.people.models import Person


def answers_panel(person: Person, membership: Membership) -> Panel | None:
    if not has_perm(membership, Perm.PEOPLE_VIEW):
        return None
    from mobiliza.surveys.selectors import person_latest_answers

    answers = person_latest_answers(organization=membership.organization, person=person)
    return Panel(
        title=_("Survey answers"),
        template_name="surveys/_person_panel.html",
        context={"survey_answers": answers, "person": person},
        order=50,
    )


def register() -> None:
    register_person_panel(answers_panel)

"""Registrations with other apps: the home dashboard card, the demo seeder and the person-merge
hook (call targets and attempts move to the kept person)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext as _

from mobiliza.people.services import register_merge_hook
from mobiliza.web.dashboard import Card, register_card
from mobiliza.web.demo import register_demo_seeder

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization, User


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


def _demo(organization: Organization, user: User) -> None:
    """A running demo operation over the demo contacts, the admin as owner."""
    from mobiliza.accounts.models import Membership
    from mobiliza.calling.services import operation_create, operation_finish, operation_update

    membership = Membership.objects.get(organization=organization, user=user)
    _demo_people(organization)
    operation = operation_create(organization=organization, creator=membership)
    operation_update(
        operation=operation,
        actor=user,
        step=11,
        name=_("Demo phone bank"),
        description=_("Call supporters to invite them to the weekend action."),
        script=_(
            "Hello {first_name}, this is {agent_first_name}, a volunteer with the campaign. "
            "Do you have a minute to talk about Saturday's action?"
        ),
    )
    from mobiliza.surveys.models import Survey

    survey = Survey.objects.filter(organization=organization, is_template=False).first()
    if survey is not None:
        operation_update(operation=operation, actor=user, survey=survey)
    operation_finish(operation=operation, actor=user)
    from mobiliza.calling.models import OperationUser
    from mobiliza.calling.services import operation_user_add

    for other in Membership.objects.filter(organization=organization).exclude(pk=membership.pk):
        operation_user_add(
            operation=operation, membership=other, role=OperationUser.Role.AGENT, actor=user
        )


def _demo_people(organization: Organization) -> None:
    """Contacts with phones in a few time zones, when the demo has none yet."""
    from mobiliza.people.models import Person, PersonPhone

    if PersonPhone.objects.filter(organization=organization, is_valid=True).exists():
        return
    first = ["Ana", "João", "Maria", "Pedro", "Inês", "Rui", "Sofia", "Tiago", "Marta", "Luís"]
    last = ["Silva", "Santos", "Ferreira", "Pereira", "Costa", "Oliveira", "Rodrigues"]
    zones = ["Europe/Lisbon", "Europe/Lisbon", "Atlantic/Azores", "America/Sao_Paulo"]
    for i in range(60):
        person = Person.objects.create(
            organization=organization,
            first_name=first[i % len(first)],
            last_name=last[i % len(last)],
            city=["Lisboa", "Porto", "Ponta Delgada", "São Paulo"][i % 4],
            time_zone=zones[i % 4],
            support_level=(i % 5) + 1,
        )
        number = f"+3519{10000000 + i * 7919:08d}"
        PersonPhone.objects.create(
            organization=organization, person=person, raw=number, e164=number, kind="mobile"
        )


register_demo_seeder(_demo, order=300)


def _merge(**kwargs: Any) -> dict[str, int]:
    from mobiliza.calling.services import person_merge_calling

    return person_merge_calling(**kwargs)


register_merge_hook(_merge)

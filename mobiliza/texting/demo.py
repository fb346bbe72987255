"""Demo data for `make run`: a texting campaign on the demo segment with a few conversations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from mobiliza.web.demo import register_demo_seeder

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User


def seed_texting(organization: Organization, admin: User) -> None:
    from django.db import transaction

    from mobiliza.accounts.models import Membership
    from mobiliza.people.models import Segment
    from mobiliza.providers.services import default_account, simulator_inbound
    from mobiliza.texting import services
    from mobiliza.texting.models import Conversation

    segment = Segment.objects.filter(organization=organization).order_by("id").first()
    if segment is None:
        from django.core.exceptions import ValidationError

        from mobiliza.people.services import segment_create

        try:
            segment = segment_create(
                organization=organization,
                name="Contactos (texting demo)",
                list="contacts",
                definition={},
                actor=admin,
            )
        except ValidationError:
            return
    survey = None
    try:
        from mobiliza.surveys.models import Survey

        survey = (
            Survey.objects.filter(organization=organization, is_template=False)
            .order_by("id")
            .first()
        )
    except ImportError:  # pragma: no cover
        survey = None
    with transaction.atomic():
        account = default_account(organization=organization)
        campaign = services.campaign_create(
            organization=organization,
            actor=admin,
            name="Mobilização: voluntários para sábado",
            description="Convidar apoiantes para a ação de sábado.",
            segment=segment,
            survey=survey,
            first_message=(
                "Olá {first_name}! Sou {agent_first_name}, do Movimento Avante. "
                "Podemos contar consigo no sábado?"
            ),
            opt_out_sentence="Responda PARAR para não receber mais mensagens.",
            hours_start=dt.time(0, 0),
            hours_end=dt.time(23, 59, 59),
            max_per_texter=200,
            batch_size=25,
        )
        for title, text in (
            ("Obrigado!", "Obrigado, {first_name}! Enviamos os detalhes na sexta."),
            ("Quem somos", "Somos voluntários do Movimento Avante a preparar as eleições."),
            ("Sem problema", "Sem problema, obrigado pelo seu tempo!"),
        ):
            services.canned_response_create(campaign=campaign, actor=admin, title=title, text=text)
        services.campaign_set_status(campaign=campaign, actor=admin, status="active")
        admin_membership = Membership.objects.get(organization=organization, user=admin)
        services.texter_add(campaign=campaign, membership=admin_membership, actor=admin)
        volunteer = (
            Membership.objects.filter(organization=organization, role="volunteer")
            .order_by("id")
            .first()
        )
        if volunteer is not None:
            services.texter_add(campaign=campaign, membership=volunteer, actor=admin)
            services.assignment_request(campaign=campaign, membership=volunteer, count=10)
        services.assignment_request(campaign=campaign, membership=admin_membership, count=5)
    sent = []
    for conversation in Conversation.objects.filter(
        campaign=campaign, assigned_to=admin_membership
    ).select_related("campaign", "person", "campaign__organization")[:5]:
        message, _created = services.message_send(
            conversation=conversation,
            membership=admin_membership,
            idempotency_key="demo",
            first_message=True,
        )
        sent.append(message)
    for message, reply in zip(sent, ["Sim, contem comigo!", "Quem fala?", "PARAR"], strict=False):
        simulator_inbound(
            account=account,
            from_number=message.to_e164,
            to_number=message.from_e164,
            body=reply,
            delay=3,
        )


register_demo_seeder(seed_texting, order=300)

"""The whole production path on the simulator: click -> outbox -> provider -> signed callbacks ->
delivery status; a reply -> matched conversation; a stop word -> opt-out + one confirmation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.providers.models import SimulatedEvent, WebhookEvent
from mobiliza.providers.services import simulator_inbound, simulator_tick
from mobiliza.texting.models import Conversation, Message, OptOut
from mobiliza.texting.services import assignment_request, message_send
from mobiliza.texting.tests.factories import make_campaign, make_texter

pytestmark = pytest.mark.django_db


def later(seconds: int = 600) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def send_first(campaign: Any, texter: Any, capture: Any) -> list[Message]:
    sent = []
    for conversation in campaign.conversations.filter(assigned_to=texter).order_by("id"):
        with capture(execute=True):
            message, created = message_send(
                conversation=conversation, membership=texter, idempotency_key="k"
            )
        assert created
        sent.append(message)
    return sent


def test_first_messages_are_delivered_through_signed_callbacks(
    org: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org, people=3)
    texter = make_texter(campaign)
    assert assignment_request(campaign=campaign, membership=texter, count=10) == 3
    messages = send_first(campaign, texter, django_capture_on_commit_callbacks)
    for message in messages:
        message.refresh_from_db()
        assert message.provider_message_id and message.provider_message_id.startswith("SM")
        assert message.status == Message.Status.QUEUED
        assert message.body.startswith(f"Hi {message.conversation.person.first_name}, it's ")
    with django_capture_on_commit_callbacks(execute=True):
        delivered = simulator_tick(now=later())
    assert delivered == 6  # "sent" then "delivered" for each
    assert SimulatedEvent.objects.filter(response_status=204).count() == 6
    statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses == {Message.Status.DELIVERED}
    assert set(Conversation.objects.values_list("last_delivery_status", flat=True)) == {"delivered"}
    assert WebhookEvent.objects.filter(outcome="processed").count() == 6


def test_reply_is_matched_and_stop_word_opts_out_with_one_confirmation(
    org: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    [first] = send_first(campaign, texter, django_capture_on_commit_callbacks)
    account = first.provider_account
    simulator_inbound(
        account=account, from_number=first.to_e164, to_number=first.from_e164, body="Who is this?"
    )
    with django_capture_on_commit_callbacks(execute=True):
        simulator_tick(now=later())
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.NEEDS_REPLY
    assert conversation.messages.filter(direction="in").get().body == "Who is this?"
    for _ in range(2):  # the person sends STOP twice: one opt-out, one confirmation
        simulator_inbound(
            account=account, from_number=first.to_e164, to_number=first.from_e164, body=" Arrêt! "
        )
        with django_capture_on_commit_callbacks(execute=True):
            simulator_tick(now=later())
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPTED_OUT
    optout = OptOut.objects.get()
    assert optout.source == "keyword" and optout.language == "fr"
    confirmations = Message.objects.filter(is_automatic=True)
    assert confirmations.count() == 1
    assert confirmations.get().provider_message_id  # handed to the provider
    # one confirmation, in the language the person wrote in (French here), naming the organization
    from mobiliza.texting.optout import confirmation_text

    body = confirmations.get().body
    assert body == confirmation_text(
        language="fr", organization_name=conversation.organization.name
    )
    assert body != confirmation_text(
        language="en", organization_name=conversation.organization.name
    )
    assert conversation.organization.name in body
    conversation.person.refresh_from_db()
    assert conversation.person.consent_sms is False

"""One click, one message: idempotency, the held-key guard, the outbox's retries by error class."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.providers.base import (
    ConnectionCheck,
    ErrorClass,
    InboundMessage,
    MessageStatus,
    MessageStatusEvent,
    ProviderError,
    SendResult,
)
from mobiliza.providers.models import SimulatedEvent
from mobiliza.providers.tests.factories import make_twilio_account
from mobiliza.texting.models import Conversation, Message, OptOut
from mobiliza.texting.services import (
    SendRefusedError,
    assignment_request,
    message_send,
    opt_out_record,
    outbox_dispatch,
    outbox_retry_due,
)
from mobiliza.texting.tests.factories import make_campaign, make_texter

pytestmark = pytest.mark.django_db


class ScriptedCarrier:
    """A provider at the network edge that answers from a script (errors, then success)."""

    kind = "scripted"

    def __init__(self, *outcomes: ProviderError | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    def send_sms(
        self, *, from_number: str, to_number: str, body: str, status_callback: str
    ) -> SendResult:
        self.calls.append(to_number)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return SendResult(
            provider_message_id=f"SM{len(self.calls):032d}", status=MessageStatus.QUEUED
        )

    def check_connection(self) -> ConnectionCheck:
        return ConnectionCheck(ok=True, message="")

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        return False

    def parse_status(self, params: Mapping[str, str]) -> MessageStatusEvent:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        raise NotImplementedError


@pytest.fixture
def setup(org: Any) -> tuple[Any, Any, Conversation]:
    # A provider reached over the network (Twilio): sends wait in the durable outbox, which
    # these tests drive with a scripted carrier at the network edge.
    make_twilio_account(org)
    campaign = make_campaign(org, people=2)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = (
        Conversation.objects.select_related("campaign", "person").filter(assigned_to=texter).first()
    )
    assert conversation is not None
    return campaign, texter, conversation


def test_double_click_and_held_key_send_the_first_message_once(setup: Any) -> None:
    _campaign, texter, conversation = setup
    results = [
        message_send(
            conversation=Conversation.objects.select_related("campaign", "person").get(
                pk=conversation.pk
            ),
            membership=texter,
            idempotency_key=f"key-{i}",
            first_message=True,
        )
        for i in range(5)  # five keydown repeats, each with a fresh client key
    ]
    assert [created for _m, created in results] == [True, False, False, False, False]
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_reply_with_the_same_key_is_one_message(setup: Any) -> None:
    _campaign, texter, conversation = setup
    message_send(conversation=conversation, membership=texter, idempotency_key="first")
    one, created_one = message_send(
        conversation=conversation, membership=texter, idempotency_key="abc", body="See you there"
    )
    two, created_two = message_send(
        conversation=conversation, membership=texter, idempotency_key="abc", body="See you there"
    )
    assert created_one and not created_two and one.pk == two.pk
    three, created = message_send(
        conversation=conversation, membership=texter, idempotency_key="def", body="Bye"
    )
    assert created and three.pk != one.pk
    assert Message.objects.filter(conversation=conversation).count() == 3


def test_another_texter_cannot_send_in_my_conversation(setup: Any) -> None:
    campaign, _texter, conversation = setup
    intruder = make_texter(campaign)
    with pytest.raises(SendRefusedError) as refused:
        message_send(conversation=conversation, membership=intruder, idempotency_key="x")
    assert refused.value.code == "not_assigned"
    assert not Message.objects.exists()


def test_opted_out_number_is_refused_at_click_and_blocked_in_the_outbox(
    setup: Any, org: Any
) -> None:
    _campaign, texter, conversation = setup
    message, _ = message_send(conversation=conversation, membership=texter, idempotency_key="k")
    # The person opts out while the message waits in the outbox: it never reaches the provider.
    opt_out_record(organization=org, phone_e164=conversation.phone_e164, source="admin", actor=None)
    carrier = ScriptedCarrier()
    assert outbox_dispatch(message_id=message.pk, provider=carrier) == "skipped"
    message.refresh_from_db()
    assert message.status == Message.Status.BLOCKED
    assert carrier.calls == []
    conversation.refresh_from_db()
    with pytest.raises(SendRefusedError) as refused:
        message_send(
            conversation=conversation, membership=texter, idempotency_key="k2", body="Hello?"
        )
    assert refused.value.code == "opted_out"


def _queued(setup: Any) -> Message:
    _campaign, texter, conversation = setup
    message, _ = message_send(conversation=conversation, membership=texter, idempotency_key="k")
    return message


def test_transient_errors_are_retried_with_growing_backoff(setup: Any) -> None:
    message = _queued(setup)
    transient = ProviderError("Service unavailable", error_class=ErrorClass.TRANSIENT, code="20503")
    carrier = ScriptedCarrier(transient, transient, None)
    now = timezone.now()
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=now) == "retry"
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED and message.error_code == "20503"
    first_wait = message.next_attempt_at - now
    assert dt.timedelta(seconds=29) < first_wait <= dt.timedelta(seconds=31)
    # Not due yet: nothing happens.
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=now) == "skipped"
    now = message.next_attempt_at
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=now) == "retry"
    message.refresh_from_db()
    assert message.next_attempt_at - now == dt.timedelta(seconds=60)
    now = message.next_attempt_at
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=now) == "handed_over"
    message.refresh_from_db()
    assert message.provider_message_id and message.attempts == 3 and message.error_code == ""
    assert len(carrier.calls) == 3


def test_rate_limits_wait_longer_and_permanent_errors_never_retry(setup: Any) -> None:
    message = _queued(setup)
    limited = ProviderError("Too many requests", error_class=ErrorClass.RATE_LIMITED, code="20429")
    carrier = ScriptedCarrier(limited)
    now = timezone.now()
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=now) == "retry"
    message.refresh_from_db()
    assert message.next_attempt_at - now == dt.timedelta(seconds=60)

    invalid = ProviderError("Invalid 'To'", error_class=ErrorClass.INVALID_NUMBER, code="21211")
    carrier = ScriptedCarrier(invalid)
    assert (
        outbox_dispatch(message_id=message.pk, provider=carrier, now=message.next_attempt_at)
        == "failed"
    )
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and message.error_code == "21211"
    assert outbox_retry_due(now=timezone.now() + dt.timedelta(days=1)) == 0


def test_transient_errors_give_up_after_the_maximum(setup: Any) -> None:
    message = _queued(setup)
    transient = ProviderError("down", error_class=ErrorClass.TRANSIENT, code="20500")
    carrier = ScriptedCarrier(*([transient] * 10))
    now = timezone.now()
    outcomes = []
    for _ in range(6):
        outcomes.append(outbox_dispatch(message_id=message.pk, provider=carrier, now=now))
        now += dt.timedelta(hours=2)
    assert outcomes == ["retry", "retry", "retry", "retry", "failed", "skipped"]
    assert len(carrier.calls) == 5


def test_carrier_opt_out_error_records_an_opt_out(setup: Any, org: Any) -> None:
    message = _queued(setup)
    carrier = ScriptedCarrier(
        ProviderError("Unsubscribed recipient", error_class=ErrorClass.OPTED_OUT, code="21610")
    )
    assert outbox_dispatch(message_id=message.pk, provider=carrier) == "failed"
    assert OptOut.objects.filter(
        organization=org, phone_e164=message.to_e164, source="carrier"
    ).exists()


def test_outbox_message_waits_for_texting_hours(org: Any) -> None:
    make_twilio_account(org)
    campaign = make_campaign(org, people=1, hours_start=dt.time(9), hours_end=dt.time(21))
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    noon = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
    message, _ = message_send(
        conversation=conversation, membership=texter, idempotency_key="k", now=noon
    )
    carrier = ScriptedCarrier()
    night = dt.datetime(2026, 1, 15, 23, 0, tzinfo=dt.UTC)
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=night) == "deferred"
    assert carrier.calls == []
    morning = dt.datetime(2026, 1, 16, 10, 0, tzinfo=dt.UTC)
    assert outbox_dispatch(message_id=message.pk, provider=carrier, now=morning) == "handed_over"


def test_simulator_accepts_the_message_inside_the_click(org: Any) -> None:
    """The simulator's acceptance is rows in our database: the click records the message with
    its SID in the same transaction (nothing waits in the outbox, no second commit)."""
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    message, created = message_send(
        conversation=conversation, membership=texter, idempotency_key="k"
    )
    assert created
    message.refresh_from_db()
    assert message.provider_message_id and message.attempts == 1 and message.sent_at
    assert message.next_attempt_at is None and message.status == Message.Status.QUEUED
    assert SimulatedEvent.objects.filter(params__MessageSid=message.provider_message_id).exists()
    assert outbox_dispatch(message_id=message.pk) == "skipped"  # nothing left to hand over
    again, created = message_send(
        conversation=conversation, membership=texter, idempotency_key="k2", first_message=True
    )
    assert not created and again.pk == message.pk  # the first message is sent once


def test_simulator_refusal_at_the_click_goes_to_the_outbox_retries(org: Any) -> None:
    campaign = make_campaign(org, people=1, account_options={"api_error_rate": 1.0})
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    now = timezone.now()
    message, _ = message_send(
        conversation=conversation, membership=texter, idempotency_key="k", now=now
    )
    message.refresh_from_db()
    assert message.provider_message_id is None and message.status == Message.Status.QUEUED
    assert message.attempts == 1 and message.error_code == "20500"
    assert message.next_attempt_at == now + dt.timedelta(seconds=30)

"""Assignment, sending and inbound ingestion under real concurrency: threads with their own
PostgreSQL connections (skipped on SQLite)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import connection

from mobiliza.core.testing.concurrency import run_together
from mobiliza.texting.models import Conversation, Message
from mobiliza.texting.services import assignment_request, message_send, opt_out_record
from mobiliza.texting.tests.factories import make_campaign, make_texter

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def test_concurrent_batch_requests_never_assign_a_contact_twice(org: Any) -> None:
    campaign = make_campaign(org, people=120, batch_size=10, max_per_texter=10)
    texters = [make_texter(campaign) for _ in range(16)]
    got: dict[int, int] = {}

    def request(texter: Any) -> None:
        got[texter.pk] = assignment_request(campaign=campaign, membership=texter)

    assert run_together(request, texters) == []
    assert sum(got.values()) == 120  # 12 texters got 10, the others what was left (0)
    assert Conversation.objects.filter(campaign=campaign, assigned_to__isnull=True).count() == 0
    per = Counter(
        Conversation.objects.filter(campaign=campaign).values_list("assigned_to", flat=True)
    )
    assert max(per.values()) <= 10
    assert sum(per.values()) == 120


def test_one_texter_hammering_request_stays_under_the_maximum(org: Any) -> None:
    campaign = make_campaign(org, people=60, batch_size=10, max_per_texter=25)
    texter = make_texter(campaign)

    def request(_i: int) -> None:
        try:
            assignment_request(campaign=campaign, membership=texter)
        except Exception as exc:
            if "at most" not in str(exc):
                raise

    assert run_together(request, list(range(8))) == []
    assert Conversation.objects.filter(assigned_to=texter).count() == 25


def test_parallel_clicks_on_the_same_first_message_send_once(org: Any) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation_id = Conversation.objects.get().pk

    def click(i: int) -> None:
        conversation = Conversation.objects.select_related("campaign", "person").get(
            pk=conversation_id
        )
        message_send(
            conversation=conversation,
            membership=texter,
            idempotency_key=f"tab-{i}",
            first_message=True,
        )

    errors = run_together(click, list(range(10)))
    assert all("already started" in str(e) for e in errors), errors
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1


def test_opt_out_racing_sends_leaves_nothing_for_the_provider(org: Any) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    message_send(conversation=conversation, membership=texter, idempotency_key="first")

    def act(i: int) -> None:
        if i == 0:
            opt_out_record(
                organization=org, phone_e164=conversation.phone_e164, source="admin", actor=None
            )
            return
        fresh = Conversation.objects.select_related("campaign", "person").get(pk=conversation.pk)
        try:
            message_send(
                conversation=fresh, membership=texter, idempotency_key=f"r{i}", body="Hello?"
            )
        except Exception as exc:
            if "opted out" not in str(exc):
                raise

    assert run_together(act, list(range(6))) == []
    from mobiliza.texting.services import outbox_retry_due

    outbox_retry_due()
    from mobiliza.texting.models import OptOut

    optout = OptOut.objects.get()
    assert not Message.objects.filter(
        to_e164=conversation.phone_e164,
        provider_message_id__isnull=False,
        sent_at__gt=optout.created_at,
    ).exists()
    assert not Message.objects.filter(status="queued", provider_message_id__isnull=True).exists()

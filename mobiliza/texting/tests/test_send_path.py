"""The send click's hot path (issue 7): the same behaviour with fewer statements. Concurrency
cases need PostgreSQL (threads with their own connections) and are skipped on SQLite."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from mobiliza.texting.models import Conversation, Message
from mobiliza.texting.services import assignment_request, message_send
from mobiliza.texting.tests.factories import make_campaign, make_texter


def _run(target: Any, args: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(args))

    def work(arg: Any) -> None:
        try:
            barrier.wait()
            target(arg)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_replies_with_one_key_are_one_message_and_no_error(org: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    message_send(conversation=conversation, membership=texter, idempotency_key="first")
    results: list[tuple[int, bool]] = []

    def reply(_i: int) -> None:
        fresh = Conversation.objects.select_related("campaign", "person").get(pk=conversation.pk)
        message, created = message_send(
            conversation=fresh, membership=texter, idempotency_key="same", body="See you there"
        )
        results.append((message.pk, created))

    assert _run(reply, list(range(8))) == []
    replies = Message.objects.filter(conversation=conversation, body="See you there")
    assert replies.count() == 1
    assert {pk for pk, _created in results} == {replies.get().pk}
    assert sum(created for _pk, created in results) == 1

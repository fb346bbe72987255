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


def _card(response: Any) -> str:
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="send-card"')
    return body


@pytest.mark.django_db
def test_the_card_after_each_click_is_the_next_contact_with_the_counts(org: Any) -> None:
    from django.urls import reverse

    from conftest import client_for
    from mobiliza.texting import selectors

    campaign = make_campaign(org, people=3, batch_size=3)
    texter = make_texter(campaign)
    other = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    client = client_for(texter)
    mine = list(Conversation.objects.filter(assigned_to=texter).order_by("id"))
    assert len(mine) == 3
    # the card's one statement gives what the two separate reads give
    assert selectors.send_card(campaign=campaign, membership=texter) == (
        selectors.next_first_message(campaign=campaign, membership=texter),
        selectors.texter_counts(campaign=campaign, membership=texter),
    )
    for i, conversation in enumerate(mine):
        body = _card(
            client.post(
                reverse("texting:conversation_send", args=[conversation.public_id]),
                {"first": "1", "idempotency_key": f"k{i}"},
                headers={"HX-Request": "true"},
            )
        )
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.WAITING
        if i < 2:
            following = mine[i + 1]
            person = following.person
            assert f'data-testid="send-to">{person.full_name}<' in body
            assert f"{2 - i} left" in body
            name = texter.user.full_name.split()[0]
            assert f"Hi {person.first_name}, it&#x27;s {name}. Will you vote?" in body
            assert str(following.public_id) in body
        else:
            assert "All your first messages are sent." in body
            assert 'data-testid="request-batch"' in body
            assert "to answer" not in body
        assert selectors.send_card(campaign=campaign, membership=texter) == (
            selectors.next_first_message(campaign=campaign, membership=texter),
            selectors.texter_counts(campaign=campaign, membership=texter),
        )
    Conversation.objects.filter(pk=mine[0].pk).update(status=Conversation.Status.NEEDS_REPLY)
    page = client.get(reverse("texting:send", args=[campaign.public_id])).content.decode()
    assert "1 reply to answer" in page
    assert selectors.send_card(campaign=campaign, membership=texter)[1] == {
        "new": 0,
        "needs_reply": 1,
        "total": 3,
    }
    # another texter of the campaign, with no contacts yet
    empty = client_for(other).get(reverse("texting:send", args=[campaign.public_id]))
    assert "You have no contacts yet." in empty.content.decode()
    assert selectors.send_card(campaign=campaign, membership=other) == (
        None,
        {"new": 0, "needs_reply": 0, "total": 0},
    )


@pytest.mark.django_db
def test_a_refused_click_shows_the_error_and_the_same_contact(org: Any) -> None:
    import datetime as dt

    from django.urls import reverse

    from conftest import client_for

    campaign = make_campaign(org, people=2, batch_size=2)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    campaign.hours_start, campaign.hours_end = dt.time(0, 0), dt.time(0, 0, 1)
    campaign.save()
    client = client_for(texter)
    first = Conversation.objects.filter(assigned_to=texter).order_by("id").first()
    assert first is not None
    body = _card(
        client.post(
            reverse("texting:conversation_send", args=[first.public_id]),
            {"first": "1", "idempotency_key": "k"},
            headers={"HX-Request": "true"},
        )
    )
    assert "Outside texting hours" in body
    assert str(first.public_id) in body  # still the next contact
    assert "2 left" in body
    assert not Message.objects.filter(conversation=first).exists()

"""The send click's hot path (issue 7): the same behaviour with fewer statements. Concurrency
cases need PostgreSQL (threads with their own connections) and are skipped on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from mobiliza.core.testing.concurrency import run_together
from mobiliza.texting.models import Conversation, Message
from mobiliza.texting.services import assignment_request, message_send
from mobiliza.texting.tests.factories import make_campaign, make_texter


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

    assert run_together(reply, list(range(8))) == []
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_first_clicks_read_and_lock_once_and_send_once(org: Any) -> None:
    from mobiliza.texting.services import first_message_click

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    public_id = Conversation.objects.get().public_id
    results: list[tuple[int | None, str]] = []

    def click(_i: int) -> None:
        _conversation, message, refused = first_message_click(
            membership=texter, conversation_id=public_id
        )
        results.append((message.pk if message else None, str(refused or "")))

    assert run_together(click, list(range(10))) == []
    sent = Message.objects.get(conversation__public_id=public_id)
    assert results == [(sent.pk, "")] * 10
    assert sent.provider_message_id  # handed to the simulator inside the click


@pytest.mark.django_db
def test_first_click_access_rule_and_refusals(org: Any) -> None:
    from django.http import Http404

    from mobiliza.texting.services import first_message_click, opt_out_record

    campaign = make_campaign(org, people=3)
    texter = make_texter(campaign)
    stranger = make_texter(campaign)
    supervisor = make_texter(campaign, role="admin")
    assignment_request(campaign=campaign, membership=texter)
    one, two, three = Conversation.objects.filter(assigned_to=texter).order_by("id")
    with pytest.raises(Http404):
        first_message_click(membership=stranger, conversation_id=one.public_id)
    with pytest.raises(Http404):
        first_message_click(membership=texter, conversation_id="not-a-uuid")
    assert not Message.objects.exists()
    # a supervisor may send in a texter's conversation
    conversation, message, refused = first_message_click(
        membership=supervisor, conversation_id=one.public_id
    )
    assert refused is None and message is not None and conversation.pk == one.pk
    # the second press gives the same message back
    _c, again, refused = first_message_click(membership=texter, conversation_id=one.public_id)
    assert refused is None and again is not None and again.pk == message.pk
    # an opt-out is checked at the click
    opt_out_record(organization=org, phone_e164=two.phone_e164, source="admin", actor=None)
    conversation, message, refused = first_message_click(
        membership=texter, conversation_id=two.public_id
    )
    assert message is None and refused is not None and conversation.pk == two.pk
    assert "opted out" in str(refused)
    # a paused campaign refuses with its message, nothing written
    type(campaign).objects.filter(pk=campaign.pk).update(status="paused")
    _c, message, refused = first_message_click(membership=texter, conversation_id=three.public_id)
    assert message is None and "not active" in str(refused)
    assert Message.objects.filter(conversation=three).count() == 0
    three.refresh_from_db()
    assert three.status == Conversation.Status.NEW

"""The high-volume inbound path (issue 7): the middleware fast path, the per-process account
cache (a rotated token is never trusted from the cache), the one-statement store, and the
set-based batch drain of stored replies (matched, unmatched, stop words, redeliveries)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from mobiliza.providers.base import WebhookKind
from mobiliza.providers.models import WebhookEvent
from mobiliza.providers.services import (
    provider_account_update,
    webhook_process_batch,
    webhook_process_pending,
    webhook_store,
    webhook_url,
)
from mobiliza.providers.tests.factories import make_twilio_account
from mobiliza.providers.tests.test_webhooks import inbound_params, post_signed
from mobiliza.texting.models import Conversation, Message, OptOut

pytestmark = pytest.mark.django_db


def test_webhooks_skip_the_session_and_csrf_middleware(org: Any, client: Client) -> None:
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    client.cookies["sessionid"] = "whatever"
    response = post_signed(client, url, inbound_params())
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.get("Vary", "")
    assert response["X-Request-Id"]  # still logged by the request-log middleware
    assert client.get(url.split("://", 1)[1].split("/", 1)[1]).status_code in (404, 405)
    assert client.post("/webhooks/sms/x/nowhere/").status_code == 404


def test_a_rotated_token_is_read_again_not_trusted_from_the_cache(org: Any, client: Client) -> None:
    account = make_twilio_account(org, token="old-token-0123456789")
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    params = inbound_params(sid="SM" + "1" * 32)
    assert post_signed(client, url, params, token="old-token-0123456789").status_code == 200
    # Another process rotates the token: this process's cache is not told (no signal here).
    from mobiliza.providers.crypto import encrypt

    type(account).objects.filter(pk=account.pk).update(
        auth_token_encrypted=encrypt("new-token-0123456789")
    )
    new = inbound_params(sid="SM" + "2" * 32)
    assert post_signed(client, url, new, token="new-token-0123456789").status_code == 200
    old = inbound_params(sid="SM" + "3" * 32)
    assert post_signed(client, url, old, token="old-token-0123456789").status_code == 403
    assert WebhookEvent.objects.count() == 2
    # A save through the service drops the cache at once.
    provider_account_update(
        account=account, actor=None, name="T", account_sid=account.account_sid, auth_token="x" * 20
    )
    again = inbound_params(sid="SM" + "4" * 32)
    assert post_signed(client, url, again, token="new-token-0123456789").status_code == 403


def test_store_is_one_row_per_provider_id_and_counts_redeliveries(org: Any) -> None:
    account = make_twilio_account(org)
    first, created = webhook_store(
        account=account, kind=WebhookKind.MESSAGE_INBOUND, params=inbound_params()
    )
    assert created and first is not None and first.deliveries == 1
    again, created = webhook_store(
        account=account, kind=WebhookKind.MESSAGE_INBOUND, params=inbound_params()
    )
    assert not created and again is not None and again.pk == first.pk and again.deliveries == 2
    missing, created = webhook_store(
        account=account, kind=WebhookKind.MESSAGE_INBOUND, params={"Body": "no id"}
    )
    assert missing is None and not created


def test_batch_drain_matches_replies_like_one_by_one(
    org: Any, client: Client, settings: Any
) -> None:
    from mobiliza.texting.tests.factories import make_campaign

    settings.WEBHOOK_PROCESS_INLINE = False
    account = make_twilio_account(org)
    make_campaign(org, people=3)
    conversations = list(Conversation.objects.order_by("id"))
    for conversation in conversations:
        conversation.sender_e164 = "+351910000001"
        conversation.status = Conversation.Status.WAITING
        conversation.save()
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    sends = [
        inbound_params(sid=f"SM{1:032d}", frm=conversations[0].phone_e164, body="Yes!"),
        inbound_params(sid=f"SM{2:032d}", frm=conversations[1].phone_e164, body="STOP"),
        inbound_params(sid=f"SM{3:032d}", frm="+351939999999", body="Who is this?"),
        inbound_params(sid=f"SM{4:032d}", frm=conversations[0].phone_e164, body="Saturday ok"),
        inbound_params(sid=f"SM{1:032d}", frm=conversations[0].phone_e164, body="Yes!"),
    ]
    for params in sends:
        assert post_signed(client, url, params).status_code == 200
    assert WebhookEvent.objects.filter(outcome="pending").count() == 4
    assert webhook_process_batch(batch=3) == 3  # oldest first, in batches
    assert webhook_process_pending() == 1
    assert webhook_process_pending() == 0
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"processed"}
    inbound = Message.objects.filter(direction="in").order_by("id")
    assert [m.provider_message_id[-1] for m in inbound] == ["1", "2", "3", "4"]
    assert [m.conversation_id for m in inbound] == [
        conversations[0].pk,
        conversations[1].pk,
        None,  # unmatched: kept for the admins
        conversations[0].pk,
    ]
    statuses = dict(Conversation.objects.values_list("id", "status"))
    assert statuses[conversations[0].pk] == Conversation.Status.NEEDS_REPLY
    assert statuses[conversations[1].pk] == Conversation.Status.OPTED_OUT
    assert statuses[conversations[2].pk] == Conversation.Status.WAITING
    assert OptOut.objects.filter(phone_e164=conversations[1].phone_e164).count() == 1
    # Exactly one confirmation for the stop word.
    assert Message.objects.filter(direction="out", to_e164=conversations[1].phone_e164).count() == 1


def test_a_bad_event_in_a_batch_does_not_block_the_others(
    org: Any, client: Client, settings: Any
) -> None:
    settings.WEBHOOK_PROCESS_INLINE = False
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    assert post_signed(client, url, inbound_params(sid=f"SM{1:032d}")).status_code == 200
    assert post_signed(client, url, inbound_params(sid=f"SM{2:032d}")).status_code == 200
    # A stored payload the handler cannot read (no body at all): the batch fails, then each
    # event is processed alone; the bad one is kept as an error for an admin, the other goes on.
    WebhookEvent.objects.filter(provider_id=f"SM{2:032d}").update(
        payload={**inbound_params(sid=f"SM{2:032d}"), "Body": None}
    )
    assert webhook_process_pending() == 2
    outcomes = dict(WebhookEvent.objects.values_list("provider_id", "outcome"))
    assert outcomes[f"SM{1:032d}"] == "processed"
    assert outcomes[f"SM{2:032d}"] == "error"
    assert Message.objects.filter(provider_message_id=f"SM{1:032d}").count() == 1

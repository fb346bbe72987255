"""Webhooks: signature validation with the SDK's own RequestValidator, raw-first storage,
deduplication by provider id, matching and the unmatched inbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from mobiliza.providers.base import WebhookKind
from mobiliza.providers.models import WebhookEvent
from mobiliza.providers.services import webhook_url
from mobiliza.providers.tests.factories import TWILIO_TOKEN, make_twilio_account
from mobiliza.texting.models import Conversation, Message

pytestmark = pytest.mark.django_db


def inbound_params(
    sid: str = "SM" + "a" * 32, body: str = "Yes!", frm: str = "+351912000000"
) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": frm,
        "To": "+351910000001",
        "Body": body,
        "NumMedia": "0",
    }


def post_signed(
    client: Client,
    url: str,
    params: dict[str, str],
    token: str = TWILIO_TOKEN,
    signed_url: str | None = None,
) -> Any:
    signature = RequestValidator(token).compute_signature(signed_url or url, params)
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.post("/" + path, data=params, headers={"X-Twilio-Signature": signature})


def test_valid_signature_is_stored_and_processed(org: Any, client: Client) -> None:
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    response = post_signed(client, url, inbound_params())
    assert response.status_code == 200
    assert b"<Response>" in response.content
    event = WebhookEvent.objects.get()
    assert event.outcome == "processed" and event.payload["Body"] == "Yes!"
    # No conversation with that number: kept for admins in the unmatched inbox.
    unmatched = Message.objects.get()
    assert unmatched.conversation is None and unmatched.from_e164 == "+351912000000"


@pytest.mark.parametrize("case", ["forged", "missing", "wrong_url", "wrong_token", "tampered"])
def test_bad_signatures_get_403_and_change_nothing(org: Any, client: Client, case: str) -> None:
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    params = inbound_params()
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    if case == "forged":
        response = client.post(path, data=params, headers={"X-Twilio-Signature": "Zm9yZ2VkIQ=="})
    elif case == "missing":
        response = client.post(path, data=params)
    elif case == "wrong_url":
        response = post_signed(client, url, params, signed_url=url.replace("/inbound/", "/status/"))
    elif case == "wrong_token":
        response = post_signed(client, url, params, token="another-accounts-token-000")
    else:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        response = client.post(
            path, data={**params, "Body": "STOP"}, headers={"X-Twilio-Signature": signature}
        )
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()


def test_unknown_account_token_is_404(client: Client) -> None:
    response = client.post("/webhooks/sms/not-a-token/inbound/", data=inbound_params())
    assert response.status_code == 404


def test_redelivered_inbound_is_recorded_once(org: Any, client: Client) -> None:
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    for _ in range(3):
        assert post_signed(client, url, inbound_params()).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.deliveries == 3
    assert Message.objects.count() == 1


def test_webhook_for_one_organization_cannot_touch_another(
    org: Any, other_org: Any, client: Client
) -> None:
    from mobiliza.texting.tests.factories import make_campaign

    mine = make_twilio_account(org, token="first-organization-token-123")
    make_campaign(other_org, people=1)
    theirs = Conversation.objects.get(organization=other_org)
    theirs.sender_e164 = "+351910000001"
    theirs.save()
    url = webhook_url(account=mine, kind=WebhookKind.MESSAGE_INBOUND)
    params = inbound_params(frm=theirs.phone_e164, body="STOP")
    assert post_signed(client, url, params, token="first-organization-token-123").status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == "new"
    assert not Message.objects.filter(organization=other_org).exists()
    assert not Message.objects.filter(conversation=theirs).exists()


def test_status_callbacks_never_move_backwards(org: Any, client: Client) -> None:
    from mobiliza.texting.tests.factories import make_campaign

    account = make_twilio_account(org)
    campaign = make_campaign(org, people=1)
    conversation = campaign.conversations.get()
    message = Message.objects.create(
        organization=org,
        conversation=conversation,
        direction="out",
        body="Hi",
        from_e164="+351910000001",
        to_e164=conversation.phone_e164,
        provider_account=account,
        provider_message_id="SM" + "b" * 32,
        status="queued",
    )
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_STATUS)
    base = {"MessageSid": message.provider_message_id, "AccountSid": "AC" + "0" * 32}
    for status in ["delivered", "sent", "queued", "delivered"]:
        assert post_signed(client, url, {**base, "MessageStatus": status}).status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None
    assert WebhookEvent.objects.count() == 3  # delivered twice = one event
    # A callback for a message we don't know is kept, not lost.
    post_signed(client, url, {**base, "MessageSid": "SM" + "c" * 32, "MessageStatus": "sent"})
    assert WebhookEvent.objects.filter(outcome="unmatched").count() == 1


def test_store_only_mode_then_processed_in_order(org: Any, client: Client, settings: Any) -> None:
    from mobiliza.providers.services import webhook_process_pending

    settings.WEBHOOK_PROCESS_INLINE = False
    account = make_twilio_account(org)
    url = webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
    for i in range(3):
        params = inbound_params(sid=f"SM{i:032d}")
        assert post_signed(client, url, params).status_code == 200
    assert post_signed(client, url, inbound_params(sid=f"SM{0:032d}")).status_code == 200
    assert WebhookEvent.objects.filter(outcome="pending").count() == 3
    assert not Message.objects.exists()
    assert webhook_process_pending() == 3
    assert webhook_process_pending() == 0
    assert Message.objects.count() == 3
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"processed"}

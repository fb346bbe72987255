"""The Twilio crash window: a process that dies after Twilio accepted a message but before the
SID was recorded must not send it again. The outbox commits a "sending" claim before the call;
a stale claim is checked with Twilio (through the SDK, over a fake HTTP layer) before any resend."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from typing import Any

import pytest
from django.utils import timezone
from twilio.http import HttpClient
from twilio.http.response import Response

from mobiliza.providers import twilio as twilio_module
from mobiliza.providers.tests.factories import make_twilio_account
from mobiliza.texting.models import Conversation, Message
from mobiliza.texting.services import (
    assignment_request,
    message_send,
    outbox_dispatch,
    outbox_retry_due,
)
from mobiliza.texting.tests.factories import make_campaign, make_texter

pytestmark = pytest.mark.django_db
SID = "SM" + "7" * 32


class FakeTwilioHttp(HttpClient):
    """Twilio's REST API at the network edge: records requests, answers from a script."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.requests: list[tuple[str, str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.refuse_lists = False

    def request(
        self, method: str, uri: str, params: Any = None, data: Any = None, **kw: Any
    ) -> Response:
        self.requests.append((method, uri, data or params))
        if method == "POST":
            message = {
                "sid": SID if not self.accepted else "SM" + "8" * 32,
                "account_sid": "AC" + "0" * 32,
                "status": "queued",
                "num_segments": "1",
                "body": data["Body"],
                "to": data["To"],
                "from": data["From"],
                "date_created": email.utils.format_datetime(timezone.now()),
            }
            self.accepted.append(message)
            return Response(201, json.dumps(message))
        if self.refuse_lists:
            return Response(503, json.dumps({"code": 20503, "message": "down", "status": 503}))
        wanted = params or {}
        found = [
            m
            for m in self.accepted
            if m["to"] == wanted.get("To") and m["from"] == wanted.get("From")
        ]
        return Response(200, json.dumps({"messages": found, "next_page_uri": None, "page": 0}))

    def posts(self) -> int:
        return sum(1 for method, *_ in self.requests if method == "POST")


class Crash(BaseException):
    """The process dies (not an error the code handles)."""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTwilioHttp:
    http = FakeTwilioHttp()
    monkeypatch.setattr(twilio_module, "http_client_factory", lambda: http)
    return http


def _queued_message(org: Any) -> Message:
    make_twilio_account(org)
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    message, _ = message_send(conversation=conversation, membership=texter, idempotency_key="k")
    assert message.provider_message_id is None  # waiting in the outbox (Twilio: over the network)
    return message


def _dies_after(accepted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    real = twilio_module.TwilioProvider.send_sms

    def send_then_die(self: Any, **kwargs: Any) -> Any:
        if accepted:
            real(self, **kwargs)  # Twilio has it...
        raise Crash  # ...and the process dies before the SID is written

    monkeypatch.setattr(twilio_module.TwilioProvider, "send_sms", send_then_die)


def test_a_crash_after_twilio_accepted_never_sends_twice(
    org: Any, fake: FakeTwilioHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _queued_message(org)
    now = timezone.now()
    with monkeypatch.context() as patch:
        _dies_after(True, patch)
        with pytest.raises(Crash):
            outbox_dispatch(message_id=message.pk, now=now)
    message.refresh_from_db()
    assert message.sending_at is not None and message.provider_message_id is None
    assert message.attempts == 1 and fake.posts() == 1
    # A retry soon after neither resends nor touches the claim (the call may still be running).
    assert outbox_dispatch(message_id=message.pk, now=now) == "skipped"
    outbox_retry_due(now=now + dt.timedelta(minutes=1))
    assert fake.posts() == 1
    # Later the stale claim is checked with Twilio: it has the message, so its SID is recorded.
    outbox_retry_due(now=now + dt.timedelta(minutes=10))
    message.refresh_from_db()
    assert message.provider_message_id == SID and message.sending_at is None
    assert fake.posts() == 1  # never sent twice
    assert outbox_retry_due(now=now + dt.timedelta(hours=1)) == 0


def test_a_crash_before_twilio_accepted_is_sent_once_later(
    org: Any, fake: FakeTwilioHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _queued_message(org)
    now = timezone.now()
    with monkeypatch.context() as patch:
        _dies_after(False, patch)
        with pytest.raises(Crash):
            outbox_dispatch(message_id=message.pk, now=now)
    assert fake.posts() == 0
    # Twilio cannot be asked: the claim stays, nothing is sent blind.
    fake.refuse_lists = True
    outbox_retry_due(now=now + dt.timedelta(minutes=10))
    message.refresh_from_db()
    assert message.sending_at is not None and fake.posts() == 0
    # Twilio answers it never got the message: back in the outbox, sent once.
    fake.refuse_lists = False
    assert outbox_retry_due(now=now + dt.timedelta(minutes=11)) == 1
    message.refresh_from_db()
    assert message.provider_message_id and message.sending_at is None
    assert message.attempts == 2 and fake.posts() == 1


def test_a_normal_twilio_send_claims_then_records(org: Any, fake: FakeTwilioHttp) -> None:
    message = _queued_message(org)
    assert outbox_dispatch(message_id=message.pk) == "handed_over"
    message.refresh_from_db()
    assert message.provider_message_id == SID and message.sending_at is None
    assert message.attempts == 1 and fake.posts() == 1
    assert outbox_dispatch(message_id=message.pk) == "skipped"

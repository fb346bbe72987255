"""The Twilio client through a fake HTTP layer at the network edge: the SDK builds the requests
and parses the responses itself."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response

from mobiliza.providers import twilio as twilio_module
from mobiliza.providers.base import ErrorClass, MessageStatus, ProviderError
from mobiliza.providers.crypto import decrypt
from mobiliza.providers.services import provider_account_check
from mobiliza.providers.tests.factories import TWILIO_TOKEN, make_twilio_account
from mobiliza.providers.twilio import TwilioProvider, classify_error, map_status

pytestmark = pytest.mark.django_db
SID = "AC" + "0" * 32


class FakeTwilioHttp(HttpClient):
    """Records each request the SDK makes and answers from a queue of (status, json) pairs."""

    def __init__(self, *responses: tuple[int, dict[str, Any]]) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        uri: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(
            {"method": method, "uri": uri, "data": data, "auth": auth, "headers": headers}
        )
        status, body = self.responses.pop(0)
        return Response(status, json.dumps(body))


def message_json(status: str = "queued") -> dict[str, Any]:
    return {
        "sid": "SM" + "1" * 32,
        "account_sid": SID,
        "status": status,
        "num_segments": "2",
        "price": None,
        "body": "Hi",
        "to": "+351912000000",
        "from": "+351910000001",
    }


def test_send_builds_the_real_api_request(org: Any) -> None:
    account = make_twilio_account(org)
    fake = FakeTwilioHttp((201, message_json()))
    result = TwilioProvider(account, http_client=fake).send_sms(
        from_number="+351910000001",
        to_number="+351912000000",
        body="Hi",
        status_callback="https://x.test/cb",
    )
    assert result.provider_message_id == "SM" + "1" * 32
    assert result.status == MessageStatus.QUEUED and result.segments == 2
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["data"]["To"] == "+351912000000" and request["data"]["From"] == "+351910000001"
    assert request["data"]["StatusCallback"] == "https://x.test/cb"
    assert request["auth"] == (SID, TWILIO_TOKEN)


@pytest.mark.parametrize("kind", ["twilio", "simulator"])
def test_a_token_this_server_cannot_decrypt_is_a_retryable_provider_error(
    org: Any, kind: str
) -> None:
    """SECRET_KEY / FIELD_ENCRYPTION_KEY changed without the old key: the send fails with a
    message saying what to do (and is retried later), nothing reaches the network."""
    from mobiliza.providers.services import provider_for
    from mobiliza.providers.tests.factories import make_account

    account = make_twilio_account(org) if kind == "twilio" else make_account(org)
    account.auth_token_encrypted = "gAAAAABnot-a-token-this-key-can-read"
    fake = FakeTwilioHttp((201, message_json()))
    provider = (
        TwilioProvider(account, http_client=fake) if kind == "twilio" else provider_for(account)
    )
    with pytest.raises(ProviderError) as caught:
        provider.send_sms(
            from_number="+351910000001",
            to_number="+351912000000",
            body="Hi",
            status_callback="https://x.test/cb",
        )
    assert caught.value.code == "credentials"
    assert caught.value.error_class == ErrorClass.TRANSIENT
    assert "enter them again" in caught.value.message
    assert fake.requests == []


@pytest.mark.parametrize(
    ("http_status", "code", "expected"),
    [
        (400, 21211, ErrorClass.INVALID_NUMBER),
        (400, 21610, ErrorClass.OPTED_OUT),
        (429, 20429, ErrorClass.RATE_LIMITED),
        (503, 20503, ErrorClass.TRANSIENT),
        (401, 20003, ErrorClass.PERMANENT),
    ],
)
def test_api_errors_are_classified(
    org: Any, http_status: int, code: int, expected: ErrorClass
) -> None:
    account = make_twilio_account(org)
    fake = FakeTwilioHttp((http_status, {"code": code, "message": "nope", "status": http_status}))
    with pytest.raises(ProviderError) as error:
        TwilioProvider(account, http_client=fake).send_sms(
            from_number="+351910000001",
            to_number="+351912000000",
            body="Hi",
            status_callback="https://x/cb",
        )
    assert error.value.error_class == expected and error.value.code == str(code)


def test_test_connection_button(org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    account = make_twilio_account(org)
    fake = FakeTwilioHttp(
        (200, {"sid": SID, "friendly_name": "Campaign HQ", "status": "active"}),
        (
            200,
            {
                "incoming_phone_numbers": [{"sid": "PN1", "phone_number": "+351910000001"}],
                "next_page_uri": None,
                "meta": {"next_page_url": None, "key": "incoming_phone_numbers"},
            },
        ),
    )
    monkeypatch.setattr(twilio_module, "http_client_factory", lambda: fake)
    result = provider_account_check(account=account)
    assert result.ok and "Campaign HQ" in result.message and result.numbers == ("+351910000001",)
    account.refresh_from_db()
    assert account.last_check_ok is True
    fake_bad = FakeTwilioHttp((401, {"code": 20003, "message": "Authenticate", "status": 401}))
    monkeypatch.setattr(twilio_module, "http_client_factory", lambda: fake_bad)
    assert not provider_account_check(account=account).ok


def test_credentials_are_stored_encrypted(org: Any) -> None:
    account = make_twilio_account(org)
    assert TWILIO_TOKEN not in account.auth_token_encrypted
    assert decrypt(account.auth_token_encrypted) == TWILIO_TOKEN


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("accepted", "queued"),
        ("queued", "queued"),
        ("sending", "queued"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("received", "received"),
    ],
)
def test_status_mapping(twilio: str, ours: str) -> None:
    assert map_status(twilio).value == ours


def test_network_errors_are_transient() -> None:
    assert classify_error(http_status=None, code="") == ErrorClass.TRANSIENT

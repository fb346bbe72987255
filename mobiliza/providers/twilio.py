"""Twilio, through the official SDK. Webhooks are verified with the SDK's RequestValidator.

Tests replace only the network edge: `http_client_factory` returns a `twilio.http.HttpClient`;
everything the SDK does to build requests and parse responses still runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator, compare
from twilio.rest import Client

from mobiliza.providers.base import (
    ConnectionCheck,
    ErrorClass,
    InboundMessage,
    MessageStatus,
    MessageStatusEvent,
    ProviderError,
    SendResult,
    account_auth_token,
)

if TYPE_CHECKING:
    from mobiliza.providers.models import ProviderAccount

# The network edge. None: the SDK's own TwilioHttpClient (requests). Tests set a fake here.
http_client_factory: Callable[[], HttpClient] | None = None

# Twilio's error codes (https://www.twilio.com/docs/api/errors) by what to do about them.
INVALID_NUMBER_CODES = frozenset(
    {"21211", "21214", "21217", "21407", "21408", "21421", "21612", "21614", "30005", "30006"}
)
OPTED_OUT_CODES = frozenset({"21610", "30004"})
RATE_LIMIT_CODES = frozenset({"20429", "14107", "30022", "30023"})
TRANSIENT_CODES = frozenset({"20500", "20503", "30001", "30008", "30009", "30010"})

_STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "received": MessageStatus.RECEIVED,
    "receiving": MessageStatus.RECEIVED,
}


def classify_error(*, http_status: int | None, code: str) -> ErrorClass:
    if code in OPTED_OUT_CODES:
        return ErrorClass.OPTED_OUT
    if code in INVALID_NUMBER_CODES:
        return ErrorClass.INVALID_NUMBER
    if code in RATE_LIMIT_CODES or http_status == 429:
        return ErrorClass.RATE_LIMITED
    if code in TRANSIENT_CODES or http_status is None or http_status >= 500:
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def map_status(value: str) -> MessageStatus:
    return _STATUS.get((value or "").lower(), MessageStatus.QUEUED)


def parse_status(params: Mapping[str, str]) -> MessageStatusEvent:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    return MessageStatusEvent(
        provider_message_id=sid,
        status=map_status(status),
        error_code=str(params.get("ErrorCode") or ""),
        error_message=str(params.get("ErrorMessage") or ""),
    )


def parse_inbound(params: Mapping[str, str]) -> InboundMessage:
    try:
        media = int(params.get("NumMedia") or 0)
    except ValueError:
        media = 0
    return InboundMessage(
        provider_message_id=params.get("MessageSid") or params.get("SmsSid") or "",
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        body=params.get("Body", ""),
        num_media=media,
    )


def validate_signature(*, token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    if not signature or not token:
        return False
    # A QueryDict keeps repeated parameters (the validator reads it with getlist).
    values = params if hasattr(params, "getlist") else dict(params)
    validator = RequestValidator(token)
    # The URL exactly as given first (one HMAC: the usual case), then the SDK's full check, which
    # also tries the URL with and without its port.
    if compare(validator.compute_signature(url, values), signature):
        return True
    return bool(validator.validate(url, values, signature))


@contextmanager
def provider_errors(invalid_number_codes: Collection[str] = ()) -> Iterator[None]:
    """Twilio's exceptions as `ProviderError`: a refusal classified by its HTTP status and code
    (`invalid_number_codes` add the codes of the caller's own API that mean "not a number"),
    network trouble as transient (retry later)."""
    try:
        yield
    except TwilioRestException as exc:
        code = str(exc.code or "")
        if code in invalid_number_codes:
            error_class = ErrorClass.INVALID_NUMBER
        else:
            error_class = classify_error(http_status=exc.status, code=code)
        raise ProviderError(
            str(exc.msg or exc), error_class=error_class, code=code or str(exc.status)
        ) from exc
    except (TwilioException, OSError) as exc:
        raise ProviderError(str(exc), error_class=ErrorClass.TRANSIENT) from exc


class TwilioAccountClient:
    """One organization's Twilio account: its decrypted token and an SDK client over the network
    edge (`http_client_factory`, which tests replace). Messaging and voice both build on it."""

    kind = "twilio"

    def __init__(self, account: ProviderAccount, http_client: HttpClient | None = None) -> None:
        self.account = account
        if http_client is None and http_client_factory is not None:
            http_client = http_client_factory()
        self._http_client = http_client

    @cached_property
    def token(self) -> str:
        """The decrypted auth token, read when first needed (inside the caller's error handling:
        an unreadable token is a ProviderError there, see `account_auth_token`)."""
        return account_auth_token(self.account)

    def _client(self) -> Client:
        return Client(self.account.account_sid, self.token, http_client=self._http_client)


def _send_result(message: Any, *, price: str = "") -> SendResult:
    try:
        segments = int(message.num_segments or 1)
    except (TypeError, ValueError):
        segments = 1
    return SendResult(
        provider_message_id=str(message.sid),
        status=map_status(str(message.status or "")),
        segments=segments,
        price=price,
    )


class TwilioProvider(TwilioAccountClient):
    def send_sms(
        self, *, from_number: str, to_number: str, body: str, status_callback: str
    ) -> SendResult:
        kwargs: dict[str, str] = {"to": to_number, "body": body, "status_callback": status_callback}
        if self.account.messaging_service_sid and not from_number:
            kwargs["messaging_service_sid"] = self.account.messaging_service_sid
        else:
            kwargs["from_"] = from_number
        with provider_errors():
            message = self._client().messages.create(**kwargs)
        return _send_result(message, price=str(message.price or ""))

    def find_sent(
        self, *, from_number: str, to_number: str, body: str, since: dt.datetime
    ) -> SendResult | None:
        """The message Twilio accepted from `from_number` to `to_number` with this body since
        `since`, if any: how the outbox learns whether a send interrupted by a crash went out
        (Twilio has no idempotency key for messages). Raises ProviderError when Twilio cannot be
        asked (the outbox then asks again later, never resends blind)."""
        with provider_errors():
            found = self._client().messages.list(to=to_number, from_=from_number, limit=50)
        for message in found:
            created = message.date_created
            if (message.body or "") != body or (created is not None and created < since):
                continue
            return _send_result(message)
        return None

    def check_connection(self) -> ConnectionCheck:
        try:
            client = self._client()
            account = client.api.v2010.accounts(self.account.account_sid).fetch()
            numbers = client.incoming_phone_numbers.list(limit=50)
        except TwilioRestException as exc:
            return ConnectionCheck(ok=False, message=f"Twilio refused: {exc.msg} ({exc.code})")
        except (TwilioException, OSError) as exc:
            return ConnectionCheck(ok=False, message=f"Twilio could not be reached: {exc}")
        return ConnectionCheck(
            ok=str(account.status) == "active",
            message=f"{account.friendly_name}: {account.status}",
            numbers=tuple(str(n.phone_number) for n in numbers),
        )

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        return validate_signature(token=self.token, url=url, params=params, signature=signature)

    def parse_status(self, params: Mapping[str, str]) -> MessageStatusEvent:
        return parse_status(params)

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        return parse_inbound(params)

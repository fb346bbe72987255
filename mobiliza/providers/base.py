"""The provider protocol: what the rest of Mobiliza needs from a carrier, as dataclasses.

Messaging is implemented here (issue 7). Voice calls (issue 6) add their own methods to a
`VoiceProvider` protocol beside `MessagingProvider`, reusing `ProviderError`, `ErrorClass`,
`WebhookKind` and the raw-first webhook store in `models.WebhookEvent`.

Everything above this layer speaks in these normalized types only: no Twilio field name leaks out
of `twilio.py`, and the simulator produces exactly the same webhook payloads Twilio does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from mobiliza.providers.models import ProviderAccount


class MessageStatus(StrEnum):
    """Delivery status of one message, in the order a message normally moves through them."""

    QUEUED = "queued"  # accepted by the provider, not yet handed to the carrier
    SENT = "sent"  # handed to the carrier
    DELIVERED = "delivered"  # the handset confirmed
    UNDELIVERED = "undelivered"  # the carrier gave up (code says why)
    FAILED = "failed"  # the provider could not send it at all
    RECEIVED = "received"  # an inbound message


# How far along a status is: a callback never moves a message backwards.
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.RECEIVED: 3,
}


class ErrorClass(StrEnum):
    """What to do about a failed send."""

    TRANSIENT = "transient"  # network, 5xx, provider queue full: retry with backoff
    RATE_LIMITED = "rate_limited"  # slow down: retry with a longer backoff
    INVALID_NUMBER = "invalid_number"  # never retry; the number is not textable
    OPTED_OUT = "opted_out"  # the carrier says this person unsubscribed: record an opt-out
    PERMANENT = "permanent"  # never retry (bad credentials, content blocked...)


RETRYABLE = frozenset({ErrorClass.TRANSIENT, ErrorClass.RATE_LIMITED})


class WebhookKind(StrEnum):
    MESSAGE_STATUS = "message_status"
    MESSAGE_INBOUND = "message_inbound"


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: MessageStatus
    segments: int = 1
    price: str = ""


@dataclass(frozen=True)
class MessageStatusEvent:
    provider_message_id: str
    status: MessageStatus
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str
    from_number: str
    to_number: str
    body: str
    num_media: int = 0


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    numbers: tuple[str, ...] = ()


class ProviderError(Exception):
    """A send (or API call) the provider refused; `error_class` decides retry or not."""

    def __init__(self, message: str, *, error_class: ErrorClass, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.code = code


def account_auth_token(account: ProviderAccount) -> str:
    """The account's decrypted auth token. A token this server can no longer decrypt (SECRET_KEY
    or FIELD_ENCRYPTION_KEY changed without keeping the old key) is a ProviderError that says what
    to do, so a send is retried later and a dial is refused with that reason, instead of a 500."""
    from mobiliza.providers.crypto import decrypt

    try:
        return decrypt(account.auth_token_encrypted)
    except ValueError as exc:
        raise ProviderError(
            _(
                "The provider account's credentials cannot be read with this server's key "
                "(SECRET_KEY or FIELD_ENCRYPTION_KEY changed). An administrator must enter them "
                "again in the provider settings."
            ),
            error_class=ErrorClass.TRANSIENT,
            code="credentials",
        ) from exc


class MessagingProvider(Protocol):
    """One organization's messaging account at one provider."""

    kind: str

    def send_sms(
        self, *, from_number: str, to_number: str, body: str, status_callback: str
    ) -> SendResult:
        """Hand one message to the provider. Raises ProviderError when it is refused."""
        ...

    def check_connection(self) -> ConnectionCheck: ...

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        """True when `signature` is the provider's signature of this URL and these parameters."""
        ...

    def parse_status(self, params: Mapping[str, str]) -> MessageStatusEvent: ...

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage: ...

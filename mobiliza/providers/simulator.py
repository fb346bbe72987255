"""A carrier in a box: the default provider in `make run` and in tests.

It accepts messages like Twilio's API does (refusing invalid numbers with Twilio's codes), then
later delivers Twilio-shaped callbacks to the same webhook URLs, signed with the same
RequestValidator algorithm: "sent", then "delivered" or "undelivered"/"failed" with a code, and
sometimes a reply from the person (in EN/FR/PT by the number's country), some of them opt-outs.

Delayed events are rows in `SimulatedEvent`; `services.simulator_tick()` delivers the due ones.
Who calls it: a Celery task with a countdown when a broker is configured, a small background
thread in eager mode (`make run`), the `simulator_tick` command, and tests (with a fixed `now`).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.utils import timezone

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
from mobiliza.providers.sms import sms_length
from mobiliza.providers.twilio import parse_inbound, parse_status, validate_signature

if TYPE_CHECKING:
    from mobiliza.providers.models import ProviderAccount

DEFAULT_OPTIONS: dict[str, Any] = {
    "sent_delay": [0.5, 2.0],  # seconds after the send
    "final_delay": [2.0, 8.0],  # seconds after "sent"
    "failure_rate": 0.06,  # undelivered / failed with a carrier code
    "reply_rate": 0.35,  # of delivered messages
    "opt_out_rate": 0.12,  # of replies
    "reply_delay": [8.0, 60.0],
    "api_error_rate": 0.0,  # transient API refusals (20500), retried by the outbox
}

FAILURES = [
    (MessageStatus.UNDELIVERED, "30003", "Unreachable destination handset"),
    (MessageStatus.UNDELIVERED, "30005", "Unknown destination handset"),
    (MessageStatus.UNDELIVERED, "30006", "Landline or unreachable carrier"),
    (MessageStatus.FAILED, "30008", "Unknown error"),
]

REPLIES: dict[str, list[str]] = {
    "en": [
        "Yes, count me in!",
        "Who is this?",
        "Maybe, what time is it?",
        "Not interested, thanks.",
        "I already voted 🙂",
        "Can you send me the address?",
        "I support you guys",
        "How do I volunteer?",
    ],
    "fr": [
        "Oui, avec plaisir !",
        "C'est qui ?",
        "Peut-être, c'est à quelle heure ?",
        "Non merci.",
        "J'ai déjà voté 🙂",
        "Vous pouvez m'envoyer l'adresse ?",
        "Je vous soutiens !",
    ],
    "pt": [
        "Sim, contem comigo!",
        "Quem fala?",
        "Talvez, a que horas?",
        "Não, obrigado.",
        "Já votei 🙂",
        "Podem mandar a morada?",
        "Estou convosco!",
    ],
}
OPT_OUTS: dict[str, list[str]] = {
    "en": ["STOP", "Stop", "unsubscribe", "STOP!", "Cancel", "quit"],
    "fr": ["STOP", "Arrêt", "ARRET", "stop sms", "Désabonner"],
    "pt": ["PARAR", "Parar", "sair", "CANCELAR", "STOP"],
}


def language_for_number(e164: str) -> str:
    if e164.startswith(("+33", "+32", "+41", "+352", "+1514", "+1418")):
        return "fr"
    if e164.startswith(("+351", "+55", "+244", "+258", "+238")):
        return "pt"
    return "en"


def _between(rng: random.Random, bounds: Any) -> float:
    low, high = (float(bounds[0]), float(bounds[1])) if bounds else (0.0, 0.0)
    return rng.uniform(low, max(low, high))


class SimulatorProvider:
    kind = "simulator"
    # Accepting a message = scheduling its callbacks in our database: done inside the sender's
    # transaction, it commits (or rolls back) with the message itself.
    accepts_in_transaction = True

    def __init__(self, account: ProviderAccount) -> None:
        self.account = account
        self.options = {**DEFAULT_OPTIONS, **(account.options or {})}

    @cached_property
    def token(self) -> str:
        """The decrypted auth token, read when first needed (inside the caller's error handling:
        an unreadable token is a ProviderError there, see `account_auth_token`)."""
        return account_auth_token(self.account)

    def send_sms(
        self, *, from_number: str, to_number: str, body: str, status_callback: str
    ) -> SendResult:
        from mobiliza.providers.services import simulator_schedule

        self.token  # noqa: B018 - a carrier refuses a request it can't authenticate
        try:
            parsed = phonenumbers.parse(to_number, None)
            valid = phonenumbers.is_valid_number(parsed)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise ProviderError(
                f"The 'To' number {to_number} is not a valid phone number.",
                error_class=ErrorClass.INVALID_NUMBER,
                code="21211",
            )
        if not from_number:
            raise ProviderError(
                "A 'From' phone number is required.", error_class=ErrorClass.PERMANENT, code="21603"
            )
        rng = random.Random()
        if rng.random() < float(self.options["api_error_rate"]):
            raise ProviderError(
                "Simulated service error", error_class=ErrorClass.TRANSIENT, code="20500"
            )
        sid = "SM" + uuid.uuid4().hex
        segments = max(1, sms_length(body).segments)
        now = timezone.now()
        sent_at = now + dt.timedelta(seconds=_between(rng, self.options["sent_delay"]))
        final_at = sent_at + dt.timedelta(seconds=_between(rng, self.options["final_delay"]))
        base = {
            "AccountSid": self.account.account_sid or "ACsimulator",
            "MessageSid": sid,
            "SmsSid": sid,
            "From": from_number,
            "To": to_number,
            "ApiVersion": "2010-04-01",
        }
        events: list[tuple[dt.datetime, str, dict[str, str]]] = [
            (sent_at, status_callback, {**base, "MessageStatus": "sent", "SmsStatus": "sent"})
        ]
        if rng.random() < float(self.options["failure_rate"]):
            status, code, message = rng.choice(FAILURES)
            events.append(
                (
                    final_at,
                    status_callback,
                    {
                        **base,
                        "MessageStatus": status.value,
                        "SmsStatus": status.value,
                        "ErrorCode": code,
                        "ErrorMessage": message,
                    },
                )
            )
        else:
            events.append(
                (
                    final_at,
                    status_callback,
                    {**base, "MessageStatus": "delivered", "SmsStatus": "delivered"},
                )
            )
            if rng.random() < float(self.options["reply_rate"]):
                language = language_for_number(to_number)
                pool = OPT_OUTS if rng.random() < float(self.options["opt_out_rate"]) else REPLIES
                reply_at = final_at + dt.timedelta(
                    seconds=_between(rng, self.options["reply_delay"])
                )
                events.append(
                    (
                        reply_at,
                        "inbound",
                        self.inbound_params(
                            from_number=to_number,
                            to_number=from_number,
                            body=rng.choice(pool[language]),
                        ),
                    )
                )
        simulator_schedule(account=self.account, events=events)
        return SendResult(provider_message_id=sid, status=MessageStatus.QUEUED, segments=segments)

    def inbound_params(self, *, from_number: str, to_number: str, body: str) -> dict[str, str]:
        sid = "SM" + uuid.uuid4().hex
        return {
            "AccountSid": self.account.account_sid or "ACsimulator",
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "From": from_number,
            "To": to_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(max(1, sms_length(body).segments)),
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }

    def check_connection(self) -> ConnectionCheck:
        numbers = tuple(self.account.numbers.filter(is_active=True).values_list("e164", flat=True))
        return ConnectionCheck(ok=True, message="Simulator ready", numbers=numbers)

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        return validate_signature(token=self.token, url=url, params=params, signature=signature)

    def parse_status(self, params: Mapping[str, str]) -> MessageStatusEvent:
        return parse_status(params)

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        return parse_inbound(params)

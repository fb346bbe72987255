"""Software-placed calls through Twilio's official SDK: the click-to-call bridge.

`calls.create` rings the agent's own phone with inline TwiML that, once the agent answers,
`<Dial>`s the person (`<Number>` with status callbacks and, per operation, answering-machine
detection reported to the same callback URL). Hang up is `calls(sid).update(status=completed)`.
Webhooks are verified with the SDK's `RequestValidator` (through `providers.twilio`).

The network edge is the same as for messages: `providers.twilio.http_client_factory` (tests put a
fake `twilio.http.HttpClient` there; the SDK still builds every request and parses every answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import VoiceResponse

from mobiliza.calling.providers.base import (
    Bridge,
    CallEvent,
    CallState,
    CallUpdate,
    FailureReason,
    PlacedCallResult,
)
from mobiliza.providers import twilio as twilio_sms

if TYPE_CHECKING:
    pass

# Twilio's CallStatus values (https://www.twilio.com/docs/voice/api/call-resource#call-status-values)
CALL_STATUS: dict[str, CallEvent] = {
    "queued": CallEvent.QUEUED,
    "initiated": CallEvent.QUEUED,
    "ringing": CallEvent.RINGING,
    "in-progress": CallEvent.ANSWERED_HUMAN,
    "completed": CallEvent.COMPLETED,
    "busy": CallEvent.BUSY,
    "no-answer": CallEvent.NO_ANSWER,
    "failed": CallEvent.FAILED,
    "canceled": CallEvent.CANCELED,
}
# AnsweredBy values of answering-machine detection. "unknown" (AMD could not decide) counts as a
# human: hanging up on a person is worse than letting an agent hear a voicemail greeting.
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
HUMAN_ANSWERS = frozenset({"human", "unknown"})
# Error codes that mean the number can't be called (Dial / REST), and SIP answers that say so.
INVALID_NUMBER_CODES = frozenset(
    {"13223", "13224", "21210", "21211", "21214", "21215", "21217", "21401", "21407"}
)
INVALID_SIP_CODES = frozenset({"404", "484", "604"})
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


def map_call_status(value: str, answered_by: str = "") -> CallEvent:
    event = CALL_STATUS.get((value or "").strip().lower(), CallEvent.QUEUED)
    if event == CallEvent.ANSWERED_HUMAN and answered_by in MACHINE_ANSWERS:
        return CallEvent.ANSWERED_MACHINE
    return event


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def parse_call_webhook(params: Mapping[str, str]) -> CallUpdate:
    """A status callback or an answering-machine detection callback, normalized."""
    answered_by = (params.get("AnsweredBy") or "").strip().lower()
    status = params.get("CallStatus") or ""
    amd = bool(answered_by) and ("MachineDetectionDuration" in params or not status)
    if amd:
        event = (
            CallEvent.ANSWERED_MACHINE
            if answered_by in MACHINE_ANSWERS
            else CallEvent.ANSWERED_HUMAN
        )
    else:
        event = map_call_status(status, answered_by)
    code = str(params.get("ErrorCode") or "")
    reason = ""
    if event == CallEvent.FAILED:
        sip = str(params.get("SipResponseCode") or "")
        invalid = code in INVALID_NUMBER_CODES or sip in INVALID_SIP_CODES
        reason = FailureReason.INVALID_NUMBER if invalid else FailureReason.ERROR
    return CallUpdate(
        provider_call_id=params.get("CallSid", ""),
        event=event,
        parent_call_id=params.get("ParentCallSid", ""),
        reason=reason,
        error_code=code,
        answered_by=answered_by,
        amd=amd,
        duration_seconds=_int(params.get("CallDuration") or params.get("DialCallDuration")),
    )


def identify(params: Mapping[str, str]) -> tuple[str, str]:
    """(call id, event key) of a payload: its identity for deduplication. An AMD callback and the
    status callbacks of the same call are different events."""
    update = parse_call_webhook(params)
    key = f"amd:{update.answered_by}" if update.amd else (params.get("CallStatus") or "").lower()
    return update.provider_call_id, key


def bridge_twiml(bridge: Bridge) -> str:
    """What the agent's leg runs once they answer: dial the person, connect on answer."""
    response = VoiceResponse()
    dial = response.dial(
        caller_id=bridge.caller_id or None,
        answer_on_bridge=True,
        timeout=bridge.timeout_seconds,
    )
    number_kwargs: dict[str, str] = {
        "status_callback": bridge.status_callback,
        "status_callback_event": " ".join(STATUS_EVENTS),
        "status_callback_method": "POST",
    }
    if bridge.machine_detection:
        number_kwargs.update(
            machine_detection="Enable",
            amd_status_callback=bridge.status_callback,
            amd_status_callback_method="POST",
        )
    dial.number(bridge.to_e164, **number_kwargs)
    return str(response)


class TwilioVoice(twilio_sms.TwilioAccountClient):
    def place_call(
        self, *, to_e164: str, from_e164: str, status_callback: str, bridge: Bridge
    ) -> PlacedCallResult:
        with twilio_sms.provider_errors(INVALID_NUMBER_CODES):
            call = self._client().calls.create(
                to=to_e164,
                from_=from_e164,
                twiml=bridge_twiml(bridge),
                status_callback=status_callback,
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=bridge.timeout_seconds,
            )
        return PlacedCallResult(
            provider_call_id=str(call.sid), event=map_call_status(str(call.status or ""))
        )

    def hang_up(self, provider_call_id: str) -> None:
        with twilio_sms.provider_errors(INVALID_NUMBER_CODES):
            self._client().calls(provider_call_id).update(status="completed")

    def fetch_call(self, provider_call_id: str) -> CallState:
        with twilio_sms.provider_errors(INVALID_NUMBER_CODES):
            call = self._client().calls(provider_call_id).fetch()
        price = str(call.price or "").lstrip("-")  # Twilio reports charges as negative amounts
        return CallState(
            provider_call_id=str(call.sid),
            event=map_call_status(str(call.status or ""), str(call.answered_by or "")),
            duration_seconds=_int(str(call.duration or "0")),
            price=price,
            price_unit=str(call.price_unit or ""),
        )

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        return twilio_sms.validate_signature(
            token=self.token, url=url, params=params, signature=signature
        )

    def parse_call_webhook(self, params: Mapping[str, str]) -> CallUpdate:
        return parse_call_webhook(params)

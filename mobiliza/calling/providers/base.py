"""The call-placing protocol. Issue 5 needs only how an agent's call is started; the telephony
issue adds the software-placed calls (Twilio, simulator) behind the same protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class CallRequest:
    """One call an agent is about to make."""

    to_e164: str
    operation_id: str
    target_id: str
    agent_id: str


@dataclass(frozen=True)
class CallStart:
    """How the call is started: a URL the agent's device opens (``tel:``) or a provider call id."""

    dial_url: str = ""
    provider_call_id: str = ""
    auto_detects: bool = False


class CallMethod(Protocol):
    key: str
    #: True when the provider reports outcomes itself (busy, no answer, voicemail...).
    auto_detects: bool

    def start(self, request: CallRequest) -> CallStart: ...


# --- software-placed calls (issue 6) -----------------------------------------------------------
class CallEvent(StrEnum):
    """A call leg's normalized state, whatever the provider. Terminal events end the leg."""

    QUEUED = "queued"
    RINGING = "ringing"
    ANSWERED_HUMAN = "answered_human"
    ANSWERED_MACHINE = "answered_machine"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"


#: How far along an event is: a callback of a lower rank than the leg's current one is stale
#: (delivered out of order) and never moves the call backwards.
EVENT_RANK: dict[CallEvent, int] = {
    CallEvent.QUEUED: 1,
    CallEvent.RINGING: 2,
    CallEvent.ANSWERED_HUMAN: 3,
    CallEvent.ANSWERED_MACHINE: 3,
    CallEvent.COMPLETED: 4,
    CallEvent.BUSY: 4,
    CallEvent.NO_ANSWER: 4,
    CallEvent.FAILED: 4,
    CallEvent.CANCELED: 4,
}
TERMINAL_EVENTS = frozenset(e for e, rank in EVENT_RANK.items() if rank == 4)


class FailureReason(StrEnum):
    INVALID_NUMBER = "invalid_number"
    ERROR = "error"


# The operation's auto-detected statuses (keys of `calling.statuses.BUILTIN_STATUSES`) for a
# person's leg that ended without a human: busy, no answer, voicemail, invalid number, error,
# canceled. A leg answered by a human has no auto status: the agent talked and chooses it.
AUTO_STATUS_BUSY = "auto_busy"
AUTO_STATUS_NO_ANSWER = "auto_no_answer"
AUTO_STATUS_VOICEMAIL = "auto_voicemail"
AUTO_STATUS_INVALID = "auto_invalid_number"
AUTO_STATUS_ERROR = "auto_error"
AUTO_STATUS_CANCELED = "auto_canceled"


def auto_status_for(
    event: CallEvent, *, reason: str = "", answered_by_machine: bool = False
) -> str:
    """The auto-detected status key a finished person leg is recorded with ("" = a human)."""
    if event == CallEvent.BUSY:
        return AUTO_STATUS_BUSY
    if event == CallEvent.NO_ANSWER:
        return AUTO_STATUS_NO_ANSWER
    if event == CallEvent.CANCELED:
        return AUTO_STATUS_CANCELED
    if event == CallEvent.FAILED:
        return AUTO_STATUS_INVALID if reason == FailureReason.INVALID_NUMBER else AUTO_STATUS_ERROR
    if event == CallEvent.ANSWERED_MACHINE or (
        event == CallEvent.COMPLETED and answered_by_machine
    ):
        return AUTO_STATUS_VOICEMAIL
    return ""


@dataclass(frozen=True)
class Bridge:
    """The second leg: once the agent's phone answers, dial the person and connect them."""

    to_e164: str
    caller_id: str
    status_callback: str
    machine_detection: bool = False
    timeout_seconds: int = 30


@dataclass(frozen=True)
class PlacedCallResult:
    provider_call_id: str
    event: CallEvent


@dataclass(frozen=True)
class CallUpdate:
    """One webhook about one call leg, normalized.

    `parent_call_id` is set for the bridged (person) leg: it names the agent's leg. `amd` marks an
    answering-machine detection callback (it refines "answered" into human or machine).
    """

    provider_call_id: str
    event: CallEvent
    parent_call_id: str = ""
    reason: str = ""
    error_code: str = ""
    answered_by: str = ""
    amd: bool = False
    duration_seconds: int = 0


@dataclass(frozen=True)
class CallState:
    provider_call_id: str
    event: CallEvent
    duration_seconds: int = 0
    price: str = ""  # positive amount as the provider reports it ("" = not known yet)
    price_unit: str = ""


class VoiceProvider(Protocol):
    """One organization's voice account at one provider (Twilio, the simulator)."""

    kind: str

    def place_call(
        self, *, to_e164: str, from_e164: str, status_callback: str, bridge: Bridge
    ) -> PlacedCallResult:
        """Ring `to_e164` (the agent); when answered, dial `bridge.to_e164` and connect them.
        Raises `providers.base.ProviderError` when refused."""
        ...

    def hang_up(self, provider_call_id: str) -> None: ...

    def fetch_call(self, provider_call_id: str) -> CallState: ...

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool: ...

    def parse_call_webhook(self, params: Mapping[str, str]) -> CallUpdate: ...

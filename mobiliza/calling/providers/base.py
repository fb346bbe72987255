"""The call-placing protocol. Issue 5 needs only how an agent's call is started; the telephony
issue adds the software-placed calls (Twilio, simulator) behind the same protocol."""

from __future__ import annotations

from dataclasses import dataclass
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

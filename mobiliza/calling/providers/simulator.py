"""A carrier in a box for software-placed calls: the default in `make run` and in tests.

`place_call` answers like Twilio's REST API (an invalid agent number is refused with 21211), then
plays the whole click-to-call bridge as Twilio-shaped, Twilio-signed status callbacks delivered
later to the same webhook URL (through the providers simulator queue, `SimulatedEvent`):

    agent leg   initiated → ringing → in-progress (the agent picked up)
    person leg  initiated → ringing → one of: human answer (in-progress, talk, completed),
                voicemail (in-progress + AMD "machine_end_beep" when the operation asked for
                detection), busy, no-answer, failed 13224 (invalid number), failed (error)
    agent leg   completed when the person's leg ends.

The mix of outcomes, the ringing delay, the agent's pick-up delay and the talk time are options of
the provider account (`ProviderAccount.options`, see `VOICE_DEFAULTS`). A number that
libphonenumber finds impossible always fails as an invalid number.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.db.models import Q
from django.utils import timezone

from mobiliza.calling.providers.base import (
    Bridge,
    CallEvent,
    CallState,
    CallUpdate,
    PlacedCallResult,
)
from mobiliza.calling.providers.twilio import map_call_status, parse_call_webhook
from mobiliza.providers.base import ErrorClass, ProviderError, account_auth_token
from mobiliza.providers.twilio import validate_signature

if TYPE_CHECKING:
    from mobiliza.providers.models import ProviderAccount

VOICE_DEFAULTS: dict[str, Any] = {
    # Outcome of the person's leg (weights, normalized).
    "voice_mix": {
        "human": 0.55,
        "voicemail": 0.15,
        "busy": 0.08,
        "no_answer": 0.14,
        "invalid": 0.03,
        "failed": 0.05,
    },
    "agent_answer_delay": [1.0, 3.0],  # seconds until the agent picks up their phone
    "ring_delay": [2.0, 6.0],  # seconds the person's phone rings before an answer / busy
    "no_answer_after": [15.0, 25.0],
    "talk_time": [20.0, 90.0],
    "voicemail_time": [15.0, 30.0],
}
OUTCOMES = ("human", "voicemail", "busy", "no_answer", "invalid", "failed")


def _valid(e164: str) -> bool:
    """A number the carrier can dial: possible for its country (length, prefix)."""
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def _between(rng: random.Random, bounds: Any) -> float:
    low, high = float(bounds[0]), float(bounds[1])
    return rng.uniform(low, max(low, high))


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


class SimulatorVoice:
    kind = "simulator"

    def __init__(self, account: ProviderAccount, rng: random.Random | None = None) -> None:
        self.account = account
        self.options = {**VOICE_DEFAULTS, **(account.options or {})}
        self.rng = rng or random.Random()

    @cached_property
    def token(self) -> str:
        """The decrypted auth token, read when first needed (inside the caller's error handling:
        an unreadable token is a ProviderError there, see `account_auth_token`)."""
        return account_auth_token(self.account)

    def _outcome(self, to_e164: str) -> str:
        if not _valid(to_e164):
            return "invalid"
        mix = self.options.get("voice_mix") or {}
        weights = [max(0.0, float(mix.get(k, 0))) for k in OUTCOMES]
        if sum(weights) <= 0:
            return "human"
        return self.rng.choices(OUTCOMES, weights=weights)[0]

    def _params(self, sid: str, status: str, *, to: str, frm: str, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": self.account.account_sid or "ACsimulator",
            "CallSid": sid,
            "CallStatus": status,
            "From": frm,
            "To": to,
            "Direction": "outbound-dial" if extra.get("ParentCallSid") else "outbound-api",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def place_call(
        self, *, to_e164: str, from_e164: str, status_callback: str, bridge: Bridge
    ) -> PlacedCallResult:
        from mobiliza.providers.services import simulator_schedule

        self.token  # noqa: B018 - a carrier refuses a request it can't authenticate
        if not _valid(to_e164):
            raise ProviderError(
                f"The 'To' number {to_e164} is not a valid phone number.",
                error_class=ErrorClass.INVALID_NUMBER,
                code="21211",
            )
        rng, opts = self.rng, self.options
        agent_sid, person_sid = _sid(), _sid()
        caller_id = bridge.caller_id or from_e164
        t = timezone.now()
        events: list[tuple[dt.datetime, str, dict[str, str]]] = []

        def at(seconds: float, url: str, params: dict[str, str]) -> None:
            nonlocal t
            t = t + dt.timedelta(seconds=seconds)
            events.append((t, url, params))

        def agent(status: str, **extra: str) -> dict[str, str]:
            return self._params(agent_sid, status, to=to_e164, frm=from_e164, **extra)

        def person(status: str, **extra: str) -> dict[str, str]:
            return self._params(
                person_sid,
                status,
                to=bridge.to_e164,
                frm=caller_id,
                ParentCallSid=agent_sid,
                **extra,
            )

        cb, pcb = status_callback, bridge.status_callback
        at(0.2, cb, agent("initiated"))
        at(0.5, cb, agent("ringing"))
        at(_between(rng, opts["agent_answer_delay"]), cb, agent("in-progress"))
        at(0.3, pcb, person("initiated"))
        outcome = self._outcome(bridge.to_e164)
        talk = 0
        if outcome == "invalid":
            at(0.5, pcb, person("failed", ErrorCode="13224", ErrorMessage="Invalid phone number"))
        elif outcome == "failed":
            at(1.0, pcb, person("failed", ErrorCode="13227", ErrorMessage="Call failed"))
        else:
            at(0.5, pcb, person("ringing"))
            if outcome == "busy":
                at(_between(rng, opts["ring_delay"]) / 2, pcb, person("busy"))
            elif outcome == "no_answer":
                at(_between(rng, opts["no_answer_after"]), pcb, person("no-answer"))
            else:
                at(_between(rng, opts["ring_delay"]), pcb, person("in-progress"))
                machine = outcome == "voicemail"
                if machine and bridge.machine_detection:
                    at(
                        2.5,
                        pcb,
                        self._params(
                            person_sid,
                            "",
                            to=bridge.to_e164,
                            frm=caller_id,
                            ParentCallSid=agent_sid,
                            AnsweredBy="machine_end_beep",
                            MachineDetectionDuration="2500",
                        ),
                    )
                bounds = opts["voicemail_time"] if machine else opts["talk_time"]
                talk = max(1, round(_between(rng, bounds)))
                at(talk, pcb, person("completed", CallDuration=str(talk)))
        agent_duration = max(1, round((t - events[2][0]).total_seconds()))
        at(0.3, cb, agent("completed", CallDuration=str(agent_duration)))
        simulator_schedule(account=self.account, events=events)
        return PlacedCallResult(provider_call_id=agent_sid, event=CallEvent.QUEUED)

    def _group(self, provider_call_id: str) -> tuple[str, list[Any]]:
        """(the agent leg's id, every simulated event of the call) for either leg's id."""
        from mobiliza.providers.models import SimulatedEvent

        base = SimulatedEvent.objects.filter(account=self.account)
        parent = provider_call_id
        first = base.filter(
            params__CallSid=provider_call_id, params__has_key="ParentCallSid"
        ).first()
        if first is not None:
            parent = str(first.params.get("ParentCallSid") or provider_call_id)
        events = list(
            base.filter(Q(params__CallSid=parent) | Q(params__ParentCallSid=parent)).order_by(
                "due_at", "id"
            )
        )
        return parent, events

    def hang_up(self, provider_call_id: str) -> None:
        """End the call now: pending callbacks are dropped; each leg that was up completes."""
        from mobiliza.providers.models import SimulatedEvent
        from mobiliza.providers.services import simulator_schedule

        parent, events = self._group(provider_call_id)
        pending = [e for e in events if e.delivered_at is None]
        SimulatedEvent.objects.filter(pk__in=[e.pk for e in pending]).delete()
        now = timezone.now()
        finals: list[tuple[dt.datetime, str, dict[str, str]]] = []
        legs: dict[str, list[Any]] = {}
        for event in events:
            legs.setdefault(str(event.params.get("CallSid")), []).append(event)
        # The person's leg first, then the agent's (whose <Dial> ends with it).
        for sid in sorted(legs, key=lambda s: s == parent):
            leg = legs[sid]
            delivered = [e for e in leg if e.delivered_at is not None]
            statuses = {e.params.get("CallStatus") for e in delivered}
            if not delivered or statuses & {"completed", "busy", "no-answer", "failed", "canceled"}:
                continue
            base = {k: v for k, v in leg[0].params.items() if k not in {"AnsweredBy"}}
            base.pop("MachineDetectionDuration", None)
            answered = [e for e in delivered if e.params.get("CallStatus") == "in-progress"]
            if answered:
                seconds = max(1, round((now - answered[0].delivered_at).total_seconds()))
                params = {**base, "CallStatus": "completed", "CallDuration": str(seconds)}
            else:
                params = {**base, "CallStatus": "canceled"}
            due = now + dt.timedelta(seconds=0.2 * (len(finals) + 1))
            finals.append((due, str(leg[0].path), params))
        if finals:
            simulator_schedule(account=self.account, events=finals)

    def fetch_call(self, provider_call_id: str) -> CallState:
        _parent, events = self._group(provider_call_id)
        leg = [
            e
            for e in events
            if e.params.get("CallSid") == provider_call_id
            and e.delivered_at is not None
            and e.params.get("CallStatus")
        ]
        if not leg:
            return CallState(provider_call_id=provider_call_id, event=CallEvent.QUEUED)
        last = leg[-1].params
        return CallState(
            provider_call_id=provider_call_id,
            event=map_call_status(str(last.get("CallStatus"))),
            duration_seconds=int(last.get("CallDuration") or 0),
        )

    def validate_webhook(self, *, url: str, params: Mapping[str, str], signature: str) -> bool:
        return validate_signature(token=self.token, url=url, params=params, signature=signature)

    def parse_call_webhook(self, params: Mapping[str, str]) -> CallUpdate:
        return parse_call_webhook(params)

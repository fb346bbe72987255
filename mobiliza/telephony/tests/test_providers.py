"""Status mapping from Twilio's documented payloads (table-driven), and the Twilio voice client
through a fake HTTP layer at the network edge (the SDK builds and parses every request)."""

from __future__ import annotations

from typing import Any

import pytest

from mobiliza.calling.providers.base import (
    EVENT_RANK,
    Bridge,
    CallEvent,
    FailureReason,
    auto_status_for,
)
from mobiliza.calling.providers.twilio import (
    TwilioVoice,
    bridge_twiml,
    identify,
    parse_call_webhook,
)
from mobiliza.providers.base import ErrorClass, ProviderError
from mobiliza.providers.tests.factories import TWILIO_TOKEN, make_twilio_account
from mobiliza.providers.tests.test_twilio import FakeTwilioHttp

SID = "AC" + "0" * 32
CALL = "CA" + "1" * 32
CHILD = "CA" + "2" * 32


def status_payload(status: str, **extra: str) -> dict[str, str]:
    # The parameters of Twilio's status callback request (voice/twiml#request-parameters).
    return {
        "AccountSid": SID,
        "CallSid": CALL,
        "CallStatus": status,
        "From": "+351910000001",
        "To": "+351912000000",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "event", "auto_status"),
    [
        ("queued", CallEvent.QUEUED, ""),
        ("initiated", CallEvent.QUEUED, ""),
        ("ringing", CallEvent.RINGING, ""),
        ("in-progress", CallEvent.ANSWERED_HUMAN, ""),
        ("completed", CallEvent.COMPLETED, ""),
        ("busy", CallEvent.BUSY, "auto_busy"),
        ("no-answer", CallEvent.NO_ANSWER, "auto_no_answer"),
        ("failed", CallEvent.FAILED, "auto_error"),
        ("canceled", CallEvent.CANCELED, "auto_canceled"),
    ],
)
def test_every_call_status_maps(status: str, event: CallEvent, auto_status: str) -> None:
    update = parse_call_webhook(status_payload(status, CallDuration="0"))
    assert update.event == event and update.provider_call_id == CALL and not update.amd
    assert auto_status_for(update.event, reason=update.reason) == auto_status
    assert identify(status_payload(status)) == (CALL, status)


@pytest.mark.parametrize(
    ("answered_by", "event"),
    [
        ("human", CallEvent.ANSWERED_HUMAN),
        ("machine_start", CallEvent.ANSWERED_MACHINE),
        ("machine_end_beep", CallEvent.ANSWERED_MACHINE),
        ("machine_end_silence", CallEvent.ANSWERED_MACHINE),
        ("machine_end_other", CallEvent.ANSWERED_MACHINE),
        ("fax", CallEvent.ANSWERED_MACHINE),
        ("unknown", CallEvent.ANSWERED_HUMAN),  # undecided: never hang up on a possible person
    ],
)
def test_every_answering_machine_result_maps(answered_by: str, event: CallEvent) -> None:
    # Twilio's asynchronous AMD callback (answering-machine-detection#amdstatuscallback).
    amd = {
        "AccountSid": SID,
        "CallSid": CHILD,
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": "2300",
    }
    update = parse_call_webhook(amd)
    assert update.amd and update.event == event and update.answered_by == answered_by
    # An AMD callback is a different event from the status callbacks of the same call.
    assert identify(amd) == (CHILD, f"amd:{answered_by}")
    machine = event == CallEvent.ANSWERED_MACHINE
    assert auto_status_for(CallEvent.COMPLETED, answered_by_machine=machine) == (
        "auto_voicemail" if machine else ""
    )
    # Synchronous AMD puts AnsweredBy on the status callback itself.
    sync = parse_call_webhook(status_payload("in-progress", AnsweredBy=answered_by))
    assert not sync.amd and sync.event == event


@pytest.mark.parametrize(
    ("extra", "reason", "status"),
    [
        ({"ErrorCode": "13224"}, FailureReason.INVALID_NUMBER, "auto_invalid_number"),
        ({"ErrorCode": "21211"}, FailureReason.INVALID_NUMBER, "auto_invalid_number"),
        ({"SipResponseCode": "404"}, FailureReason.INVALID_NUMBER, "auto_invalid_number"),
        ({"ErrorCode": "31005"}, FailureReason.ERROR, "auto_error"),
        ({}, FailureReason.ERROR, "auto_error"),
    ],
)
def test_failures_say_why(extra: dict[str, str], reason: str, status: str) -> None:
    update = parse_call_webhook(status_payload("failed", **extra))
    assert update.reason == reason
    assert auto_status_for(update.event, reason=update.reason) == status


def test_ranks_never_go_backwards() -> None:
    order = [CallEvent.QUEUED, CallEvent.RINGING, CallEvent.ANSWERED_HUMAN, CallEvent.COMPLETED]
    assert [EVENT_RANK[e] for e in order] == sorted(EVENT_RANK[e] for e in order)
    assert len({EVENT_RANK[e] for e in order}) == 4


def test_child_leg_names_its_parent() -> None:
    update = parse_call_webhook(
        {**status_payload("ringing"), "CallSid": CHILD, "ParentCallSid": CALL}
    )
    assert update.parent_call_id == CALL and update.provider_call_id == CHILD


def test_bridge_twiml_dials_the_person_with_detection() -> None:
    twiml = bridge_twiml(
        Bridge(
            to_e164="+351912000000",
            caller_id="+351910000001",
            status_callback="https://x.test/cb",
            machine_detection=True,
        )
    )
    assert '<Dial answerOnBridge="true" callerId="+351910000001" timeout="30">' in twiml
    assert 'machineDetection="Enable"' in twiml and 'amdStatusCallback="https://x.test/cb"' in twiml
    assert 'statusCallbackEvent="initiated ringing answered completed"' in twiml
    assert ">+351912000000</Number>" in twiml


def call_json(status: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "sid": CALL,
        "account_sid": SID,
        "status": status,
        "to": "+351910000099",
        "from": "+351910000001",
        "price": None,
        "price_unit": "USD",
        "duration": None,
        "answered_by": None,
        **extra,
    }


@pytest.mark.django_db
def test_place_call_builds_the_real_api_request(org: Any) -> None:
    account = make_twilio_account(org)
    fake = FakeTwilioHttp((201, call_json()))
    result = TwilioVoice(account, http_client=fake).place_call(
        to_e164="+351910000099",
        from_e164="+351910000001",
        status_callback="https://x.test/cb",
        bridge=Bridge(
            to_e164="+351912000000", caller_id="+351910000001", status_callback="https://x.test/cb"
        ),
    )
    assert result.provider_call_id == CALL and result.event == CallEvent.QUEUED
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json"
    assert request["auth"] == (SID, TWILIO_TOKEN)
    data = request["data"]
    assert data["To"] == "+351910000099" and data["From"] == "+351910000001"
    assert data["StatusCallback"] == "https://x.test/cb"
    assert data["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert "<Number" in data["Twiml"] and "machineDetection" not in data["Twiml"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (21211, ErrorClass.INVALID_NUMBER),
        (13224, ErrorClass.INVALID_NUMBER),
        (20429, ErrorClass.RATE_LIMITED),
        (20003, ErrorClass.PERMANENT),
    ],
)
def test_refusals_are_classified(org: Any, code: int, error_class: str) -> None:
    account = make_twilio_account(org)
    status = 429 if code == 20429 else 400
    fake = FakeTwilioHttp((status, {"code": code, "message": "nope", "status": status}))
    with pytest.raises(ProviderError) as exc:
        TwilioVoice(account, http_client=fake).place_call(
            to_e164="+1",
            from_e164="+351910000001",
            status_callback="https://x.test/cb",
            bridge=Bridge(to_e164="+351912000000", caller_id="", status_callback="https://x/cb"),
        )
    assert exc.value.error_class == error_class and exc.value.code == str(code)


@pytest.mark.django_db
def test_hang_up_and_fetch(org: Any) -> None:
    account = make_twilio_account(org)
    fake = FakeTwilioHttp(
        (200, call_json("completed")),
        (200, call_json("completed", duration="61", price="-0.0340", answered_by="human")),
    )
    voice = TwilioVoice(account, http_client=fake)
    voice.hang_up(CALL)
    state = voice.fetch_call(CALL)
    hang, fetch = fake.requests
    assert hang["method"] == "POST" and hang["uri"].endswith(f"/Calls/{CALL}.json")
    assert hang["data"] == {"Status": "completed"}
    assert fetch["method"] == "GET"
    assert state.event == CallEvent.COMPLETED and state.duration_seconds == 61
    assert state.price == "0.0340" and state.price_unit == "USD"

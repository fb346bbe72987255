"""Call webhooks: the SDK's RequestValidator (valid, forged, missing, wrong URL → 403, nothing
stored), idempotency by (call id, event), ordering, unknown calls kept, organization isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from mobiliza.calling.models import CallAttempt
from mobiliza.providers.models import WebhookEvent
from mobiliza.providers.tests.factories import TWILIO_TOKEN, make_twilio_account
from mobiliza.telephony.models import PlacedCall
from mobiliza.telephony.services import call_status_url
from mobiliza.telephony.tests.factories import (
    held_target,
    make_software_operation,
)

pytestmark = pytest.mark.django_db
AGENT_LEG = "CA" + "a" * 32
PERSON_LEG = "CA" + "b" * 32


def placed_call(org: Any) -> tuple[Any, Any]:
    """A Twilio account and a call placed through it (created directly: the provider's REST
    answer is tested elsewhere)."""
    account = make_twilio_account(org)
    operation = make_software_operation(org, people=1)
    # Verification codes go through the simulator-free path: set the phone verified directly.
    from django.utils import timezone

    from mobiliza.calling.tests.factories import make_agent
    from mobiliza.telephony.models import AgentPhone

    agent = make_agent(operation)
    AgentPhone.objects.create(
        organization=org, membership=agent, e164="+351910000099", verified_at=timezone.now()
    )
    target = held_target(operation, agent)
    call = PlacedCall.objects.create(
        organization=org,
        operation=operation,
        target=target,
        agent=agent,
        account=account,
        agent_call_id=AGENT_LEG,
        agent_e164="+351910000099",
        to_e164=target.phone_e164,
        machine_detection=True,
    )
    return account, call


def post(
    client: Client,
    account: Any,
    params: dict[str, str],
    *,
    token: str = TWILIO_TOKEN,
    signed_url: str | None = None,
    signature: str | None = None,
) -> Any:
    url = call_status_url(account=account)
    if signature is None:
        signature = RequestValidator(token).compute_signature(signed_url or url, params)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(path, data=params, headers=headers)


def person(status: str, sid: str = PERSON_LEG, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid,
        "ParentCallSid": AGENT_LEG,
        "CallStatus": status,
        "To": "+351912000000",
        "From": "+351910000001",
        **extra,
    }


def test_valid_signature_is_stored_then_processed(org: Any, client: Client) -> None:
    account, call = placed_call(org)
    response = post(client, account, person("ringing"))
    assert response.status_code == 204
    event = WebhookEvent.objects.get()
    assert event.kind == "call_status" and event.outcome == "processed"
    assert event.payload["CallStatus"] == "ringing"
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.RINGING and call.person_call_id == PERSON_LEG


@pytest.mark.parametrize("case", ["forged", "missing", "wrong_url", "wrong_token", "tampered"])
def test_bad_signatures_get_403_and_change_nothing(org: Any, client: Client, case: str) -> None:
    account, call = placed_call(org)
    params = person("busy")
    if case == "forged":
        response = post(client, account, params, signature="Zm9yZ2VkIQ==")
    elif case == "missing":
        response = post(client, account, params, signature="")
    elif case == "wrong_url":
        response = post(client, account, params, signed_url="https://evil.test/webhooks/x/")
    elif case == "wrong_token":
        response = post(client, account, params, token="another-accounts-token-000")
    else:
        url = call_status_url(account=account)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, person("ringing"))
        response = post(client, account, params, signature=signature)
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.CALLING_AGENT and not CallAttempt.objects.exists()


def test_a_callback_delivered_three_times_counts_once(org: Any, client: Client) -> None:
    account, call = placed_call(org)
    for _ in range(3):
        assert post(client, account, person("busy")).status_code == 204
    event = WebhookEvent.objects.get()
    assert event.deliveries == 3 and event.outcome == "processed"
    assert CallAttempt.objects.filter(target=call.target).count() == 1
    call.refresh_from_db()
    assert call.auto_status == "auto_busy" and call.result_recorded


def test_out_of_order_callbacks_never_move_a_call_backwards(org: Any, client: Client) -> None:
    account, call = placed_call(org)
    post(client, account, person("in-progress"))
    post(client, account, person("completed", CallDuration="42"))
    post(client, account, person("ringing"))  # late
    post(client, account, person("initiated"))  # later still
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.person_event == "completed"
    assert call.person_duration_seconds == 42
    assert WebhookEvent.objects.filter(outcome="processed").count() == 4
    # A human answered: no auto status, the agent records the result.
    assert call.auto_status == "" and not CallAttempt.objects.exists()


def test_amd_after_answer_records_voicemail(org: Any, client: Client) -> None:
    account, call = placed_call(org)
    post(client, account, person("in-progress"))
    amd = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": PERSON_LEG,
        "AnsweredBy": "machine_end_silence",
        "MachineDetectionDuration": "3100",
    }
    post(client, account, amd)
    post(client, account, person("completed", CallDuration="5"))
    assert WebhookEvent.objects.count() == 3
    call.refresh_from_db()
    assert call.answered_by == "machine_end_silence" and call.auto_status == "auto_voicemail"
    assert CallAttempt.objects.get().status.key == "auto_voicemail"


def test_unknown_call_is_kept_and_reported(org: Any, client: Client, admin_client: Client) -> None:
    account, _call = placed_call(org)
    stray = {**person("busy", sid="CA" + "9" * 32), "ParentCallSid": "CA" + "8" * 32}
    assert post(client, account, stray).status_code == 204
    event = WebhookEvent.objects.get()
    assert event.outcome == "unmatched"
    assert not CallAttempt.objects.exists()
    page = admin_client.get("/providers/")
    assert page.status_code == 200
    assert "CA" + "9" * 32 in page.content.decode() or "call_status" in page.content.decode()


def test_org_a_webhook_cannot_touch_org_b_calls(org: Any, other_org: Any, client: Client) -> None:
    _account_a, call_b = placed_call(other_org)  # organization B's call
    account_a = make_twilio_account(org, token="organization-a-token-000000")
    # A's account (its own valid signature) speaks about B's call ids.
    response = post(client, account_a, person("busy"), token="organization-a-token-000000")
    assert response.status_code == 204
    assert WebhookEvent.objects.get().outcome == "unmatched"
    call_b.refresh_from_db()
    assert call_b.stage == PlacedCall.Stage.CALLING_AGENT and call_b.person_call_id == ""
    assert not CallAttempt.objects.exists()


def test_call_callbacks_take_the_webhook_fast_path(org: Any, client: Client) -> None:
    """No session, CSRF or organization middleware for carriers' callbacks (the ingestion rate)."""
    account, call = placed_call(org)
    client.cookies["sessionid"] = "whatever"
    response = post(client, account, person("ringing"))
    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.get("Vary", "")
    assert response["X-Request-Id"]  # still logged
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.RINGING
    assert client.post("/webhooks/voice/x/nowhere/").status_code == 404

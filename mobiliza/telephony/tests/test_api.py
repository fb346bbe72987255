"""The API and pages: dial → live state → hang up, agent phone verification, voice settings, the
call-method wizard step, spend on the dashboard and the detail page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import api_client_for, client_for
from mobiliza.providers.services import simulator_tick
from mobiliza.telephony.models import AgentPhone, PlacedCall
from mobiliza.telephony.tests.factories import (
    AGENT_PHONE,
    held_target,
    make_software_operation,
    make_voice_account,
    verified_agent,
)

pytestmark = pytest.mark.django_db


def test_dial_state_and_hang_up_over_the_api(org: Any) -> None:
    make_voice_account(org, voice_mix={"human": 1})
    operation = make_software_operation(org)
    agent = verified_agent(operation)
    api = api_client_for(agent)
    claim = api.post(f"/api/v1/call-operations/{operation.public_id}/claim").json()
    target_id = claim["target"]["id"]
    response = api.post(f"/api/v1/call-targets/{target_id}/dial")
    assert response.status_code == 201, response.content
    call = response.json()
    assert call["stage"] == "calling_agent" and call["target"] == target_id
    simulator_tick(now=timezone.now() + dt.timedelta(seconds=15))
    state = api.get(f"/api/v1/placed-calls/{call['id']}").json()
    assert state["stage"] == "connected" and not state["over"]
    again = api.post(f"/api/v1/call-targets/{target_id}/dial")
    assert again.status_code == 409 and again.json()["code"] == "busy"
    assert api.post(f"/api/v1/placed-calls/{call['id']}/hangup").status_code == 200
    simulator_tick(now=timezone.now() + dt.timedelta(seconds=20))
    state = api.get(f"/api/v1/placed-calls/{call['id']}").json()
    assert state["stage"] == "ended" and state["over"] and float(state["price"]) > 0


def test_another_agent_cannot_see_or_hang_up_my_call(org: Any) -> None:
    make_voice_account(org)
    operation = make_software_operation(org)
    agent = verified_agent(operation)
    from mobiliza.telephony.services import call_dial

    call = call_dial(target=held_target(operation, agent), agent=agent)
    other = api_client_for(verified_agent(operation))
    assert other.get(f"/api/v1/placed-calls/{call.public_id}").status_code == 404
    assert other.post(f"/api/v1/placed-calls/{call.public_id}/hangup").status_code == 404


def _claim_and_dial(api: Any, operation: Any) -> Any:
    """The agent claims the next person and asks to dial them: the dial's response."""
    claimed = api.post(f"/api/v1/call-operations/{operation.public_id}/claim").json()
    return api.post(f"/api/v1/call-targets/{claimed['target']['id']}/dial")


def test_dial_refusal_is_a_clear_409(org: Any) -> None:
    make_voice_account(org)
    operation = make_software_operation(org)
    from mobiliza.calling.tests.factories import make_agent

    agent = make_agent(operation)
    api = api_client_for(agent)
    response = _claim_and_dial(api, operation)
    assert response.status_code == 409
    assert response.json()["code"] == "phone_not_verified"
    assert "Verify your phone" in response.json()["detail"]


def test_agent_phone_verification_over_the_api(org: Any, volunteer_member: Any) -> None:
    make_voice_account(org)
    api = api_client_for(volunteer_member)
    assert api.get("/api/v1/agent-phone").status_code == 404
    bad = api.post(
        "/api/v1/agent-phone", {"number": "not a phone"}, content_type="application/json"
    )
    assert bad.status_code == 422 and "number" in bad.json()["detail"]
    sent = api.post("/api/v1/agent-phone", {"number": AGENT_PHONE}, content_type="application/json")
    assert sent.status_code == 200
    body = sent.json()
    assert body["e164"] == AGENT_PHONE and not body["verified"]
    code = body["simulator_code"]  # the simulator can't reach a phone: the code is shown
    assert len(code) == 6
    wrong = "000000" if code != "000000" else "111111"
    refused = api.post(
        "/api/v1/agent-phone/verify", {"code": wrong}, content_type="application/json"
    )
    assert refused.status_code == 422
    ok = api.post("/api/v1/agent-phone/verify", {"code": code}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["verified"]
    phone = AgentPhone.objects.get(membership=volunteer_member)
    assert phone.is_verified and phone.code_hash == "" and phone.simulator_code == ""


def test_twilio_accounts_never_show_the_code(org: Any, volunteer_member: Any) -> None:
    from mobiliza.providers.tests.factories import make_twilio_account

    make_twilio_account(org)
    api = api_client_for(volunteer_member)
    response = api.post(
        "/api/v1/agent-phone", {"number": AGENT_PHONE}, content_type="application/json"
    )
    # No sender number to text the code from: refused clearly, nothing shown.
    assert response.status_code == 422 and "sender number" in response.json()["detail"]


def test_voice_settings_admins_only(admin_member: Any, volunteer_member: Any) -> None:
    admin = api_client_for(admin_member)
    assert admin.get("/api/v1/voice-settings").json()["currency"] == "EUR"
    put = admin.put(
        "/api/v1/voice-settings",
        {"rate_per_minute": "0.035", "currency": "usd", "use_provider_price": False},
        content_type="application/json",
    )
    assert put.status_code == 200 and put.json()["currency"] == "USD"
    bad = admin.put(
        "/api/v1/voice-settings",
        {"rate_per_minute": "-1", "currency": "EUR"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert api_client_for(volunteer_member).get("/api/v1/voice-settings").status_code == 403


def test_openapi_lists_the_endpoints(admin_api: Client) -> None:
    paths = admin_api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/call-targets/{calltarget_id}/dial",
        "/api/v1/placed-calls/{placedcall_id}",
        "/api/v1/placed-calls/{placedcall_id}/hangup",
        "/api/v1/agent-phone",
        "/api/v1/agent-phone/verify",
        "/api/v1/voice-settings",
    ):
        assert path in paths


def test_phone_page_verifies_with_the_simulator_code(org: Any, volunteer_member: Any) -> None:
    make_voice_account(org)
    client = client_for(volunteer_member)
    page = client.post("/telephony/phone/", {"action": "send", "number": AGENT_PHONE})
    assert page.status_code == 302
    shown = client.get("/telephony/phone/")
    code = AgentPhone.objects.get(membership=volunteer_member).simulator_code
    assert code in shown.content.decode()
    done = client.post("/telephony/phone/", {"action": "verify", "code": code})
    assert done.status_code == 302
    assert AgentPhone.objects.get(membership=volunteer_member).is_verified


def test_settings_page(admin_client: Client, volunteer_client: Client) -> None:
    assert admin_client.get("/telephony/settings/").status_code == 200
    saved = admin_client.post(
        "/telephony/settings/", {"rate_per_minute": "0,05", "currency": "EUR"}
    )
    assert saved.status_code == 302
    error = admin_client.post("/telephony/settings/", {"rate_per_minute": "x", "currency": "EUR"})
    assert "amount" in error.content.decode()
    assert volunteer_client.get("/telephony/settings/").status_code in (403, 302)


def test_wizard_method_step_stores_detection_and_cap(org: Any) -> None:
    operation = make_software_operation(org)
    owner = operation.isolation_owner
    client = client_for(owner)
    url = f"/calling/{operation.public_id}/edit/4/"
    assert "spending_cap" in client.get(url).content.decode()
    bad = client.post(url, {"call_method": "software", "caller_id": "abc", "nav": "stay"})
    assert bad.status_code == 422 and "caller id" in bad.content.decode()
    ok = client.post(
        url,
        {
            "call_method": "software",
            "caller_id": "+351 910 000 001",
            "spending_cap": "12.50",
            "nav": "stay",
        },
    )
    assert ok.status_code == 302
    operation.refresh_from_db()
    assert operation.method_settings == {
        "caller_id": "+351910000001",
        "record_calls": False,
        "machine_detection": False,
        "spending_cap": "12.50",
    }


def test_call_screen_dashboard_and_detail_show_telephony(org: Any) -> None:
    make_voice_account(org, voice_mix={"busy": 1})
    operation = make_software_operation(org, spending_cap="5")
    agent = verified_agent(operation)
    from mobiliza.telephony.services import call_dial

    call_dial(target=held_target(operation, agent), agent=agent)
    simulator_tick(now=timezone.now() + dt.timedelta(minutes=5))
    screen = client_for(agent).get(f"/calling/{operation.public_id}/call/").content.decode()
    assert 'data-software="1"' in screen and 'data-testid="live-call"' in screen
    assert "telephony-i18n" in screen and 'data-testid="verify-phone"' not in screen
    owner = client_for(operation.isolation_owner)
    detail = owner.get(f"/calling/{operation.public_id}/").content.decode()
    call = PlacedCall.objects.get()
    assert 'data-testid="op-costs"' in detail and f"{call.price:.2f}" in detail
    dashboard = owner.get("/calling/").content.decode()
    assert 'data-testid="op-spend"' in dashboard


def test_unreadable_credentials_refuse_the_dial_with_what_to_do(org: Any) -> None:
    """SECRET_KEY (or FIELD_ENCRYPTION_KEY) changed without keeping the old key: the stored
    token can't be decrypted. The agent gets a 409 that says so, not a 500, and the call ends."""
    account = make_voice_account(org, voice_mix={"human": 1})
    account.auth_token_encrypted = "gAAAAABnot-a-token-this-key-can-read"
    account.save(update_fields=["auth_token_encrypted"])
    operation = make_software_operation(org)
    agent = verified_agent(operation)
    api = api_client_for(agent)
    response = _claim_and_dial(api, operation)
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "provider_refused"
    assert "credentials cannot be read" in response.json()["detail"]
    call = PlacedCall.objects.get(agent=agent)
    assert call.stage == "ended" and call.end_reason == "provider_refused"
    assert call.error_code == "credentials"

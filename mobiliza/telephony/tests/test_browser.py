"""The agent's calling screen on a phone viewport with a software-placed operation on the
simulator: live call state while the simulator's signed callbacks arrive, a bridged call saved by
the agent, then a busy line recorded automatically and the screen moving on by itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.accounts.tests.factories import PASSWORD
from mobiliza.calling.models import CallAttempt
from mobiliza.providers.models import ProviderAccount
from mobiliza.providers.services import simulator_tick
from mobiliza.telephony.tests.factories import (
    make_software_operation,
    make_voice_account,
    verified_agent,
)

pytestmark = [pytest.mark.browser]


def tick(seconds: float) -> None:
    simulator_tick(now=timezone.now() + dt.timedelta(seconds=seconds))


@pytest.mark.django_db(transaction=True)
def test_agent_sees_the_live_call_state_on_a_phone(
    live_server: Any, phone_page: Any, org: Any
) -> None:
    account = make_voice_account(org, voice_mix={"human": 1})
    operation = make_software_operation(org, people=3)
    agent = verified_agent(operation)
    page = phone_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", agent.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/calling/{operation.public_id}/call/")
    page.wait_for_selector("[data-testid=call-form]:not([hidden])")
    stage = page.locator("[data-testid=live-stage]")
    assert page.evaluate("document.getElementById('dial').getAttribute('href')") == "#"

    # 1. A person answers: calling you → connected → ended; the agent chooses the result.
    page.click("[data-testid=call-button]")
    page.wait_for_selector("[data-testid=live-call]:not([hidden])")
    assert stage.get_attribute("data-stage") == "calling_agent"
    assert "Calling you" in stage.inner_text()
    tick(15)
    page.wait_for_selector("[data-testid=live-stage][data-stage=connected]")
    assert page.is_visible("[data-testid=hang-up]")
    tick(300)
    page.wait_for_selector("[data-testid=live-stage][data-stage=ended]")
    page.check("input[name=status][value=completed]")
    first_number = page.inner_text("#dial-number")
    page.click("[data-testid=save-next]")
    page.wait_for_function(
        f"document.getElementById('dial-number').textContent !== {first_number!r}"
    )
    assert page.is_hidden("[data-testid=live-call]")

    # 2. A busy line: recorded automatically, the screen moves on without the agent choosing.
    ProviderAccount.objects.filter(pk=account.pk).update(
        options={**account.options, "voice_mix": {"busy": 1}}
    )
    second_number = page.inner_text("#dial-number")
    page.click("[data-testid=call-button]")
    page.wait_for_selector("[data-testid=live-call]:not([hidden])")
    tick(60)
    page.wait_for_selector("[data-testid=live-stage][data-stage=ended]")
    assert "Recorded automatically" in page.inner_text("[data-testid=live-detail]")
    assert "Busy" in page.inner_text("[data-testid=live-detail]")
    page.wait_for_function(
        f"document.getElementById('dial-number').textContent !== {second_number!r}"
    )
    statuses = sorted(CallAttempt.objects.values_list("status__key", flat=True))
    assert statuses == ["auto_busy", "completed"]
    # Phone-first: nothing overflows the 360 px viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

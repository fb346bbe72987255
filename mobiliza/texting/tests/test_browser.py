"""On a 360px phone: a texter joins by link, sends the first messages (one press, one message,
even with a held key), answers a reply with a canned response and records a survey answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.accounts.tests.factories import PASSWORD, UserFactory
from mobiliza.texting.models import Conversation, Message

pytestmark = [pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_texter_joins_sends_and_answers_on_a_phone(
    live_server: Any, phone_page: Any, org: Any
) -> None:
    from mobiliza.providers.services import simulator_inbound, simulator_tick
    from mobiliza.surveys.tests.factories import make_survey
    from mobiliza.texting.services import canned_response_create
    from mobiliza.texting.tests.factories import make_campaign

    survey = make_survey(org)
    campaign = make_campaign(org, people=3, survey=survey, batch_size=3)
    canned_response_create(
        campaign=campaign, actor=None, title="See you", text="Great, see you Saturday {first_name}!"
    )
    user = UserFactory(email="texter@example.org", full_name="Rita Texter")
    page = phone_page
    page.goto(f"{live_server.url}/texting/join/{campaign.join_token}/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/texting/join/{campaign.join_token}/")
    page.click("[data-testid=join-campaign]")
    page.wait_for_url(f"**/texting/{campaign.public_id}/send/")
    page.click("[data-testid=request-batch]")
    page.wait_for_selector("[data-testid=send-first]")
    assert "it's Rita" in page.inner_text("[data-testid=preview]")

    # First message: a held Enter key (keydown repeats) sends exactly one.
    first_name = page.inner_text("[data-testid=send-to]")
    page.keyboard.down("Enter")
    page.keyboard.down("Enter")
    page.keyboard.down("Enter")
    page.keyboard.up("Enter")
    page.wait_for_function(
        "name => !document.querySelector('[data-testid=send-to]') || "
        "document.querySelector('[data-testid=send-to]').innerText !== name",
        arg=first_name,
    )
    assert Message.objects.filter(direction="out").count() == 1
    # Second: a double tap on the button sends one.
    second_name = page.inner_text("[data-testid=send-to]")
    page.dblclick("[data-testid=send-first]")
    page.wait_for_function(
        "name => !document.querySelector('[data-testid=send-to]') || "
        "document.querySelector('[data-testid=send-to]').innerText !== name",
        arg=second_name,
    )
    # Third: a plain press.
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=request-batch]")
    assert Message.objects.filter(direction="out").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # The carrier delivers, and one person replies.
    replied = Conversation.objects.select_related("person").order_by("id").first()
    assert replied is not None
    first = replied.messages.get()
    simulator_inbound(
        account=first.provider_account,
        from_number=replied.phone_e164,
        to_number=first.from_e164,
        body="Yes, I'll come!",
    )
    simulator_tick(now=timezone.now() + dt.timedelta(minutes=5))

    page.goto(f"{live_server.url}/texting/{campaign.public_id}/inbox/")
    page.click(f"a[href$='/conversations/{replied.public_id}/']")
    page.wait_for_selector("[data-testid=thread]")
    assert "Yes, I'll come!" in page.inner_text("[data-testid=thread]")
    assert "Delivered" in page.inner_text("[data-testid=thread]")
    page.click("[data-testid=canned]")
    page.wait_for_function(
        "document.querySelector('[data-testid=thread]').innerText.includes('see you Saturday')"
    )
    page.select_option("#q-support", "yes")
    page.click("form.answer:has(#q-support) button")
    page.wait_for_selector("[data-testid=answer-support]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    from mobiliza.surveys.models import Answer

    replied.refresh_from_db()
    out = list(
        replied.messages.filter(direction="out").order_by("id").values_list("body", flat=True)
    )
    assert out[-1] == f"Great, see you Saturday {replied.person.first_name}!"
    assert replied.status == "replied"
    answer = Answer.objects.get(person=replied.person, question__key="support")
    assert answer.channel == "text" and answer.agent.email == "texter@example.org"

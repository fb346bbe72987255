"""An organizer creates an operation through every wizard step (desktop); an agent joins by the
share link on a phone and saves three calls."""

from __future__ import annotations

from typing import Any

import pytest

from mobiliza.accounts.tests.factories import PASSWORD, make_member
from mobiliza.calling.models import CallAttempt, CallOperation, CallTarget, OperationUser
from mobiliza.calling.tests.factories import make_person

pytestmark = [pytest.mark.browser]


def _next(page: Any, step: int) -> None:
    page.click("[data-testid=next]")
    page.wait_for_url(f"**/edit/{step + 1}/")


@pytest.mark.django_db(transaction=True)
def test_organizer_creates_and_agent_calls_from_a_phone(
    live_server: Any, desktop_page: Any, phone_page: Any, org: Any
) -> None:
    organizer = make_member(org, "organizer", email="organizer@example.org")
    for i in range(5):
        make_person(org, first_name=f"Person{i}")
    page = desktop_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", organizer.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/calling/")
    page.click("[data-testid=create-operation]")
    page.wait_for_url("**/edit/1/")
    # 1 version
    page.check("input[value=original]")
    _next(page, 1)
    # 2 source
    page.check("input[value=contacts]")
    _next(page, 2)
    # 3 details: an invalid window first
    page.fill("#id_name", "Weekend calls")
    page.fill("#id_window_start", "20:00")
    page.fill("#id_window_end", "08:00")
    page.click("[data-testid=next]")
    assert "must end after it starts" in page.content()
    page.fill("#id_window_start", "00:00")
    page.fill("#id_window_end", "23:59")
    for day in range(7):
        page.check(f"#id_days_of_week_{day}")
    page.fill("#id_script", "Hello ")
    page.click("button.merge[data-insert='{first_name}']")
    _next(page, 3)
    # 4 method
    page.check("input[value=own_phone]")
    _next(page, 4)
    # 5 survey: none
    _next(page, 5)
    # 6 recycling (auto-detected greyed out)
    assert page.locator("ul.recycling.disabled").count() == 1
    _next(page, 6)
    # 7 blocking: none
    _next(page, 7)
    # 8 fields: make email editable, keep defaults
    page.check("input[name=vis_email][value=editable]")
    _next(page, 8)
    # 9 users: link shown, role agent
    link = page.inner_text("[data-testid=share-link]").strip()
    assert "/calling/join/" in link
    _next(page, 9)
    # 10 contact list: count after blocking
    assert "5" in page.inner_text("[data-testid=list-preview]")
    _next(page, 10)
    page.click("[data-testid=finish]")
    page.wait_for_url(f"{live_server.url}/calling/")
    assert "Weekend calls" in page.content()
    page.click("[data-testid=op-menu]")
    page.click("[data-testid=menu-share]")
    assert page.inner_text("[data-testid=share-link]").strip() == link
    op = CallOperation.objects.get(organization=org)
    assert not op.is_draft and CallTarget.objects.filter(operation=op, state="ready").count() == 5

    # The agent opens the link on a phone, signs up, joins and saves three calls.
    phone = phone_page
    phone.goto(link)
    phone.click("[data-testid=join-signup]")
    phone.fill("input[name=full_name]", "Vera Volunteer")
    phone.fill("input[name=email]", "vera@example.org")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.click("[data-testid=join]")
    phone.wait_for_url("**/call/")
    for i in range(3):
        phone.wait_for_selector("[data-testid=call-form]:not([hidden])")
        assert "Hello Person" in phone.inner_text("[data-testid=script]")
        href = phone.get_attribute("[data-testid=call-button]", "href")
        assert href is not None and href.startswith("tel:+")
        phone.check("input[name=status][value=completed]")
        if i == 0:
            phone.fill("input[data-field=email]", "reached@example.org")
        phone.fill("#notes", f"call {i}")
        phone.click("[data-testid=save-next]")
        phone.wait_for_function(
            "n => document.querySelectorAll('#notes').length && document.querySelector('#notes').value === ''",
            arg=None,
        )
        phone.wait_for_timeout(300)
    phone.wait_for_timeout(500)
    membership = OperationUser.objects.get(operation=op, membership__user__email="vera@example.org")
    assert membership.role == "agent" and membership.membership.role == "volunteer"
    attempts = CallAttempt.objects.filter(operation=op)
    assert attempts.count() == 3
    assert sorted(attempts.values_list("notes", flat=True)) == ["call 0", "call 1", "call 2"]
    assert CallTarget.objects.filter(operation=op, state="done").count() == 3
    assert (
        phone.evaluate(
            "Object.keys(localStorage).filter(k => k.startsWith('mobiliza.call.pending')).length"
        )
        == 0
    )


@pytest.mark.django_db(transaction=True)
def test_a_result_sent_while_offline_is_recorded_once_after_reload(
    live_server: Any, phone_page: Any, org: Any
) -> None:
    from mobiliza.calling.tests.factories import make_agent, make_operation

    op = make_operation(org, people=3)
    agent = make_agent(op)
    page = phone_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", agent.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/calling/{op.public_id}/call/")
    page.wait_for_selector("[data-testid=call-form]:not([hidden])")
    first_target = page.evaluate("document.getElementById('dial').href")
    page.route("**/result", lambda route: route.abort())
    page.check("input[name=status][value=refused]")
    page.click("[data-testid=save-next]")
    page.wait_for_function(
        "Object.keys(localStorage).some(k => k.startsWith('mobiliza.call.pending'))"
    )
    key = page.evaluate(
        "JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('mobiliza.call.pending')))).body.idempotency_key"
    )
    assert page.is_visible("[data-testid=offline]")
    assert CallAttempt.objects.count() == 0
    page.unroute("**/result")
    page.reload()
    page.wait_for_function(
        "!Object.keys(localStorage).some(k => k.startsWith('mobiliza.call.pending'))"
    )
    page.wait_for_selector("[data-testid=call-form]:not([hidden])")
    attempts = list(CallAttempt.objects.all())
    assert len(attempts) == 1 and attempts[0].idempotency_key == key
    assert attempts[0].status.key == "refused"
    # the next person is a different one
    assert page.evaluate("document.getElementById('dial').href") != first_target

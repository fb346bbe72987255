"""In a real Chromium, on a phone: log in, switch organization, invite a member, speak French."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from mobiliza.accounts.models import Invitation, Membership
from mobiliza.accounts.tests.factories import PASSWORD, OrganizationFactory, make_member


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_organizer_journey_on_a_phone(live_server: Any, phone_page: Any) -> None:
    first = OrganizationFactory(name="Movimento Avante")
    second = OrganizationFactory(name="Ensemble Lyon")
    admin = make_member(first, "admin", email="ana@example.org", full_name="Ana Costa")
    Membership.objects.create(user=admin.user, organization=second, role="admin")
    page = phone_page

    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "ana@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Hello, Ana")
    assert page.locator("[data-testid=org-switcher]").inner_text().strip() == "Movimento Avante"

    # switch organization from the top bar
    page.click("[data-testid=org-switcher]")
    page.click("button.menu-item:has-text('Ensemble Lyon')")
    page.wait_for_selector("text=You are now working in Ensemble Lyon")
    assert page.locator("[data-testid=org-switcher]").inner_text().strip() == "Ensemble Lyon"

    # invite a member through the phone menu
    page.click(".nav-toggle")
    page.click("#mainnav >> text=Members")
    page.fill("input[name=email]", "new.volunteer@example.org")
    page.select_option("select[name=role]", "organizer")
    page.click("text=Send invitation")
    page.wait_for_selector("text=Invitation sent to new.volunteer@example.org")
    invitation = Invitation.objects.get(email="new.volunteer@example.org")
    assert invitation.organization == second and invitation.role == "organizer"
    assert len(mail.outbox) == 1
    assert page.locator("[data-testid=invitation-row]").count() == 1

    # choose French on the profile page and see French
    page.click(".nav-toggle")
    page.click("#mainnav >> text=Profile")
    page.select_option("select[name=language]", "fr")
    page.click("form:has(input[value=profile]) button[type=submit]")
    page.wait_for_selector("text=Profil enregistré.")
    page.click(".nav-toggle")
    assert page.locator("#mainnav >> text=Membres").is_visible()
    assert page.locator("html").get_attribute("lang") == "fr"
    page.click("#mainnav >> text=Membres")
    page.wait_for_selector("text=Inviter quelqu’un")

"""In a real Chromium on a phone: build a segment with two criteria on the people page, watch the
live count, save it, find it again in the segments list, open a person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from mobiliza.accounts.tests.factories import PASSWORD, OrganizationFactory, make_member
from mobiliza.people.models import Segment
from mobiliza.people.tests.factories import (
    ElectionFactory,
    PersonFactory,
    TagFactory,
    add_tag,
    add_vote,
)


def _settled(page: Any, action: Callable[[], None]) -> None:
    """Run `action` and wait until htmx has swapped and processed the new builder (a person
    is never faster than htmx's settle delay; a test is)."""
    page.evaluate(
        "window.__settled = new Promise(r => { setTimeout(r, 3000); "
        "document.body.addEventListener('htmx:afterSettle', () => setTimeout(r, 50), "
        "{once: true}); })"
    )
    action()
    page.evaluate("window.__settled")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_count_save_and_find_a_segment_on_a_phone(live_server: Any, phone_page: Any) -> None:
    org = OrganizationFactory(name="Movimento Avante")
    make_member(org, "organizer", email="org@example.org", full_name="Olga Organizer")
    volunteer = TagFactory(organization=org, name="volunteer")
    election = ElectionFactory(organization=org, label="2024 GENERAL", description="General 2024")
    people = [PersonFactory(organization=org, last_name=f"Person{i:02}") for i in range(6)]
    for person in people[:4]:
        add_tag(person, volunteer)
    for person in people[2:]:
        add_vote(person, election)
    page = phone_page

    page.goto(live_server.url + "/people/")
    page.fill("input[name=username]", "org@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=builder-toggle]")
    assert page.locator("[data-testid=person-row]").count() == 6

    # open the builder (it is a <details> on the page), add a first condition: has tag volunteer
    page.click("[data-testid=builder-toggle]")
    _settled(page, lambda: page.click("[data-testid=add-condition]"))
    _settled(page, lambda: page.select_option("[data-testid=seg-filter] >> nth=0", "tag"))
    page.wait_for_selector("[data-testid=seg-param-tag]")
    page.select_option("[data-testid=seg-param-tag]", "volunteer")
    expect(page.locator("[data-testid=seg-count-value]")).to_have_text("4")

    # a second condition: voted in the 2024 general election
    _settled(page, lambda: page.click("[data-testid=add-condition] >> nth=-1"))
    expect(page.locator("[data-testid=seg-filter]")).to_have_count(2)
    _settled(page, lambda: page.select_option("[data-testid=seg-filter] >> nth=1", "voted"))
    page.wait_for_selector("[data-testid=seg-param-election]")
    page.select_option("[data-testid=seg-param-election]", "2024 GENERAL")
    expect(page.locator("[data-testid=seg-count-value]")).to_have_text("2")

    # the list shows those two
    page.click("[data-testid=builder-apply]")
    expect(page.locator("[data-testid=person-row]")).to_have_count(2)
    rows = page.locator("[data-testid=person-row]").all_inner_texts()
    assert any("Person02" in r for r in rows) and any("Person03" in r for r in rows)

    # save it under a name
    page.fill("[data-testid=segment-name-input]", "Volunteers who voted")
    page.click("[data-testid=segment-save]")
    page.wait_for_selector("[data-testid=segment-name]:has-text('Volunteers who voted')")
    segment = Segment.objects.get(organization=org, name="Volunteers who voted")
    assert segment.definition["op"] == "and" and len(segment.definition["children"]) == 2
    expect(page.locator("[data-testid=seg-count-value]").first).to_have_text("2")

    # find it again from the segments list
    page.goto(live_server.url + "/people/segments/")
    page.click("[data-testid=segment-row] >> text=Volunteers who voted")
    page.wait_for_selector("[data-testid=segment-name]:has-text('Volunteers who voted')")
    assert page.locator("[data-testid=person-row]").count() == 2
    page.click("[data-testid=person-row] >> nth=0 >> a")
    page.wait_for_selector("[data-testid=person-name]")
    assert "General 2024" in page.locator("[data-testid=votes]").inner_text()

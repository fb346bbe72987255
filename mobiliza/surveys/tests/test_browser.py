"""In a real Chromium on a 360×740 phone: build a branching survey from a template, then run it
one question at a time (htmx swaps, Back, progress), and check what was recorded."""

from __future__ import annotations

from typing import Any

import pytest

from mobiliza.accounts.tests.factories import PASSWORD, OrganizationFactory, make_member
from mobiliza.surveys.models import Answer, Survey
from mobiliza.surveys.tests.factories import make_person


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_from_template_and_run_one_question_at_a_time(
    live_server: Any, phone_page: Any
) -> None:
    org = OrganizationFactory(name="Movimento Avante", default_language="en")
    make_member(org, "organizer", email="rui@example.org", full_name="Rui Sousa")
    person = make_person(org, first_name="Beatriz", last_name="Lopes", email="bea@example.org")
    page = phone_page

    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "rui@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Hello, Rui")

    # Surveys → Template library → Use "Voter ID and support"
    page.click(".nav-toggle")
    page.click("#mainnav >> text=Surveys")
    page.click("[data-testid=template-library]")
    card = page.locator("[data-testid=template-card]", has_text="Voter ID and support")
    card.locator("[data-testid=use-template]").click()
    page.wait_for_selector("[data-testid=question-list]")
    survey = Survey.objects.get(organization=org, is_template=False)
    assert no_horizontal_scroll(page)

    # Make "Do you plan to vote?" branch: "No" ends the survey.
    page.click("[data-testid=question-list] >> text=Do you plan to vote?")
    rows = page.locator("[data-testid=choice-row]")
    assert rows.count() == 2
    rows.nth(1).locator("select[name$='-branch']").select_option("end")
    assert no_horizontal_scroll(page)
    page.click("[data-testid=save-question]")
    page.wait_for_selector("text=Question saved.")
    flow = page.locator("[data-testid=sv-flow]").inner_text()
    assert "No → end of survey" in flow
    survey.refresh_from_db()
    assert survey.current_version.number == 2

    # A loop is refused, naming the problem: "Something else" on question 3 back to question 1.
    page.click("[data-testid=question-list] >> text=Which issue matters most to you?")
    last = page.locator(
        "[data-testid=choice-row]", has=page.locator("input[value='Something else']")
    )
    last.locator("select[name$='-branch']").select_option("goto")
    first_question = survey.questions.get(key="support")
    last.locator("select[name$='-branch_to']").select_option(str(first_question.public_id))
    page.click("[data-testid=save-question]")
    assert "loop" in page.locator("[data-testid=graph-error]").inner_text()
    survey.refresh_from_db()
    assert survey.current_version.number == 2
    page.go_back()
    page.go_back()

    # Record answers for Beatriz, one question at a time.
    page.goto(live_server.url + f"/surveys/{survey.public_id}/")
    page.click("text=Record answers")
    page.fill("input[name=q]", "Beatriz")
    page.click("button:has-text('Search')")
    page.click("text=Beatriz Lopes")
    page.wait_for_selector("[data-testid=sv-stepper]")
    page.evaluate("window.__sameDocument = true")
    assert "Question 1 of" in page.inner_text("[data-testid=sv-progress]")
    assert "Read the choices only if the person hesitates." in page.inner_text(
        "[data-testid=sv-guidance]"
    )
    assert page.locator("[data-testid=sv-back]").is_disabled()

    # Undecided jumps over "plan" to the issue question.
    page.check("input[name=q-support][value=undecided]")
    page.click("[data-testid=sv-next]")
    page.wait_for_selector("text=Which issue matters most to you?")
    assert page.inner_text("[data-testid=sv-progress]").strip() == "Question 2 of 3"
    assert page.evaluate("window.__sameDocument === true")  # htmx swapped, no page load
    assert no_horizontal_scroll(page)

    # Back: the answer is kept; choose "Yes, definitely" instead.
    page.click("[data-testid=sv-back]")
    page.wait_for_selector("text=Can we count on your support")
    assert page.is_checked("input[name=q-support][value=undecided]")
    page.check("input[name=q-support][value=yes]")
    page.click("[data-testid=sv-next]")
    page.wait_for_selector("text=Do you plan to vote?")
    # Next without an answer on an optional question is fine; here answer "No": the end.
    page.check("input[name=q-plan][value=no]")
    page.click("[data-testid=sv-next]")
    page.wait_for_selector("[data-testid=sv-review]")
    review = page.inner_text("[data-testid=sv-review]")
    assert "Yes, definitely" in review and "No" in review and "Which issue" not in review
    page.click("[data-testid=sv-save]")
    page.wait_for_selector("text=Answers saved for Beatriz Lopes.")

    answers = {a.question.key: a.value for a in Answer.objects.filter(person=person)}
    assert answers == {"support": "yes", "plan": "no"}
    person.refresh_from_db()
    assert person.support_level == 5
    assert list(person.tags.values_list("name", flat=True)) == ["supporter"]
    assert {a.version.number for a in Answer.objects.filter(person=person)} == {2}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_form_on_a_phone_without_javascript(live_server: Any, browser: Any) -> None:
    from mobiliza.people.models import Person
    from mobiliza.surveys.services import survey_public_set
    from mobiliza.surveys.tests.factories import make_survey

    org = OrganizationFactory(name="Movimento Avante")
    survey = make_survey(org)
    survey_public_set(survey=survey, actor=None, enabled=True)
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + f"/surveys/f/{survey.public_token}/")
        assert no_horizontal_scroll_static(page)
        honeypot = page.locator("#id_website").bounding_box()
        assert honeypot is not None and honeypot["x"] + honeypot["width"] <= 0  # off-screen
        page.check("input[name=q-support][value=maybe]")
        page.check("input[name=q-issue][value=jobs]")
        page.check("input[name=q-issue][value=climate]")
        page.fill("input[name=first_name]", "Carla")
        page.fill("input[name=email]", "carla@example.org")
        page.check("input[name=consent_sms]")
        page.click("[data-testid=public-submit]")
        page.wait_for_selector("[data-testid=public-thanks]")
    finally:
        context.close()
    person = Person.objects.get(organization=org, email="carla@example.org")
    assert person.consent_sms is True and person.consent_phone is None
    assert person.consent_email is True  # the "Climate" choice records email consent
    values = {a.question.key: a.value for a in Answer.objects.filter(person=person)}
    assert values == {"support": "maybe", "issue": ["jobs", "climate"]}


def no_horizontal_scroll_static(page: Any) -> bool:
    box = page.locator("main").bounding_box()
    return bool(box and box["x"] + box["width"] <= 361)

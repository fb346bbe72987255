"""The survey pages: builder, library, runners, results, CSV, permissions, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from conftest import client_for
from mobiliza.accounts.tests.factories import make_member
from mobiliza.core.models import AuditEvent
from mobiliza.surveys.models import Answer, Channel, Question, Survey
from mobiliza.surveys.services import answers_record
from mobiliza.surveys.tests.factories import make_person, make_survey

pytestmark = pytest.mark.django_db


def test_volunteer_cannot_reach_the_builder(volunteer_client: Any, org: Any) -> None:
    survey = make_survey(org)
    assert volunteer_client.get(reverse("surveys:list")).status_code == 403
    assert (
        volunteer_client.get(reverse("surveys:builder", args=[survey.public_id])).status_code == 403
    )


def test_create_from_blank_then_add_questions(organizer_client: Any, org: Any) -> None:
    response = organizer_client.post(
        reverse("surveys:create"), {"name": "Canvass", "description": "", "language": "en"}
    )
    survey = Survey.objects.get(organization=org, name="Canvass")
    assert response.status_code == 302
    url = reverse("surveys:question_create", args=[survey.public_id])
    response = organizer_client.post(
        url, {"type": "single", "label": "Support?", "choices": "Yes\nNo\nMaybe", "required": "on"}
    )
    question = Question.objects.get(survey=survey, label="Support?")
    assert response["Location"] == reverse(
        "surveys:question_edit", args=[survey.public_id, question.public_id]
    )
    organizer_client.post(url, {"type": "short_text", "label": "Why?"})
    organizer_client.post(url, {"type": "yes_no", "label": "Volunteer?"})
    volunteer_q = Question.objects.get(survey=survey, label="Volunteer?")
    choices = list(question.choices.order_by("position"))
    # Edit: "No" ends the survey and sets support 1; "Maybe" goes to question 3.
    data = {
        "type": "single",
        "label": "Support?",
        "required": "on",
        "choice-count": "4",
    }
    for i, choice in enumerate(choices):
        data[f"choice-{i}-id"] = str(choice.public_id)
        data[f"choice-{i}-label"] = choice.label
        data[f"choice-{i}-branch"] = "next"
    data["choice-1-branch"] = "end"
    data["choice-1-support_level"] = "1"
    data["choice-2-branch"] = "goto"
    data["choice-2-branch_to"] = str(volunteer_q.public_id)
    data["choice-3-label"] = "Don't know"
    data["choice-3-tag_add"] = "undecided"
    edit_url = reverse("surveys:question_edit", args=[survey.public_id, question.public_id])
    response = organizer_client.post(edit_url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    survey.refresh_from_db()
    definition = survey.current_version.definition
    first = definition["questions"][0]
    assert [c["label"] for c in first["choices"]] == ["Yes", "No", "Maybe", "Don't know"]
    assert first["choices"][1]["branch"] == {"kind": "end", "to": None}
    assert first["choices"][2]["branch"] == {"kind": "goto", "to": volunteer_q.key}
    assert first["choices"][1]["effects"]["support_level"] == 1
    assert first["choices"][3]["effects"]["tag_add"] == "undecided"
    # The builder page shows the flow.
    page = organizer_client.get(
        reverse("surveys:builder", args=[survey.public_id])
    ).content.decode()
    assert "end of survey" in page and "question 3" in page


def test_broken_graph_is_refused_with_the_problem_named(organizer_client: Any, org: Any) -> None:
    survey = make_survey(org)
    version = survey.current_version
    question = Question.objects.get(survey=survey, key="issue")
    support = Question.objects.get(survey=survey, key="support")
    choices = list(question.choices.order_by("position"))
    data = {"type": "multiple", "label": question.label, "choice-count": str(len(choices))}
    for i, choice in enumerate(choices):
        data[f"choice-{i}-id"] = str(choice.public_id)
        data[f"choice-{i}-label"] = choice.label
        data[f"choice-{i}-branch"] = "next"
    data["choice-0-branch"] = "goto"
    data["choice-0-branch_to"] = str(support.public_id)
    response = organizer_client.post(
        reverse("surveys:question_edit", args=[survey.public_id, question.public_id]), data
    )
    assert response.status_code == 200
    assert "loop" in response.content.decode()
    survey.refresh_from_db()
    assert survey.current_version == version
    # Removing a branch target is refused too.
    response = organizer_client.post(
        reverse("surveys:question_remove", args=[survey.public_id, question.public_id]),
        follow=True,
    )
    assert "does not exist" in response.content.decode()


def test_template_library_use_and_preview(organizer_client: Any, org: Any) -> None:
    page = organizer_client.get(reverse("surveys:templates") + "?language=fr").content.decode()
    assert "Mobilisation : plan de vote" in page and "Preview template" in page
    template = Survey.objects.get(organization=org, library_key="gotv", language="fr")
    preview = organizer_client.get(reverse("surveys:preview", args=[template.public_id]))
    assert "Prévoyez-vous" in preview.content.decode()
    response = organizer_client.post(reverse("surveys:use_template", args=[template.public_id]))
    copy = Survey.objects.get(organization=org, created_from=template)
    assert response["Location"] == reverse("surveys:builder", args=[copy.public_id])
    assert not copy.is_template


def test_preview_stepper_follows_branches_without_javascript(
    organizer_client: Any, org: Any
) -> None:
    survey = make_survey(org)
    url = reverse("surveys:preview", args=[survey.public_id])
    page = organizer_client.get(url).content.decode()
    assert "Will you support us?" in page and "Question 1 of" in page
    version = str(survey.current_version.public_id)
    common = {"survey-version": version}
    # Required: Next without an answer stays with an error.
    page = organizer_client.post(
        url, {**common, "survey-current": "support", "survey-action": "next"}
    ).content.decode()
    assert "needs an answer" in page
    # "maybe" jumps to "issue" (question 3).
    page = organizer_client.post(
        url, {**common, "survey-current": "support", "q-support": "maybe", "survey-action": "next"}
    ).content.decode()
    assert "Which issues?" in page and 'value="maybe"' in page  # carried as a hidden field
    # Back returns to question 1 with the answer kept.
    page = organizer_client.post(
        url, {**common, "survey-current": "issue", "q-support": "maybe", "survey-action": "back"}
    ).content.decode()
    assert "Will you support us?" in page and "checked" in page
    # "no" ends: review step.
    page = organizer_client.post(
        url, {**common, "survey-current": "support", "q-support": "no", "survey-action": "next"}
    ).content.decode()
    assert "Check the answers" in page
    assert not Answer.objects.exists()


def test_run_records_answers_once(organizer_client: Any, organizer_member: Any, org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    url = reverse("surveys:run", args=[survey.public_id]) + f"?person={person.public_id}"
    data = {
        "survey-version": str(survey.current_version.public_id),
        "survey-submission": "2b7c3a58-3f55-4a8e-9a43-0f2d6f1d7c10",
        "survey-current": "__end__",
        "q-support": "yes",
        "q-plan": "yes",
        "q-issue": ["health", "jobs"],
        "q-age": "33",
        "survey-action": "save",
    }
    for _attempt in range(2):  # a double click
        response = organizer_client.post(url, data)
        assert response.status_code == 302
    answers = Answer.objects.filter(person=person)
    assert answers.count() == 4
    assert {a.channel for a in answers} == {Channel.MANUAL}
    assert {a.agent for a in answers} == {organizer_member.user}
    person.refresh_from_db()
    assert person.support_level == 5
    # All-on-one form: required "support" missing is refused.
    response = organizer_client.post(
        url + "&mode=form", {"survey-version": data["survey-version"], "q-age": "3"}
    )
    assert response.status_code == 200 and "needs an answer" in response.content.decode()


def test_run_other_organizations_person_is_404(
    organizer_client: Any, org: Any, other_org: Any
) -> None:
    survey = make_survey(org)
    stranger = make_person(other_org)
    url = reverse("surveys:run", args=[survey.public_id]) + f"?person={stranger.public_id}"
    assert organizer_client.get(url).status_code == 404


def _answered_survey(org: Any, n: int = 6) -> Any:
    survey = make_survey(org)
    for i in range(n):
        answers_record(
            organization=org, person=make_person(org, first_name=f"P{i}"), survey=survey,
            answers={"support": ["yes", "maybe", "no"][i % 3], "issue": ["health", "jobs"][: 1 + i % 2],
                     "age": 20 + i, "comment": f"note {i}"},
            channel=[Channel.CALL, Channel.DOOR][i % 2], agent=None,
        )  # fmt: skip
    return survey


def test_results_distribution_and_filters(organizer_client: Any, org: Any) -> None:
    survey = _answered_survey(org)
    page = organizer_client.get(
        reverse("surveys:results", args=[survey.public_id])
    ).content.decode()
    assert "6 answers" in page and "33.3%" in page
    page = organizer_client.get(
        reverse("surveys:results", args=[survey.public_id]) + "?channel=door"
    ).content.decode()
    assert "3 answers" in page
    assert "Mean <strong>23.0</strong>" in page  # ages 21, 23, 25 (door)


def test_results_page_query_count(
    organizer_client: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    survey = _answered_survey(org, 12)
    url = reverse("surveys:results", args=[survey.public_id])
    with django_assert_max_num_queries(14):
        assert organizer_client.get(url).status_code == 200


def test_list_page_query_count(
    organizer_client: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(8):
        make_survey(org, name=f"S{i}")
    with django_assert_max_num_queries(10):
        page = organizer_client.get(reverse("surveys:list")).content.decode()
    assert page.count('data-testid="survey-row"') == 8


def test_csv_export_is_admin_only_and_audited(
    admin_client: Any, organizer_client: Any, org: Any
) -> None:
    survey = _answered_survey(org, 3)
    url = reverse("surveys:results_csv", args=[survey.public_id])
    assert organizer_client.get(url).status_code == 403
    response = admin_client.get(url + "?channel=call")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("answered_at,person_id")
    assert len(lines) == 1 + 2 * 4  # two people by call, four answers each
    assert AuditEvent.objects.filter(action="export", object_id=str(survey.public_id)).exists()


def test_builder_and_questions_are_isolated(org: Any, other_org: Any) -> None:
    survey = make_survey(other_org)
    question = survey.questions.first()
    client = client_for(make_member(org, "admin"))
    for url in (
        reverse("surveys:builder", args=[survey.public_id]),
        reverse("surveys:question_edit", args=[survey.public_id, question.public_id]),
        reverse("surveys:results", args=[survey.public_id]),
        reverse("surveys:preview", args=[survey.public_id]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(reverse("surveys:use_template", args=[survey.public_id])).status_code == 404
    assert Survey.objects.filter(organization=org).count() == 0


def test_home_card_counts_this_weeks_answers(
    organizer_client: Any, volunteer_client: Any, org: Any
) -> None:
    _answered_survey(org, 2)
    page = organizer_client.get(reverse("web:home")).content.decode()
    assert "Survey answers, last 7 days" in page
    assert "Survey answers" not in volunteer_client.get(reverse("web:home")).content.decode()


def test_template_library_query_count(
    organizer_client: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    organizer_client.get(reverse("surveys:templates"))  # first visit seeds the library
    with django_assert_max_num_queries(8):
        page = organizer_client.get(reverse("surveys:templates") + "?language=all").content.decode()
    assert page.count('data-testid="template-card"') == 12


def test_choices_can_be_reordered(organizer_client: Any, org: Any) -> None:
    survey = make_survey(org)
    question = Question.objects.get(survey=survey, key="issue")
    choices = list(question.choices.order_by("position"))
    data = {"type": "multiple", "label": question.label, "choice-count": str(len(choices))}
    for i, choice in enumerate(choices):
        data[f"choice-{i}-id"] = str(choice.public_id)
        data[f"choice-{i}-label"] = choice.label
        data[f"choice-{i}-branch"] = "next"
        data[f"choice-{i}-order"] = str(len(choices) - i)
    page = organizer_client.get(
        reverse("surveys:question_edit", args=[survey.public_id, question.public_id])
    ).content.decode()
    assert 'name="choice-0-order" value="1"' in page
    response = organizer_client.post(
        reverse("surveys:question_edit", args=[survey.public_id, question.public_id]), data
    )
    assert response.status_code == 302
    survey.refresh_from_db()
    described = survey.current_version.definition["questions"][2]
    assert [c["key"] for c in described["choices"]] == ["climate", "jobs", "health"]

"""Answers, their effects on people, versions, and the builder's refusal of broken graphs."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from mobiliza.core.models import AuditEvent
from mobiliza.people.models import ConsentRecord, Tag
from mobiliza.people.services import person_tag_add
from mobiliza.surveys import selectors, services
from mobiliza.surveys.models import Answer, Channel, Question
from mobiliza.surveys.tests.factories import make_person, make_survey

pytestmark = pytest.mark.django_db


def record(org: Any, person: Any, survey: Any, answers: dict[str, Any], **kw: Any) -> list[Any]:
    kw.setdefault("channel", Channel.CALL)
    kw.setdefault("agent", None)
    return services.answers_record(
        organization=org, person=person, survey=survey, answers=answers, **kw
    )


def test_effects_change_the_person_and_are_audited(org: Any, admin_member: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    person_tag_add(person=person, tag_name="apathetic", actor=None)
    record(
        org,
        person,
        survey,
        {"support": "yes", "issue": ["jobs", "climate"]},
        agent=admin_member.user,
    )
    person.refresh_from_db()
    assert person.support_level == 5
    assert set(person.tags.values_list("name", flat=True)) == {"supporter"}
    assert person.consent_email is True
    consent = ConsentRecord.objects.get(person=person)
    assert (
        consent.channel == "email" and consent.granted and consent.recorded_by == admin_member.user
    )
    events = AuditEvent.objects.filter(object_id=str(person.public_id), actor=admin_member.user)
    changed = [k for e in events for k in e.changes]
    assert {"support_level", "tags", "consent_email", "survey_answers"} <= set(changed)


def test_do_not_contact_effect(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    record(org, person, survey, {"support": "no"})
    person.refresh_from_db()
    assert person.do_not_contact is True and person.support_level == 1


def test_every_type_is_validated_and_nothing_stored_on_error(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    bad = {
        "support": "perhaps",
        "plan": "yes",
        "age": "abc",
        "when": "31/02/2020",
        "rating": 7,
        "nick": "x" * 300,
    }
    with pytest.raises(ValidationError) as exc:
        record(org, person, survey, bad)
    text = " ".join(exc.value.messages)
    assert "Will you support us?" in text and "not one of the choices" in text
    assert "How old are you?" in text and "Nickname" in text and "Rate us" in text
    assert "When did you move here?" in text
    assert not Answer.objects.exists()
    with pytest.raises(ValidationError, match="Unknown question"):
        record(org, person, survey, {"nope": "x"})
    with pytest.raises(ValidationError, match="choose only one"):
        record(org, person, survey, {"support": ["yes", "no"]})


def test_values_are_stored_typed(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    rows = record(
        org,
        person,
        survey,
        {
            "support": "maybe",
            "plan": True,
            "issue": ["climate", "health"],
            "age": "42",
            "comment": "  Fix the road ",
            "when": "2020-02-29",
            "rating": 4,
            "nick": "",
        },
    )
    by_key = {a.question.key: a for a in rows}
    assert "nick" not in by_key  # empty: skipped
    assert by_key["plan"].value == "yes" and by_key["plan"].value_text == "Yes"
    assert by_key["issue"].value == ["health", "climate"]  # choice order
    assert by_key["issue"].value_text == "Health, Climate"
    assert by_key["age"].value == 42
    assert by_key["comment"].value == "Fix the road"
    assert by_key["when"].value == "2020-02-29"
    assert by_key["rating"].value == "4"
    assert set(by_key["issue"].choices.values_list("key", flat=True)) == {"health", "climate"}


def test_latest_answer_flag_and_idempotency_per_source(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    first = record(org, person, survey, {"support": "maybe"}, source_type="call", source_id="1")
    again = record(org, person, survey, {"support": "no"}, source_type="call", source_id="1")
    assert [a.pk for a in again] == [a.pk for a in first]
    person.refresh_from_db()
    assert person.do_not_contact is False  # effects not re-applied on a repeat
    assert Answer.objects.count() == 1
    record(org, person, survey, {"support": "yes"}, source_type="call", source_id="2")
    latest = Answer.objects.get(person=person, is_latest=True)
    assert latest.value == "yes"
    assert Answer.objects.filter(person=person).count() == 2


def test_versions_keep_what_was_asked(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    v1 = selectors.survey_current_version(survey=survey)
    question = Question.objects.get(survey=survey, key="plan")
    services.question_update(
        question=question,
        actor=None,
        type="yes_no",
        label="Will you vote on Sunday?",
        guidance="",
        required=False,
        choices=[],
    )
    survey.refresh_from_db()
    v2 = survey.current_version
    assert v2 is not None and v1 is not None and v2.number == v1.number + 1
    assert v1.definition["questions"][1]["label"] == "Do you plan to vote?"
    # An agent who opened the person under v1 submits with v1; the next person gets v2.
    old = record(org, person, survey, {"plan": "yes"}, version=v1)
    new = record(org, make_person(org), survey, {"plan": "no"})
    assert old[0].version == v1 and new[0].version == v2
    description = selectors.version_description(version=v2)
    assert description["version"] == v2.number
    assert description["questions"][1]["label"] == "Will you vote on Sunday?"
    # Saving without a change publishes nothing new.
    services.survey_update(survey=survey, actor=None, name=survey.name)
    survey.refresh_from_db()
    assert survey.current_version == v2


def test_builder_refuses_broken_graphs_and_changes_nothing(org: Any) -> None:
    survey = make_survey(org)
    version = survey.current_version
    support = Question.objects.get(survey=survey, key="support")
    choices = [
        {
            "id": str(c.public_id),
            "label": c.label,
            "branch": "goto",
            "branch_to": str(support.public_id),
        }
        if c.key == "maybe"
        else {"id": str(c.public_id), "label": c.label, "branch": c.branch}
        for c in support.choices.all()
    ]
    with pytest.raises(ValidationError, match="loop"):
        services.question_update(
            question=support, actor=None, type="single", label=support.label,
            guidance="", required=True, choices=choices,
        )  # fmt: skip
    plan = Question.objects.get(survey=survey, key="plan")
    issue = Question.objects.get(survey=survey, key="issue")
    # Every choice of the first question skips "plan": unreachable.
    choices = [
        {"id": str(c.public_id), "label": c.label, "branch": "goto", "branch_to": str(issue.public_id)}
        if c.key == "yes"
        else {"id": str(c.public_id), "label": c.label, "branch": "goto" if c.key == "maybe" else c.branch,
              "branch_to": str(issue.public_id)}
        for c in support.choices.all()
    ]  # fmt: skip
    with pytest.raises(ValidationError, match="can never be reached"):
        services.question_update(
            question=support, actor=None, type="single", label=support.label,
            guidance="", required=True, choices=choices,
        )  # fmt: skip
    # Removing a question another one branches to: a branch to a missing question.
    with pytest.raises(ValidationError, match="does not exist"):
        services.question_remove(question=issue, actor=None)
    survey.refresh_from_db()
    assert survey.current_version == version
    issue.refresh_from_db()
    assert issue.removed_at is None
    assert plan.removed_at is None


def test_question_create_move_remove(org: Any) -> None:
    survey = make_survey(org, questions=[])
    a = services.question_create(survey=survey, actor=None, type="short_text", label="A")
    c = services.question_create(survey=survey, actor=None, type="yes_no", label="C")
    b = services.question_create(
        survey=survey, actor=None, type="single", label="B", choices=["x", "y"], after=a
    )
    assert [q.label for q in selectors.survey_questions(survey=survey)] == ["A", "B", "C"]
    assert list(c.choices.values_list("key", flat=True)) == ["yes", "no"]
    services.question_move(question=c, actor=None, direction="up")
    assert [q.label for q in selectors.survey_questions(survey=survey)] == ["A", "C", "B"]
    services.question_remove(question=b, actor=None)
    assert [q.label for q in selectors.survey_questions(survey=survey)] == ["A", "C"]
    with pytest.raises(ValidationError, match="at least one choice"):
        services.question_create(survey=survey, actor=None, type="single", label="D")


def test_type_change_refused_once_answered(org: Any) -> None:
    survey = make_survey(org)
    record(org, make_person(org), survey, {"nick": "Bo"})
    nick = Question.objects.get(survey=survey, key="nick")
    with pytest.raises(ValidationError, match="type can't change"):
        services.question_update(
            question=nick, actor=None, type="long_text", label="Nick", guidance="",
            required=False, choices=[],
        )  # fmt: skip


def test_other_organization_refused(org: Any, other_org: Any) -> None:
    survey = make_survey(org)
    with pytest.raises(ValidationError):
        record(org, make_person(other_org), survey, {"support": "yes"})
    assert not Tag.objects.exists()


def test_template_library_and_copy(org: Any) -> None:
    from mobiliza.surveys.library import LIBRARY, templates_ensure

    assert templates_ensure(organization=org) == len(LIBRARY) * 3
    assert templates_ensure(organization=org) == 0
    templates = selectors.survey_list(organization=org, templates=True)
    assert templates.count() == len(LIBRARY) * 3
    fr = templates.get(library_key="gotv", language="fr")
    assert fr.current_version.definition["questions"][0]["label"].startswith("Prévoyez")
    copy = services.survey_copy(survey=fr, actor=None)
    assert not copy.is_template and copy.created_from == fr
    assert copy.current_version.definition["questions"] == [
        {**q, "id": q2["id"], "choices": [{**c, "id": c2["id"]} for c, c2 in zip(q["choices"], q2["choices"], strict=True)]}
        for q, q2 in zip(fr.current_version.definition["questions"], copy.current_version.definition["questions"], strict=True)
    ]  # fmt: skip


def test_question_type_can_change_back_and_forth_before_answers(org: Any) -> None:
    survey = make_survey(org, questions=[])
    question = services.question_create(survey=survey, actor=None, type="yes_no", label="Q")
    services.question_update(
        question=question, actor=None, type="single", label="Q", guidance="", required=False,
        choices=[{"label": "Red"}, {"label": "Blue"}],
    )  # fmt: skip
    survey.refresh_from_db()
    keys = [c["key"] for c in survey.current_version.definition["questions"][0]["choices"]]
    assert keys == ["red", "blue"]
    services.question_update(
        question=question, actor=None, type="yes_no", label="Q", guidance="", required=False,
        choices=[{"key": "no", "label": "Nope", "branch": "end"}],
    )  # fmt: skip
    survey.refresh_from_db()
    choices = survey.current_version.definition["questions"][0]["choices"]
    assert [(c["key"], c["label"]) for c in choices] == [("yes", "Yes"), ("no", "Nope")]
    assert choices[1]["branch"]["kind"] == "end"


def test_person_panel_lists_latest_answers(
    org: Any, organizer_member: Any, volunteer_member: Any
) -> None:
    from mobiliza.surveys.panels import answers_panel

    survey = make_survey(org)
    person = make_person(org)
    record(org, person, survey, {"support": "maybe", "nick": "Bo"}, source_id="a")
    record(org, person, survey, {"support": "yes"}, source_id="b")
    panel = answers_panel(person, organizer_member)
    assert panel is not None and panel.template_name == "surveys/_person_panel.html"
    shown = {(a.question.key, a.value_text) for a in panel.context["survey_answers"]}
    assert shown == {("support", "Yes"), ("nick", "Bo")}
    assert answers_panel(person, volunteer_member) is None
    from django.template.loader import render_to_string

    html = render_to_string(panel.template_name, panel.context)
    assert "Will you support us?" in html and "Bo" in html

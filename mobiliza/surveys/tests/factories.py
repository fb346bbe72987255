"""Test data for surveys, built through the services. Registers isolation makers."""

from __future__ import annotations

from typing import Any

from mobiliza.core.testing.isolation import register_isolation_maker

BRANCHING = [
    {
        "key": "support",
        "type": "single",
        "label": "Will you support us?",
        "guidance": "Ask gently",
        "required": True,
        "choices": [
            {"key": "yes", "label": "Yes", "effects": {"support_level": 5, "tag_add": "supporter"}},
            {"key": "maybe", "label": "Maybe", "branch": {"kind": "goto", "to": "issue"}},
            {
                "key": "no",
                "label": "No",
                "branch": {"kind": "end"},
                "effects": {"support_level": 1, "do_not_contact": True},
            },
        ],
    },
    {"key": "plan", "type": "yes_no", "label": "Do you plan to vote?", "required": False},
    {
        "key": "issue",
        "type": "multiple",
        "label": "Which issues?",
        "choices": [
            {"key": "health", "label": "Health"},
            {"key": "jobs", "label": "Jobs", "effects": {"tag_remove": "apathetic"}},
            {
                "key": "climate",
                "label": "Climate",
                "effects": {"consent_channel": "email", "consent_granted": True},
            },
        ],
    },
    {"key": "age", "type": "number", "label": "How old are you?"},
    {"key": "comment", "type": "long_text", "label": "Anything else?"},
    {"key": "when", "type": "date", "label": "When did you move here?"},
    {"key": "rating", "type": "scale", "label": "Rate us"},
    {"key": "nick", "type": "short_text", "label": "Nickname"},
]


def make_survey(
    organization: Any, *, name: str = "Doorstep", questions: Any = None, **kw: Any
) -> Any:
    from mobiliza.surveys.services import survey_create

    return survey_create(
        organization=organization,
        actor=None,
        name=name,
        questions=BRANCHING if questions is None else questions,
        **kw,
    )


def make_person(organization: Any, **fields: Any) -> Any:
    from mobiliza.people.models import Person

    fields.setdefault("first_name", "Ana")
    fields.setdefault("last_name", "Silva")
    return Person.objects.create(organization=organization, **fields)


def make_phone(person: Any, e164: str) -> Any:
    from mobiliza.people.models import PersonPhone

    return PersonPhone.objects.create(
        organization=person.organization, person=person, raw=e164, e164=e164
    )


def _make_question(organization: Any) -> Any:
    """A question of the organization's newest survey: URLs nest question_id under survey_id, and
    the isolation walker builds the survey first, so both ids belong together."""
    from mobiliza.surveys.models import Survey

    survey = Survey.objects.filter(organization=organization).order_by("-id").first()
    if survey is None or not survey.questions.exists():
        survey = make_survey(organization)
    return survey.questions.order_by("position").first()


register_isolation_maker("surveys.survey", make_survey)
register_isolation_maker("surveys.question", _make_question)

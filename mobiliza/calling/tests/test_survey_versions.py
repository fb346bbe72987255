"""A survey edited while an operation runs: the next person gets the new version, and answers
keep the version the agent was shown."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import api_client_for
from mobiliza.surveys.models import Answer


def _claim(client: Any, operation: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/call-operations/{operation.public_id}/claim")
    assert response.status_code == 200, response.content
    return response.json()["target"]


def _edit_first_label(survey: Any, label: str) -> None:
    import copy

    from mobiliza.surveys.services import survey_questions_replace
    from mobiliza.surveys.tests.factories import BRANCHING

    questions = copy.deepcopy(BRANCHING)
    questions[0]["label"] = label
    survey_questions_replace(survey=survey, actor=None, questions=questions)


@pytest.mark.django_db
def test_edit_reaches_the_next_person_and_answers_keep_the_version_shown(org: Any) -> None:
    import uuid

    from mobiliza.calling.tests.factories import make_agent, make_operation
    from mobiliza.surveys.tests.factories import make_survey

    survey = make_survey(org)
    op = make_operation(org, people=3)
    op.survey = survey
    op.save()
    agent = make_agent(op)
    api = api_client_for(agent)

    first = _claim(api, op)
    assert first["survey"]["version"] == 1
    assert first["survey"]["definition"]["questions"][0]["label"] == "Will you support us?"

    _edit_first_label(survey, "Can we count on your support?")  # published as version 2

    body = {
        "status": "completed",
        "idempotency_key": uuid.uuid4().hex,
        "answers": {"support": "yes"},
        "survey_version": first["survey"]["version"],
    }
    response = api.post(
        f"/api/v1/call-targets/{first['id']}/result", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    answer = Answer.objects.get(source_type="call_attempt", question__key="support")
    assert answer.version.number == 1

    second = _claim(api, op)
    assert second["survey"]["version"] == 2
    assert (
        second["survey"]["definition"]["questions"][0]["label"] == "Can we count on your support?"
    )


@pytest.mark.django_db
def test_an_unknown_survey_version_is_refused_and_nothing_is_recorded(org: Any) -> None:
    import uuid

    from mobiliza.calling.models import CallAttempt
    from mobiliza.calling.tests.factories import make_agent, make_operation
    from mobiliza.surveys.tests.factories import make_survey

    survey = make_survey(org)
    op = make_operation(org, people=1)
    op.survey = survey
    op.save()
    api = api_client_for(make_agent(op))
    target = _claim(api, op)
    body = {
        "status": "completed",
        "idempotency_key": uuid.uuid4().hex,
        "answers": {"support": "yes"},
        "survey_version": 99,
    }
    response = api.post(
        f"/api/v1/call-targets/{target['id']}/result", body, content_type="application/json"
    )
    assert response.status_code == 422
    assert "Unknown version 99" in response.json()["detail"]
    assert not CallAttempt.objects.filter(operation=op).exists()
    assert not Answer.objects.exists()

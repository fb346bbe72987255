"""The surveys API: create, read, templates, answers (idempotent), results."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import api_client_for
from mobiliza.surveys.models import Answer
from mobiliza.surveys.tests.factories import BRANCHING, make_person, make_survey

pytestmark = pytest.mark.django_db


def test_create_and_get_a_survey(admin_api: Any) -> None:
    payload = {"name": "API survey", "questions": BRANCHING}
    response = admin_api.post(
        "/api/v1/surveys", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1
    assert [q["key"] for q in body["definition"]["questions"]][:3] == ["support", "plan", "issue"]
    got = admin_api.get(f"/api/v1/surveys/{body['id']}").json()
    assert got["definition"]["questions"][0]["choices"][1]["branch"] == {
        "kind": "goto",
        "to": "issue",
    }
    listed = admin_api.get("/api/v1/surveys").json()
    assert [s["name"] for s in listed] == ["API survey"]


def test_broken_graph_is_422(admin_api: Any) -> None:
    payload = {
        "name": "Loop",
        "questions": [
            {
                "key": "a",
                "type": "yes_no",
                "label": "A",
                "choices": [{"key": "yes", "label": "Y", "branch": {"kind": "goto", "to": "a"}}],
            },
        ],
    }
    response = admin_api.post(
        "/api/v1/surveys", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 422
    assert "loop" in response.json()["detail"]


def test_templates_and_use(admin_api: Any) -> None:
    templates = admin_api.get("/api/v1/survey-templates?language=pt").json()
    assert len(templates) == 4 and all(t["is_template"] for t in templates)
    response = admin_api.post(f"/api/v1/survey-templates/{templates[0]['id']}/use")
    assert response.status_code == 201
    assert response.json()["is_template"] is False


def test_record_answers_results_and_list(admin_api: Any, org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)
    body = {"person_id": str(person.public_id), "answers": {"support": "yes", "issue": ["jobs"]},
            "channel": "call", "source_id": "call-1"}  # fmt: skip
    url = f"/api/v1/surveys/{survey.public_id}/answers"
    first = admin_api.post(url, json.dumps(body), content_type="application/json")
    again = admin_api.post(url, json.dumps(body), content_type="application/json")
    assert first.status_code == again.status_code == 201
    assert Answer.objects.count() == 2
    assert {a["id"] for a in first.json()} == {a["id"] for a in again.json()}
    bad = admin_api.post(
        url,
        json.dumps({**body, "answers": {"support": "perhaps"}}),
        content_type="application/json",
    )
    assert bad.status_code == 422 and "Will you support us?" in bad.json()["detail"]
    results = admin_api.get(f"/api/v1/surveys/{survey.public_id}/results?channel=call").json()
    support = next(r for r in results if r["key"] == "support")
    assert support["answered"] == 1
    assert next(r for r in support["rows"] if r["key"] == "yes")["percent"] == 100.0
    listed = admin_api.get(f"{url}?person_id={person.public_id}").json()
    assert len(listed) == 2 and listed[0]["channel"] == "call"


def test_volunteer_token_cannot_manage(volunteer_member: Any, org: Any) -> None:
    client = api_client_for(volunteer_member)
    assert client.get("/api/v1/surveys").status_code == 403


def test_replace_questions_keeps_identities(admin_api: Any, org: Any) -> None:
    from mobiliza.surveys.models import Question

    survey = make_survey(org)
    support = Question.objects.get(survey=survey, key="support")
    url = f"/api/v1/surveys/{survey.public_id}/questions"
    questions = [
        {"key": "plan", "type": "yes_no", "label": "Will you vote?", "required": True,
         "choices": [{"key": "no", "label": "No", "branch": {"kind": "end"}}]},
        {"key": "support", "type": "single", "label": "Support?", "choices": [
            {"key": "yes", "label": "Yes!", "effects": {"support_level": 5}},
            {"key": "new", "label": "New one", "branch": {"kind": "goto", "to": "extra"}}]},
        {"type": "short_text", "label": "Extra", "key": "extra"},
    ]  # fmt: skip
    response = admin_api.put(
        url, json.dumps({"questions": questions}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    described = body["definition"]["questions"]
    assert [q["key"] for q in described] == ["plan", "support", "extra"]
    assert described[1]["id"] == str(support.public_id)  # same question, same id
    assert [c["key"] for c in described[1]["choices"]] == ["yes", "new"]
    assert described[0]["choices"][1]["branch"]["kind"] == "end"
    assert body["version"] == 2
    assert Question.objects.get(survey=survey, key="issue").removed_at is not None
    # A loop: refused, nothing changes.
    questions[2]["type"] = "yes_no"
    questions[2]["choices"] = [
        {"key": "yes", "label": "Y", "branch": {"kind": "goto", "to": "plan"}}
    ]
    bad = admin_api.put(url, json.dumps({"questions": questions}), content_type="application/json")
    assert bad.status_code == 422 and "loop" in bad.json()["detail"]
    assert admin_api.get(f"/api/v1/surveys/{survey.public_id}").json()["version"] == 2

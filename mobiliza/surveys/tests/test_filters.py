"""The answer filters registered in the people filter registry, against a Python oracle."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mobiliza.people.filters import definition_to_q, get_filter
from mobiliza.people.models import Person
from mobiliza.surveys.models import Answer, Channel, Question
from mobiliza.surveys.services import answers_record
from mobiliza.surveys.tests.factories import make_person, make_survey

pytestmark = pytest.mark.django_db


def matching(org: Any, definition: dict[str, Any]) -> set[int]:
    return set(
        Person.objects.filter(organization=org)
        .filter(definition_to_q(org, definition))
        .values_list("pk", flat=True)
    )


def test_filters_are_registered() -> None:
    for key in ("survey_answered", "survey_answer_is", "survey_answered_after"):
        assert get_filter(key).group == "Surveys"


def test_filters_match_a_python_oracle(org: Any, other_org: Any) -> None:
    rng = random.Random(7)
    survey = make_survey(org)
    other_survey = make_survey(org, name="Second")
    people = [make_person(org, first_name=f"P{i}") for i in range(30)]
    # Someone in another organization answering the same way must never match.
    stranger_survey = make_survey(other_org)
    answers_record(
        organization=other_org, person=make_person(other_org), survey=stranger_survey,
        answers={"support": "yes"}, channel=Channel.CALL, agent=None,
    )  # fmt: skip
    history: list[tuple[int, str, Any, dt.datetime, int]] = []  # person, key, value, at, survey
    base = timezone.now() - dt.timedelta(days=10)
    for step in range(120):
        person = rng.choice(people)
        target = rng.choice([survey, survey, other_survey])
        answers = {
            "support": rng.choice(["yes", "maybe", "no", None]),
            "issue": rng.sample(["health", "jobs", "climate"], rng.randint(0, 2)),
            "nick": rng.choice(["", "Bo", "Al"]),
        }
        rows = answers_record(
            organization=org, person=person, survey=target, answers=answers,
            channel=Channel.DOOR, agent=None,
        )  # fmt: skip
        at = base + dt.timedelta(hours=2 * step)
        Answer.objects.filter(pk__in=[r.pk for r in rows]).update(answered_at=at)
        for row in rows:
            history.append((person.pk, row.question.key, row.value, at, target.pk))
    support = Question.objects.get(survey=survey, key="support")
    issue = Question.objects.get(survey=survey, key="issue")
    nick = Question.objects.get(survey=survey, key="nick")
    mine = [h for h in history if h[4] == survey.pk]

    def latest(key: str) -> dict[int, Any]:
        result: dict[int, Any] = {}
        for pid, k, value, _at, _s in mine:  # history is in recording order
            if k == key:
                result[pid] = value
        return result

    answered = {pid for pid, k, *_ in mine if k == "support"}
    assert (
        matching(org, {"filter": "survey_answered", "params": {"question": str(support.public_id)}})
        == answered
    )

    for values in (["yes"], ["maybe", "no"]):
        expected = {pid for pid, v in latest("support").items() if v in values}
        got = matching(
            org,
            {
                "filter": "survey_answer_is",
                "params": {"question": str(support.public_id), "values": values},
            },
        )
        assert got == expected
    expected = {pid for pid, v in latest("issue").items() if "jobs" in v}
    got = matching(
        org,
        {
            "filter": "survey_answer_is",
            "params": {"question": str(issue.public_id), "values": ["jobs"]},
        },
    )
    assert got == expected
    expected = {pid for pid, v in latest("nick").items() if v == "Bo"}
    got = matching(
        org,
        {"filter": "survey_answer_is", "params": {"question": str(nick.public_id), "values": "Bo"}},
    )
    assert got == expected

    day = (base + dt.timedelta(days=5)).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(org.time_zone))
    expected = {pid for pid, _k, _v, at, _s in history if at >= start}
    assert (
        matching(org, {"filter": "survey_answered_after", "params": {"date": day.isoformat()}})
        == expected
    )
    expected = {pid for pid, _k, _v, at, s in history if at >= start and s == other_survey.pk}
    got = matching(
        org,
        {
            "filter": "survey_answered_after",
            "params": {"date": day.isoformat(), "survey": str(other_survey.public_id)},
        },
    )
    assert got == expected
    # Combined with NOT, as segments do.
    never = {p.pk for p in people} - answered
    got = matching(
        org,
        {
            "op": "not",
            "children": [
                {"filter": "survey_answered", "params": {"question": str(support.public_id)}}
            ],
        },
    )
    assert got == never


def test_bad_parameters_are_refused(org: Any, other_org: Any) -> None:
    foreign = make_survey(other_org).questions.first()
    for definition in (
        {"filter": "survey_answered", "params": {"question": "nope"}},
        {"filter": "survey_answered", "params": {"question": str(foreign.public_id)}},
        {"filter": "survey_answered_after", "params": {"date": "yesterday"}},
        {
            "filter": "survey_answer_is",
            "params": {"question": str(foreign.public_id), "values": ["yes"]},
        },
    ):
        with pytest.raises(ValidationError):
            matching(org, definition)

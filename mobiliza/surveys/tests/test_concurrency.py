"""answers_record under real concurrent connections (PostgreSQL): one latest answer per person and
question, and one recording per source, whatever the interleaving."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from mobiliza.core.testing.concurrency import run_together
from mobiliza.surveys.models import Answer, Channel
from mobiliza.surveys.services import answers_record
from mobiliza.surveys.tests.factories import make_person, make_survey

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_same_source_recorded_once(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)

    def work(_i: int) -> None:
        answers_record(
            organization=org, person=person, survey=survey, answers={"support": "yes", "age": 30},
            channel=Channel.CALL, agent=None, source_type="call", source_id="attempt-1",
        )  # fmt: skip

    assert run_together(work, list(range(6))) == []
    assert Answer.objects.filter(person=person).count() == 2


def test_one_latest_answer_per_question(org: Any) -> None:
    survey = make_survey(org)
    person = make_person(org)

    def work(i: int) -> None:
        answers_record(
            organization=org, person=person, survey=survey,
            answers={"support": ["yes", "maybe", "no"][i % 3]},
            channel=Channel.CALL, agent=None, source_type="call", source_id=f"attempt-{i}",
        )  # fmt: skip

    assert run_together(work, list(range(6))) == []
    assert Answer.objects.filter(person=person).count() == 6
    assert Answer.objects.filter(person=person, is_latest=True).count() == 1
    newest = Answer.objects.filter(person=person).order_by("-answered_at", "-id").first()
    assert newest is not None and newest.is_latest

"""Deleting: a survey or an organization goes with its versions and answers; a used version alone
can't be deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import RestrictedError

from mobiliza.surveys.models import Answer, Survey, SurveyVersion
from mobiliza.surveys.services import answers_record
from mobiliza.surveys.tests.factories import make_person, make_survey

pytestmark = pytest.mark.django_db


def _answered(org: Any) -> Any:
    survey = make_survey(org)
    answers_record(
        organization=org, person=make_person(org), survey=survey, answers={"support": "yes"},
        channel="call", agent=None,
    )  # fmt: skip
    return survey


def test_survey_and_organization_delete_cascade(org: Any, other_org: Any) -> None:
    survey = _answered(org)
    _answered(other_org)
    survey.delete()
    assert not Answer.objects.filter(organization=org).exists()
    _answered(org)
    org.delete()
    assert not Survey.objects.filter(organization_id=org.pk).exists()
    assert Answer.objects.count() == 1  # the other organization's


def test_used_version_cannot_be_deleted_alone(org: Any) -> None:
    survey = _answered(org)
    with pytest.raises(RestrictedError):
        SurveyVersion.objects.filter(survey=survey).delete()

"""Segment filters on survey answers, registered in the people filter registry.

* `survey_answered`: the person answered question Q (any time, any channel);
* `survey_answer_is`: the person's latest answer to Q is X or one of {X, Y} (choice keys for choice
  questions, the exact answer text otherwise);
* `survey_answered_after`: the person answered (a given survey, or any) on or after date D.

Each returns a `Q` over Person built on `Exists` subqueries (never a join that multiplies rows).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from mobiliza.people.filters import FilterParam, FilterSpec, register_filter
from mobiliza.surveys.graph import CHOICE_TYPE_NAMES
from mobiliza.surveys.models import Answer, AnswerChoice, Question, Survey

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization


def _question(organization: Organization, value: Any) -> Question:
    try:
        public_id = uuid.UUID(str(value))
        return Question.objects.get(organization=organization, public_id=public_id)
    except (ValueError, Question.DoesNotExist):
        raise ValidationError(_("Unknown survey question.")) from None


def _values(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise ValidationError(_("Give one answer or a list of answers."))
    values = [str(v).strip() for v in raw if str(v).strip()]
    if not values:
        raise ValidationError(_("Give at least one answer."))
    return values


def build_answered(organization: Organization, params: Mapping[str, Any]) -> Q:
    question = _question(organization, params.get("question"))
    return Q(
        Exists(
            Answer.objects.filter(
                organization=organization, person=OuterRef("pk"), question=question
            )
        )
    )


def build_answer_is(organization: Organization, params: Mapping[str, Any]) -> Q:
    question = _question(organization, params.get("question"))
    values = _values(params.get("values"))
    if question.type in CHOICE_TYPE_NAMES:
        sub = AnswerChoice.objects.filter(
            answer__person=OuterRef("pk"),
            answer__question=question,
            answer__is_latest=True,
            choice__key__in=values,
        )
        return Q(Exists(sub))
    return Q(
        Exists(
            Answer.objects.filter(
                organization=organization,
                person=OuterRef("pk"),
                question=question,
                is_latest=True,
                value_text__in=values,
            )
        )
    )


def build_answered_after(organization: Organization, params: Mapping[str, Any]) -> Q:
    raw = params.get("date")
    try:
        day = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationError(_("Enter a date as YYYY-MM-DD.")) from None
    import zoneinfo

    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    sub = Answer.objects.filter(
        organization=organization, person=OuterRef("pk"), answered_at__gte=start
    )
    survey_id = params.get("survey")
    if survey_id not in (None, ""):
        try:
            survey = Survey.objects.get(
                organization=organization, public_id=uuid.UUID(str(survey_id))
            )
        except (ValueError, Survey.DoesNotExist):
            raise ValidationError(_("Unknown survey.")) from None
        sub = sub.filter(survey=survey)
    return Q(Exists(sub))


GROUP = _lazy("Surveys")


def register() -> None:
    register_filter(
        FilterSpec(
            key="survey_answered",
            label=_lazy("Answered a survey question"),
            group=GROUP,
            build=build_answered,
            params=(FilterParam("question", _lazy("Question"), "question"),),
        )
    )
    register_filter(
        FilterSpec(
            key="survey_answer_is",
            label=_lazy("Latest answer to a question is one of"),
            group=GROUP,
            build=build_answer_is,
            params=(
                FilterParam("question", _lazy("Question"), "question"),
                FilterParam("values", _lazy("Answers"), "choices"),
            ),
        )
    )
    register_filter(
        FilterSpec(
            key="survey_answered_after",
            label=_lazy("Answered a survey on or after a date"),
            group=GROUP,
            build=build_answered_after,
            params=(
                FilterParam("date", _lazy("Date"), "date"),
                FilterParam("survey", _lazy("Survey"), "survey", required=False),
            ),
        )
    )

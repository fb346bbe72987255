"""Reads about surveys. Every function takes the organization (or an object already scoped to it).

Contract for the runners of other apps (calling, texting, canvassing)::

    survey = survey_get(organization=org, survey_id=...)          # Http404 when not this org's
    version = survey_current_version(survey=survey)               # None: nothing published
    description = version_description(version=version)            # plain dict, see graph.py
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Avg, Count, FloatField, Max, Min, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404

from mobiliza.surveys.graph import CHOICE_TYPE_NAMES, SurveyDesc
from mobiliza.surveys.models import Answer, AnswerChoice, Question, Survey, SurveyVersion

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization
    from mobiliza.people.models import Person


def _uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise Http404 from None


def survey_list(
    *, organization: Organization, templates: bool = False, include_archived: bool = False
) -> QuerySet[Survey]:
    """Surveys (or, with `templates=True`, the template library), with question/answer counts."""
    qs = Survey.objects.filter(organization=organization, is_template=templates)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return (
        qs.select_related("current_version")
        .annotate(
            question_count=Count(
                "questions", filter=Q(questions__removed_at__isnull=True), distinct=True
            ),
        )
        .order_by("name", "id")
    )


def survey_answer_counts(*, organization: Organization, surveys: list[Survey]) -> dict[int, int]:
    """Number of answers per survey id (one grouped query)."""
    rows = (
        Answer.objects.filter(organization=organization, survey__in=surveys)
        .values("survey_id")
        .annotate(n=Count("id"))
    )
    return {row["survey_id"]: row["n"] for row in rows}


def survey_get(*, organization: Organization, survey_id: uuid.UUID | str) -> Survey:
    """One survey or template of this organization by public id; Http404 otherwise."""
    try:
        return Survey.objects.select_related("current_version").get(
            organization=organization, public_id=_uuid(survey_id)
        )
    except Survey.DoesNotExist:
        raise Http404 from None


def survey_get_public(*, token: str) -> Survey:
    """The survey behind a public link, when its form is open; Http404 otherwise."""
    try:
        return Survey.objects.select_related("current_version", "organization").get(
            public_token=token, public_enabled=True, is_template=False, archived_at__isnull=True
        )
    except Survey.DoesNotExist:
        raise Http404 from None


def survey_current_version(*, survey: Survey) -> SurveyVersion | None:
    """The version the next person opened is asked (immutable)."""
    return survey.current_version


def survey_version_get(
    *, organization: Organization, survey: Survey, version_id: uuid.UUID | str
) -> SurveyVersion:
    try:
        return SurveyVersion.objects.get(
            organization=organization, survey=survey, public_id=_uuid(version_id)
        )
    except SurveyVersion.DoesNotExist:
        raise Http404 from None


def version_description(*, version: SurveyVersion) -> SurveyDesc:
    """The plain, JSON-serializable description runners use (see `mobiliza.surveys.graph`)."""
    description: SurveyDesc = dict(version.definition)  # type: ignore[assignment]
    description["survey_id"] = str(version.survey.public_id)
    description["version_id"] = str(version.public_id)
    description["version"] = version.number
    return description


def question_get(*, organization: Organization, survey: Survey, question_id: Any) -> Question:
    try:
        return Question.objects.select_related("survey").get(
            organization=organization,
            survey=survey,
            public_id=_uuid(question_id),
            removed_at__isnull=True,
        )
    except Question.DoesNotExist:
        raise Http404 from None


def survey_questions(*, survey: Survey) -> list[Question]:
    """Active questions in order, with their active choices and branch targets."""
    from django.db.models import Prefetch

    from mobiliza.surveys.models import Choice

    return list(
        Question.objects.filter(survey=survey, removed_at__isnull=True)
        .order_by("position", "id")
        .prefetch_related(
            Prefetch(
                "choices",
                queryset=Choice.objects.filter(removed_at__isnull=True)
                .select_related("branch_to")
                .order_by("position", "id"),
                to_attr="active_choices",
            )
        )
    )


def person_latest_answers(
    *, organization: Organization, person: Person, limit: int = 100
) -> list[Answer]:
    """The newest answer of the person to each question (the person page panel)."""
    return list(
        Answer.objects.filter(organization=organization, person=person, is_latest=True)
        .select_related("survey", "question", "agent")
        .order_by("-answered_at", "-id")[:limit]
    )


def answers_list(
    *,
    organization: Organization,
    survey: Survey | None = None,
    person: Person | None = None,
    channel: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    latest_only: bool = False,
) -> QuerySet[Answer]:
    qs = Answer.objects.filter(organization=organization)
    if survey is not None:
        qs = qs.filter(survey=survey)
    if person is not None:
        qs = qs.filter(person=person)
    if latest_only:
        qs = qs.filter(is_latest=True)
    return _window(qs, channel=channel, since=since, until=until).select_related(
        "person", "question", "agent", "version"
    )


def _window(
    qs: QuerySet[Any],
    *,
    channel: str,
    since: dt.date | None,
    until: dt.date | None,
    prefix: str = "",
) -> QuerySet[Any]:
    """Filter answers (or rows reaching them through `prefix`) by channel and date window."""
    from django.utils import timezone

    if channel:
        qs = qs.filter(**{f"{prefix}channel": channel})
    tz = timezone.get_current_timezone()
    if since:
        start = dt.datetime.combine(since, dt.time.min, tzinfo=tz)
        qs = qs.filter(**{f"{prefix}answered_at__gte": start})
    if until:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        qs = qs.filter(**{f"{prefix}answered_at__lt": end})
    return qs


@dataclass
class ResultRow:
    key: str
    label: str
    count: int
    percent: float


@dataclass
class QuestionResult:
    question: Question
    answered: int
    rows: list[ResultRow] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)


def survey_results(
    *,
    organization: Organization,
    survey: Survey,
    channel: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[QuestionResult]:
    """Per question: how many answered and the distribution (each recorded answer counts once).

    Percentages are of the answers to that question (a multiple-choice question can add up to
    more than 100 %). A fixed number of queries whatever the number of questions.
    """
    questions = survey_questions(survey=survey)
    base = _window(
        Answer.objects.filter(organization=organization, survey=survey),
        channel=channel,
        since=since,
        until=until,
    )
    answered = {
        row["question_id"]: row["n"]
        for row in base.values("question_id").annotate(n=Count("id")).order_by()
    }
    chosen_rows = _window(
        AnswerChoice.objects.filter(answer__organization=organization, answer__survey=survey),
        channel=channel,
        since=since,
        until=until,
        prefix="answer__",
    )
    chosen = {
        row["choice_id"]: row["n"]
        for row in chosen_rows.values("choice_id").annotate(n=Count("id")).order_by()
    }
    numeric_ids = [q.id for q in questions if q.type == "number"]
    numbers: dict[int, dict[str, float]] = {}
    if numeric_ids:
        as_number = Cast("value", FloatField())
        for row in (
            base.filter(question_id__in=numeric_ids)
            .values("question_id")
            .annotate(mean=Avg(as_number), low=Min(as_number), high=Max(as_number))
            .order_by()
        ):
            if row["mean"] is not None:
                numbers[row["question_id"]] = {
                    "mean": round(row["mean"], 2),
                    "min": row["low"],
                    "max": row["high"],
                }
    text_ids = [q.id for q in questions if q.type in ("short_text", "long_text", "date")]
    recent: dict[int, list[str]] = {}
    for qid, text in (
        base.filter(question_id__in=text_ids)
        .order_by("-answered_at", "-id")
        .values_list("question_id", "value_text")[:500]
    ):
        bucket = recent.setdefault(qid, [])
        if len(bucket) < 10:
            bucket.append(text)
    results = []
    for question in questions:
        total = answered.get(question.id, 0)
        result = QuestionResult(question=question, answered=total)
        if question.type in CHOICE_TYPE_NAMES:
            for choice in question.active_choices:  # type: ignore[attr-defined]
                n = chosen.get(choice.id, 0)
                result.rows.append(
                    ResultRow(
                        key=choice.key,
                        label=choice.label,
                        count=n,
                        percent=round(100.0 * n / total, 1) if total else 0.0,
                    )
                )
        elif question.type == "number" and question.id in numbers:
            result.stats = numbers[question.id]
        result.recent = recent.get(question.id, [])
        results.append(result)
    return results


def answers_csv_rows(
    *,
    organization: Organization,
    survey: Survey,
    channel: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Iterator[list[str]]:
    """Header then one row per answer, streamed in chunks."""
    yield [
        "answered_at",
        "person_id",
        "first_name",
        "last_name",
        "question_key",
        "question",
        "answer",
        "value",
        "channel",
        "agent",
        "version",
        "source_type",
        "source_id",
    ]
    qs = answers_list(
        organization=organization, survey=survey, channel=channel, since=since, until=until
    ).order_by("answered_at", "id")
    for answer in qs.iterator(chunk_size=2000):
        yield [
            answer.answered_at.isoformat(),
            str(answer.person.public_id),
            answer.person.first_name,
            answer.person.last_name,
            answer.question.key,
            answer.question.label,
            answer.value_text,
            "|".join(answer.value) if isinstance(answer.value, list) else str(answer.value),
            answer.channel,
            answer.agent.email if answer.agent else "",
            str(answer.version.number),
            answer.source_type,
            answer.source_id,
        ]

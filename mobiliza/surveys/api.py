"""Surveys API: surveys (with their current version's description), templates, answers, results.

The same services and selectors as the pages. Bad input gets a 422 with the message.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status

from mobiliza.core.api import api_org, unprocessable
from mobiliza.core.permissions import Perm
from mobiliza.surveys import selectors, services
from mobiliza.surveys.library import templates_ensure
from mobiliza.surveys.models import Answer, Channel, Survey

router = Router(tags=["surveys"])


class SurveyOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    language: str
    is_template: bool
    version: int | None
    public_enabled: bool
    archived: bool


class SurveyDetailOut(SurveyOut):
    definition: dict[str, Any] = Field(
        description="The current version as runners use it (questions, choices, branches)."
    )


class ChoiceIn(Schema):
    key: str = ""
    label: str
    branch: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "next"},
        description='{"kind": "next"} | {"kind": "end"} | {"kind": "goto", "to": "<question key>"}',
    )
    effects: dict[str, Any] = Field(
        default_factory=dict,
        description="support_level (1-5), tag_add, tag_remove, do_not_contact (bool), "
        "consent_channel (phone/sms/email), consent_granted (bool)",
    )


class QuestionIn(Schema):
    key: str = ""
    type: str
    label: str
    guidance: str = ""
    required: bool = False
    choices: list[ChoiceIn] = Field(default_factory=list)


class SurveyIn(Schema):
    name: str
    description: str = ""
    language: str = "en"
    is_template: bool = False
    questions: list[QuestionIn] = Field(default_factory=list)


class SurveyUpdateIn(Schema):
    name: str
    description: str = ""
    language: str = "en"
    public_intro: str = ""


class AnswersIn(Schema):
    person_id: uuid.UUID
    answers: dict[str, Any] = Field(description="question key → value")
    channel: Channel = Channel.MANUAL
    source_type: str = "api"
    source_id: str = Field("", description="Repeating a source id records nothing twice.")
    version_id: uuid.UUID | None = None


class AnswerOut(Schema):
    id: uuid.UUID
    person_id: uuid.UUID
    question_key: str
    question: str
    value: Any
    value_text: str
    channel: str
    agent: str | None
    answered_at: dt.datetime
    version: int
    source_type: str
    source_id: str
    is_latest: bool


class ResultRowOut(Schema):
    key: str
    label: str
    count: int
    percent: float


class QuestionResultOut(Schema):
    question_id: uuid.UUID
    key: str
    label: str
    type: str
    answered: int
    rows: list[ResultRowOut]
    stats: dict[str, float]


class AnswerFilters(Schema):
    person_id: uuid.UUID | None = None
    channel: Channel | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    latest_only: bool = False
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ResultFilters(Schema):
    channel: Channel | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def _survey_out(survey: Survey) -> SurveyOut:
    return SurveyOut(
        id=survey.public_id,
        name=survey.name,
        description=survey.description,
        language=survey.language,
        is_template=survey.is_template,
        version=survey.current_version.number if survey.current_version else None,
        public_enabled=survey.public_enabled,
        archived=survey.archived_at is not None,
    )


def _detail(survey: Survey) -> SurveyDetailOut:
    version = selectors.survey_current_version(survey=survey)
    definition = dict(selectors.version_description(version=version)) if version else {}
    return SurveyDetailOut(**_survey_out(survey).dict(), definition=definition)


def _answer_out(answer: Answer) -> AnswerOut:
    return AnswerOut(
        id=answer.public_id,
        person_id=answer.person.public_id,
        question_key=answer.question.key,
        question=answer.question.label,
        value=answer.value,
        value_text=answer.value_text,
        channel=answer.channel,
        agent=answer.agent.email if answer.agent else None,
        answered_at=answer.answered_at,
        version=answer.version.number,
        source_type=answer.source_type,
        source_id=answer.source_id,
        is_latest=answer.is_latest,
    )


@router.get("/surveys", response=list[SurveyOut], summary="Surveys of the organization")
def list_surveys(request: HttpRequest) -> list[SurveyOut]:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    return [_survey_out(s) for s in selectors.survey_list(organization=organization)]


@router.post("/surveys", response={201: SurveyDetailOut}, summary="Create a survey (or template)")
def create_survey(request: HttpRequest, payload: SurveyIn) -> Status:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    try:
        survey = services.survey_create(
            organization=organization,
            actor=request.user,  # type: ignore[arg-type]
            name=payload.name,
            description=payload.description,
            language=payload.language,
            is_template=payload.is_template,
            questions=[q.dict() for q in payload.questions],
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return Status(201, _detail(survey))


@router.get("/surveys/{survey_id}", response=SurveyDetailOut, summary="A survey and its version")
def get_survey(request: HttpRequest, survey_id: uuid.UUID) -> SurveyDetailOut:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    return _detail(selectors.survey_get(organization=organization, survey_id=survey_id))


@router.put("/surveys/{survey_id}", response=SurveyDetailOut, summary="Rename or describe")
def update_survey(
    request: HttpRequest, survey_id: uuid.UUID, payload: SurveyUpdateIn
) -> SurveyDetailOut:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    survey = selectors.survey_get(organization=organization, survey_id=survey_id)
    try:
        services.survey_update(survey=survey, actor=request.user, **payload.dict())  # type: ignore[arg-type]
    except ValidationError as exc:
        raise unprocessable(exc) from None
    return _detail(survey)


class QuestionsIn(Schema):
    questions: list[QuestionIn]


@router.put(
    "/surveys/{survey_id}/questions",
    response=SurveyDetailOut,
    summary="Replace the questions (matched by key; validated and published as a new version)",
)
def replace_questions(
    request: HttpRequest, survey_id: uuid.UUID, payload: QuestionsIn
) -> SurveyDetailOut:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    survey = selectors.survey_get(organization=organization, survey_id=survey_id)
    try:
        services.survey_questions_replace(
            survey=survey,
            actor=request.user,  # type: ignore[arg-type]
            questions=[q.dict() for q in payload.questions],
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    survey.refresh_from_db()
    return _detail(survey)


@router.get("/survey-templates", response=list[SurveyOut], summary="The template library")
def list_templates(request: HttpRequest, language: str = "") -> list[SurveyOut]:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    templates_ensure(organization=organization)
    qs = selectors.survey_list(organization=organization, templates=True)
    if language:
        qs = qs.filter(language=language)
    return [_survey_out(s) for s in qs]


@router.post(
    "/survey-templates/{survey_id}/use",
    response={201: SurveyDetailOut},
    summary="Use a template: copy it into a new survey",
)
def use_template(request: HttpRequest, survey_id: uuid.UUID) -> Status:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    source = selectors.survey_get(organization=organization, survey_id=survey_id)
    survey = services.survey_copy(survey=source, actor=request.user)  # type: ignore[arg-type]
    return Status(201, _detail(survey))


@router.get("/surveys/{survey_id}/answers", response=list[AnswerOut], summary="Answers")
def list_answers(
    request: HttpRequest, survey_id: uuid.UUID, filters: Query[AnswerFilters]
) -> list[AnswerOut]:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    survey = selectors.survey_get(organization=organization, survey_id=survey_id)
    person = None
    if filters.person_id:
        from mobiliza.people.models import Person

        person = Person.objects.filter(
            organization=organization, public_id=filters.person_id
        ).first()
        if person is None:
            raise Http404
    qs = selectors.answers_list(
        organization=organization,
        survey=survey,
        person=person,
        channel=filters.channel or "",
        since=filters.since,
        until=filters.until,
        latest_only=filters.latest_only,
    ).order_by("-answered_at", "-id")
    return [_answer_out(a) for a in qs[filters.offset : filters.offset + filters.limit]]


@router.post(
    "/surveys/{survey_id}/answers",
    response={201: list[AnswerOut]},
    summary="Record a person's answers (applies each choice's effects)",
)
def record_answers(request: HttpRequest, survey_id: uuid.UUID, payload: AnswersIn) -> Status:
    from mobiliza.people.models import Person

    organization = api_org(request, Perm.PEOPLE_EDIT)
    survey = selectors.survey_get(organization=organization, survey_id=survey_id)
    person = Person.objects.filter(organization=organization, public_id=payload.person_id).first()
    if person is None:
        raise Http404
    version = (
        selectors.survey_version_get(
            organization=organization, survey=survey, version_id=payload.version_id
        )
        if payload.version_id
        else None
    )
    try:
        answers = services.answers_record(
            organization=organization,
            person=person,
            survey=survey,
            answers=payload.answers,
            channel=payload.channel,
            agent=request.user,  # type: ignore[arg-type]
            source_type=payload.source_type,
            source_id=payload.source_id,
            version=version,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from None
    ids = [a.pk for a in answers]
    rows = selectors.answers_list(organization=organization, survey=survey).filter(pk__in=ids)
    return Status(201, [_answer_out(a) for a in rows])


@router.get(
    "/surveys/{survey_id}/results",
    response=list[QuestionResultOut],
    summary="Distribution of answers per question",
)
def results(
    request: HttpRequest, survey_id: uuid.UUID, filters: Query[ResultFilters]
) -> list[QuestionResultOut]:
    organization = api_org(request, Perm.SURVEYS_MANAGE)
    survey = selectors.survey_get(organization=organization, survey_id=survey_id)
    found = selectors.survey_results(
        organization=organization,
        survey=survey,
        channel=filters.channel or "",
        since=filters.since,
        until=filters.until,
    )
    return [
        QuestionResultOut(
            question_id=r.question.public_id,
            key=r.question.key,
            label=r.question.label,
            type=r.question.type,
            answered=r.answered,
            rows=[ResultRowOut(**row.__dict__) for row in r.rows],
            stats=r.stats,
        )
        for r in found
    ]

"""Surveys: questionnaires with branching choices, immutable published versions, answers.

Identity and versions
---------------------
`Question` and `Choice` rows are the *editable* state of a survey, with stable ids (their public
UUIDs appear in builder URLs, segment filters and the API) and stable `key`s (used in runner form
field names and in answer payloads). They are never hard-deleted once created: removing a question
from the builder sets `removed_at`, so old answers keep pointing at it.

Every successful builder save validates the question graph and, when the survey's content
changed, publishes a new immutable `SurveyVersion` whose `definition` is the plain description
runners use (questions in order with type, label, guidance, required, choices with branches and
effects). `Survey.current_version` is what the next person an agent opens is asked. An `Answer`
stores the version it was given under, so it keeps the wording and the effects of that version.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mobiliza.core.models import BaseModel, OrganizationScopedModel


class Channel(models.TextChoices):
    """How an answer was collected."""

    CALL = "call", pgettext_lazy("answer channel", "Call")
    TEXT = "text", pgettext_lazy("answer channel", "Text")
    DOOR = "door", _("Door to door")
    WEB = "web", _("Web form")
    MANUAL = "manual", _("Manual entry")


class QuestionType(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    YES_NO = "yes_no", _("Yes / no")
    SCALE = "scale", _("Scale 1 to 5")
    NUMBER = "number", _("Number")
    SHORT_TEXT = "short_text", _("Short text")
    LONG_TEXT = "long_text", _("Long text")
    DATE = "date", _("Date")


#: Types whose answers are choices (the others store a typed value only).
CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.YES_NO, QuestionType.SCALE}
)
#: Types whose choices are fixed by the type (the builder edits their branches and effects only).
FIXED_CHOICE_TYPES = frozenset({QuestionType.YES_NO, QuestionType.SCALE})


class BranchKind(models.TextChoices):
    NEXT = "next", _("Next question")
    GOTO = "goto", _("Go to question…")
    END = "end", _("End the survey")


class ConsentChannel(models.TextChoices):
    """Mirror of people.Channel (kept here so forms can offer it without importing people models)."""

    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


def _public_token() -> str:
    return secrets.token_urlsafe(18)


class Survey(OrganizationScopedModel):
    """A questionnaire, or a template in the organization's library (`is_template`)."""

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    is_template = models.BooleanField(_("template"), default=False)
    #: Shipped templates carry the key of their library entry, so seeding is idempotent.
    library_key = models.CharField(max_length=64, blank=True)
    created_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_version = models.ForeignKey(
        "SurveyVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    public_enabled = models.BooleanField(_("public form open"), default=False)
    public_token = models.CharField(max_length=32, unique=True, default=_public_token)
    public_intro = models.TextField(_("public form introduction"), blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["organization", "is_template", "name"], name="survey_org_tpl"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "library_key", "language"],
                condition=~Q(library_key=""),
                name="survey_library_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SurveyVersion(BaseModel):
    """An immutable snapshot of a survey's questions: what runners show and answers refer to."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition: models.JSONField[Any, Any] = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["survey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="surveyversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} v{self.number}"


class Question(BaseModel):
    """The editable state of one question (stable identity across versions)."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=50)
    position = models.PositiveIntegerField(default=0)
    type = models.CharField(
        _("type"), max_length=12, choices=QuestionType.choices, default=QuestionType.SINGLE
    )
    label = models.CharField(_("question"), max_length=500)
    guidance = models.TextField(_("guidance for the caller"), blank=True)
    required = models.BooleanField(_("required"), default=False)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="question_key_unique")
        ]
        indexes = [models.Index(fields=["survey", "removed_at", "position"], name="question_order")]

    def __str__(self) -> str:
        return self.label


class Choice(BaseModel):
    """One possible answer of a choice question, with its branch and its effects on the person."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    key = models.SlugField(max_length=50)
    label = models.CharField(_("label"), max_length=200)
    position = models.PositiveIntegerField(default=0)
    branch = models.CharField(
        _("then"), max_length=8, choices=BranchKind.choices, default=BranchKind.NEXT
    )
    branch_to = models.ForeignKey(
        Question,
        verbose_name=_("go to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    effect_support_level = models.PositiveSmallIntegerField(
        _("set support level"), null=True, blank=True
    )
    effect_tag_add = models.CharField(_("add tag"), max_length=80, blank=True)
    effect_tag_remove = models.CharField(_("remove tag"), max_length=80, blank=True)
    effect_do_not_contact = models.BooleanField(_("set do not contact"), default=False)
    effect_consent_channel = models.CharField(
        _("record consent for"), max_length=8, choices=ConsentChannel.choices, blank=True
    )
    effect_consent_granted = models.BooleanField(_("consent given"), default=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["question", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "key"], name="choice_key_unique")
        ]

    def __str__(self) -> str:
        return self.label


class Answer(OrganizationScopedModel):
    """One person's answer to one question, as asked in one version, through one channel."""

    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="survey_answers"
    )
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    #: RESTRICT: a version with answers can't be deleted on its own, only with its survey.
    version = models.ForeignKey(SurveyVersion, on_delete=models.RESTRICT, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    #: The typed value: a choice key, a list of choice keys, a number, a text, an ISO date.
    value: models.JSONField[Any, Any] = models.JSONField(null=True)
    #: A readable rendering of the value (choice labels as asked, the text, the number...).
    value_text = models.TextField(blank=True)
    choices: models.ManyToManyField[Choice, AnswerChoice] = models.ManyToManyField(
        Choice, through="AnswerChoice", related_name="+", blank=True
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField()
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    #: True on the newest answer of this person to this question: the cheap "latest answer".
    is_latest = models.BooleanField(default=True)

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "question"],
                condition=Q(is_latest=True),
                name="answer_one_latest",
            ),
            models.UniqueConstraint(
                fields=["organization", "source_type", "source_id", "question"],
                condition=~Q(source_id=""),
                name="answer_source_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["person", "question", "is_latest"], name="answer_person_q"),
            models.Index(fields=["question", "is_latest", "person"], name="answer_q_latest"),
            models.Index(fields=["survey", "answered_at"], name="answer_survey_time"),
            models.Index(fields=["organization", "answered_at"], name="answer_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.value_text}"


class AnswerChoice(models.Model):
    """A chosen choice of an answer (one for single choice / yes-no / scale, several for multiple)."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="chosen")
    choice = models.ForeignKey(Choice, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["answer", "id"]
        constraints = [
            models.UniqueConstraint(fields=["answer", "choice"], name="answerchoice_unique")
        ]
        indexes = [models.Index(fields=["choice", "answer"], name="answerchoice_choice")]

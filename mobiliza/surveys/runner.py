"""The two ways to run a survey, as reusable pieces for any page (calling, texting, canvassing).

Form field naming scheme (both runners)
---------------------------------------
* `q-<question key>`: the answer to a question. Choice questions send choice keys (a multiple-choice
  question sends the field several times); other types send the typed text.
* `survey-version`: the public id of the version shown (so an edit published meanwhile doesn't
  change what this person is asked: pass it back to `answers_record(version=...)`).
* `survey-submission`: a random id drawn when the page was rendered; use it as the `source_id`
  (or part of it) to make a double submit record once.
* Stepper only: `survey-current` (the key of the question on screen, or `__end__` on the review
  step) and `survey-action` (`next`, `back` or `save`, from the buttons).

All on one form (the "original" calling version)::

    runner = form_runner(description, data=request.POST or None)
    {% include "surveys/_runner_form.html" with runner=runner %}   {# inside your own <form> #}
    if runner.is_valid: answers_record(..., answers=runner.answers, version=...)

One question at a time (the "specialized" version), following branches on the server::

    state = stepper_step(description, request.POST if request.method == "POST" else None)
    {% include "surveys/_runner_stepper.html" with stepper=state runner_action=url %}
    if state.complete: answers_record(..., answers=state.answers, version=...)

The stepper include is its own `<form>` posting to `runner_action` (your view); with htmx it swaps
only itself (`hx-select`), without JavaScript the page reloads: both work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mobiliza.surveys.graph import (
    CHOICE_TYPE_NAMES,
    QuestionDesc,
    SurveyDesc,
    next_question,
    question_by_key,
    remaining_steps,
)
from mobiliza.surveys.values import clean_answer

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization
    from mobiliza.surveys.models import Survey, SurveyVersion

PREFIX = "q-"
END = "__end__"


def field_name(key: str) -> str:
    return PREFIX + key


def _getlist(data: Any, name: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(name)]
    value = data.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def answers_from_data(description: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """Raw answers (strings, lists for multiple choice) from posted form data, by question key."""
    answers: dict[str, Any] = {}
    for question in description.get("questions", []):
        values = [v for v in _getlist(data, field_name(question["key"])) if v.strip()]
        if not values:
            continue
        answers[question["key"]] = values if question["type"] == "multiple" else values[0]
    return answers


def walk(description: Mapping[str, Any], answers: Mapping[str, Any]) -> list[str]:
    """The question keys a person goes through from the first one, following `answers`."""
    questions = description.get("questions", [])
    path: list[str] = []
    key: str | None = questions[0]["key"] if questions else None
    while key is not None and key not in path:
        path.append(key)
        key = next_question(description, key, answers.get(key))
    return path


def check_answer(question: QuestionDesc, raw: Any) -> str:
    """The error message for this answer ("" when fine), including the required rule."""
    try:
        cleaned = clean_answer(question, raw)
    except ValidationError as exc:
        return " ".join(exc.messages)
    if cleaned is None and question["required"]:
        return _("This question needs an answer.")
    return ""


@dataclass
class ChoiceView:
    key: str
    label: str
    checked: bool
    branch: str  # "" | "end" | the label of the target question


@dataclass
class QuestionView:
    """What a template needs to render one question's input."""

    question: QuestionDesc
    number: int
    name: str
    value: str
    error: str
    choices: list[ChoiceView]
    on_path: bool = True

    @property
    def type(self) -> str:
        return self.question["type"]

    @property
    def is_choice(self) -> bool:
        return self.question["type"] in CHOICE_TYPE_NAMES


def question_view(
    description: Mapping[str, Any],
    question: QuestionDesc,
    raw: Any,
    error: str = "",
    on_path: bool = True,
) -> QuestionView:
    questions = description.get("questions", [])
    number = next((i + 1 for i, q in enumerate(questions) if q["key"] == question["key"]), 0)
    selected = {str(v) for v in raw} if isinstance(raw, list | tuple) else {str(raw or "")}
    choices = []
    for choice in question["choices"]:
        branch = ""
        if choice["branch"]["kind"] == "end":
            branch = _("ends the survey")
        elif choice["branch"]["kind"] == "goto" and choice["branch"]["to"]:
            target = question_by_key(description, choice["branch"]["to"])
            if target is not None:
                target_number = next(i + 1 for i, q in enumerate(questions) if q is target)
                branch = _("go to question %(n)s") % {"n": target_number}
        choices.append(
            ChoiceView(choice["key"], choice["label"], choice["key"] in selected, branch)
        )
    value = "" if isinstance(raw, list | tuple) else str(raw or "")
    return QuestionView(
        question, number, field_name(question["key"]), value, error, choices, on_path
    )


def _hidden(answers: Mapping[str, Any], skip: str = "") -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for key, raw in answers.items():
        if key == skip:
            continue
        for value in raw if isinstance(raw, list | tuple) else [raw]:
            fields.append((field_name(key), str(value)))
    return fields


# --- all questions on one form ---------------------------------------------------------------
@dataclass
class FormRunner:
    description: SurveyDesc
    questions: list[QuestionView]
    answers: dict[str, Any]
    errors: dict[str, str]
    submitted: bool
    submission: str

    @property
    def is_valid(self) -> bool:
        return self.submitted and not self.errors


def form_runner(description: SurveyDesc, data: Any = None) -> FormRunner:
    """All questions at once. Required questions are required only on the path the answers take."""
    raw = answers_from_data(description, data) if data is not None else {}
    path = set(walk(description, raw))
    errors: dict[str, str] = {}
    if data is not None:
        for question in description.get("questions", []):
            value = raw.get(question["key"])
            if value is None and question["key"] not in path:
                continue  # off the path and unanswered: not required
            message = check_answer(question, value)
            if message:
                errors[question["key"]] = message
    views = [
        question_view(description, q, raw.get(q["key"]), errors.get(q["key"], ""), q["key"] in path)
        for q in description.get("questions", [])
    ]
    submission = str(data.get("survey-submission", "")) if data is not None else ""
    return FormRunner(
        description=description,
        questions=views,
        answers={k: v for k, v in raw.items() if k not in errors},
        errors=errors,
        submitted=data is not None,
        submission=_submission(submission),
    )


def _submission(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid4())


# --- one question at a time ------------------------------------------------------------------
@dataclass
class StepperState:
    description: SurveyDesc
    current: QuestionView | None  # None on the review step (or an empty survey)
    answers: dict[str, Any]  # on the review step / when complete: the answers on the path only
    path: list[str]  # keys answered before the current question
    step: int
    total: int
    hidden: list[tuple[str, str]]
    submission: str
    review: list[QuestionView] = field(default_factory=list)
    complete: bool = False  # the person pressed "Save" on a valid review step

    @property
    def percent(self) -> int:
        return 100 if self.current is None else round(100 * (self.step - 1) / max(self.total, 1))

    @property
    def at_end(self) -> bool:
        return self.current is None

    @property
    def current_key(self) -> str:
        return END if self.current is None else self.current.question["key"]


def stepper_step(description: SurveyDesc, data: Any = None) -> StepperState:
    """Apply the posted action (next / back / save) and say what to show now.

    The state lives in the form (answers as hidden fields): nothing is stored server-side, and the
    path is recomputed from the answers, so a tampered `survey-current` can't skip a question.
    """
    questions = description.get("questions", [])
    submission = _submission(str(data.get("survey-submission", "")) if data is not None else "")
    raw = answers_from_data(description, data) if data is not None else {}
    if not questions:
        return StepperState(description, None, {}, [], 1, 1, [], submission)
    full = walk(description, raw)
    current = str(data.get("survey-current", "")) if data is not None else ""
    if current != END and current not in full:
        current = full[0]  # first visit, or a question no longer on the path
    elif current != END:
        # Never past a question that still needs an answer (a forged or stale survey-current).
        for key in full[: full.index(current)]:
            earlier = question_by_key(description, key)
            if earlier is not None and check_answer(earlier, raw.get(key)):
                current = key
                break
    action = str(data.get("survey-action", "")) if data is not None else ""
    error = ""
    if action == "back":
        index = len(full) if current == END else full.index(current)
        current = full[max(index - 1, 0)]
    elif action == "next" and current != END:
        question = question_by_key(description, current)
        assert question is not None
        error = check_answer(question, raw.get(current))
        if not error:
            cleaned = clean_answer(question, raw.get(current))
            following = next_question(
                description, current, cleaned.value if cleaned is not None else None
            )
            current = END if following is None else following
    elif action == "save" or current == END:
        # Re-check every answer on the path; stop at the first problem.
        for key in full:
            question = question_by_key(description, key)
            assert question is not None
            error = check_answer(question, raw.get(key))
            if error:
                current = key
                break
        else:
            current = END
    if current == END:
        answers = {k: raw[k] for k in full if k in raw}
        review = [
            question_view(description, q, raw.get(q["key"])) for q in questions if q["key"] in full
        ]
        return StepperState(
            description,
            None,
            answers,
            full,
            len(full) + 1,
            len(full),
            _hidden(answers),
            submission,
            review=review,
            complete=action == "save",
        )
    path = full[: full.index(current)] if current in full else []
    question = question_by_key(description, current)
    assert question is not None
    view = question_view(description, question, raw.get(current), error)
    return StepperState(
        description,
        view,
        {k: raw[k] for k in path if k in raw},
        path,
        len(path) + 1,
        len(path) + remaining_steps(description, current),
        _hidden(raw, skip=current),
        submission,
    )


def runner_version(
    *, organization: Organization, survey: Survey, data: Any = None
) -> SurveyVersion | None:
    """The version named by the posted `survey-version` (when it is this survey's), else current."""
    from mobiliza.surveys.models import SurveyVersion

    wanted = str(data.get("survey-version", "")) if data is not None else ""
    if wanted:
        try:
            return SurveyVersion.objects.get(
                organization=organization, survey=survey, public_id=uuid.UUID(wanted)
            )
        except (ValueError, SurveyVersion.DoesNotExist):
            pass
    return survey.current_version

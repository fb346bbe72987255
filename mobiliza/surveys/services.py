"""Writes about surveys: the builder, publishing versions, the template library, answers.

Every builder write edits the `Question`/`Choice` rows and then calls `_publish`, which builds the
plain description, validates the question graph (a cycle, a branch to a missing question or an
unreachable question raises a ValidationError naming it, and the whole transaction rolls back) and
stores a new immutable `SurveyVersion` when the content changed.

`answers_record` is the one way answers are stored, whatever the channel (calls, texts, doors, the
public web form, manual entry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record, diff_fields, snapshot
from mobiliza.core.models import AuditEvent
from mobiliza.surveys.graph import (
    BranchDesc,
    ChoiceDesc,
    EffectsDesc,
    QuestionDesc,
    SurveyDesc,
    graph_problems,
    question_by_key,
)
from mobiliza.surveys.models import (
    CHOICE_TYPES,
    FIXED_CHOICE_TYPES,
    Answer,
    AnswerChoice,
    BranchKind,
    Channel,
    Choice,
    ConsentChannel,
    Question,
    QuestionType,
    Survey,
    SurveyVersion,
)
from mobiliza.surveys.values import CleanAnswer, clean_answer

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User
    from mobiliza.people.models import Person

SURVEY_FIELDS = ("name", "description", "language", "public_intro")


# --- keys and fixed choices -----------------------------------------------------------------
def _unique_key(base: str, taken: set[str], fallback: str) -> str:
    key = slugify(base)[:40].strip("-") or fallback
    candidate, n = key, 2
    while candidate in taken:
        candidate = f"{key}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def fixed_choices(question_type: str, language: str = "") -> list[tuple[str, str]]:
    """(key, label) of the choices a yes/no or scale question always has (in `language`)."""
    if question_type == QuestionType.YES_NO:
        from django.utils import translation

        with translation.override(language or translation.get_language()):
            return [("yes", _("Yes")), ("no", _("No"))]
    if question_type == QuestionType.SCALE:
        return [(str(n), str(n)) for n in range(1, 6)]
    return []


# --- building the description ---------------------------------------------------------------
def _effects(choice: Choice) -> EffectsDesc:
    return EffectsDesc(
        support_level=choice.effect_support_level,
        tag_add=choice.effect_tag_add,
        tag_remove=choice.effect_tag_remove,
        do_not_contact=choice.effect_do_not_contact,
        consent_channel=choice.effect_consent_channel,
        consent_granted=choice.effect_consent_granted,
    )


def survey_definition_build(*, survey: Survey) -> SurveyDesc:
    """The description of the survey's current editable state (not yet validated)."""
    questions = list(
        Question.objects.filter(survey=survey, removed_at__isnull=True).order_by("position", "id")
    )
    by_id = {q.id: q for q in Question.objects.filter(survey=survey)}
    choices: dict[int, list[Choice]] = {}
    for choice in Choice.objects.filter(
        question__survey=survey, question__removed_at__isnull=True, removed_at__isnull=True
    ).order_by("position", "id"):
        choices.setdefault(choice.question_id, []).append(choice)
    active = {q.id for q in questions}
    described: list[QuestionDesc] = []
    for question in questions:
        described.append(
            QuestionDesc(
                id=str(question.public_id),
                key=question.key,
                type=question.type,
                label=question.label,
                guidance=question.guidance,
                required=question.required,
                choices=[
                    ChoiceDesc(
                        id=str(c.public_id),
                        key=c.key,
                        label=c.label,
                        branch=BranchDesc(
                            kind=c.branch,
                            to=(
                                (by_id[c.branch_to_id].key if c.branch_to_id in active else "")
                                if c.branch == BranchKind.GOTO and c.branch_to_id
                                else ("" if c.branch == BranchKind.GOTO else None)
                            ),
                        ),
                        effects=_effects(c),
                    )
                    for c in choices.get(question.id, [])
                ],
            )
        )
    return SurveyDesc(
        name=survey.name,
        description=survey.description,
        language=survey.language,
        questions=described,
    )


def _publish(*, survey: Survey, actor: User | None) -> SurveyVersion:
    """Validate the editable state and publish it as a new version when it changed."""
    definition = survey_definition_build(survey=survey)
    problems = graph_problems(definition["questions"])
    if problems:
        raise ValidationError([p.message for p in problems])
    for question in definition["questions"]:
        if question["type"] in CHOICE_TYPES and not question["choices"]:
            raise ValidationError(
                _("“%(question)s” needs at least one choice.") % {"question": question["label"]}
            )
    current = survey.current_version
    if current is not None and current.definition == definition:
        return current
    number = (survey.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = SurveyVersion.objects.create(
        organization=survey.organization,
        survey=survey,
        number=number,
        definition=definition,
        created_by=actor,
    )
    survey.current_version = version
    survey.save(update_fields=["current_version", "updated_at"])
    return version


# --- surveys --------------------------------------------------------------------------------
def _clean_effects(spec: Mapping[str, Any]) -> dict[str, Any]:
    level = spec.get("support_level")
    if level in ("", None):
        level = None
    else:
        try:
            level = int(level)
        except (TypeError, ValueError):
            raise ValidationError(_("The support level goes from 1 to 5.")) from None
        if not 1 <= level <= 5:
            raise ValidationError(_("The support level goes from 1 to 5."))
    channel = str(spec.get("consent_channel") or "")
    if channel and channel not in ConsentChannel.values:
        raise ValidationError(_("Unknown channel “%(channel)s”.") % {"channel": channel})
    return {
        "effect_support_level": level,
        "effect_tag_add": str(spec.get("tag_add") or "").strip()[:80],
        "effect_tag_remove": str(spec.get("tag_remove") or "").strip()[:80],
        "effect_do_not_contact": bool(spec.get("do_not_contact")),
        "effect_consent_channel": channel,
        "effect_consent_granted": bool(spec.get("consent_granted", True)),
    }


def _create_questions(
    *, survey: Survey, questions: Sequence[Mapping[str, Any]]
) -> dict[str, Question]:
    """Create questions and choices from plain specs (description-shaped); branches by key."""
    taken: set[str] = set(Question.objects.filter(survey=survey).values_list("key", flat=True))
    start = (Question.objects.filter(survey=survey).aggregate(p=Max("position"))["p"] or 0) + 1
    created: dict[str, Question] = {}
    pending: list[tuple[Choice, str]] = []
    for offset, spec in enumerate(questions):
        qtype = str(spec.get("type") or QuestionType.SINGLE)
        if qtype not in QuestionType.values:
            raise ValidationError(_("Unknown question type “%(type)s”.") % {"type": qtype})
        label = str(spec.get("label") or "").strip()
        if not label:
            raise ValidationError(_("Every question needs a text."))
        wanted_key = str(spec.get("key") or "") or label
        question = Question.objects.create(
            organization=survey.organization,
            survey=survey,
            key=_unique_key(wanted_key, taken, f"q{start + offset}"),
            position=start + offset,
            type=qtype,
            label=label[:500],
            guidance=str(spec.get("guidance") or ""),
            required=bool(spec.get("required")),
        )
        created[str(spec.get("key") or question.key)] = question
        choice_specs: list[Mapping[str, Any]] = list(spec.get("choices") or [])
        if qtype in FIXED_CHOICE_TYPES:
            given = {str(c.get("key")): c for c in choice_specs}
            choice_specs = [
                {**given.get(key, {}), "key": key, "label": given.get(key, {}).get("label") or lab}
                for key, lab in fixed_choices(qtype, survey.language)
            ]
        elif qtype not in CHOICE_TYPES:
            choice_specs = []
        choice_taken: set[str] = set()
        for position, cspec in enumerate(choice_specs):
            clabel = str(cspec.get("label") or "").strip()
            if not clabel:
                continue
            branch: Mapping[str, Any] = cspec.get("branch") or {}
            kind = str(branch.get("kind") or BranchKind.NEXT)
            if kind not in BranchKind.values:
                raise ValidationError(_("Unknown branch “%(kind)s”.") % {"kind": kind})
            choice = Choice.objects.create(
                question=question,
                key=_unique_key(str(cspec.get("key") or clabel), choice_taken, f"c{position + 1}"),
                label=clabel[:200],
                position=position,
                branch=kind,
                **_clean_effects(cspec.get("effects") or {}),
            )
            if kind == BranchKind.GOTO:
                pending.append((choice, str(branch.get("to") or "")))
    for choice, target in pending:
        choice.branch_to = created.get(target)
        choice.save(update_fields=["branch_to"])
    return created


@transaction.atomic
def survey_create(
    *,
    organization: Organization,
    actor: User | None,
    name: str,
    description: str = "",
    language: str = "en",
    is_template: bool = False,
    questions: Sequence[Mapping[str, Any]] = (),
    library_key: str = "",
    created_from: Survey | None = None,
) -> Survey:
    """A new survey (or template) with its questions, published as version 1."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A survey needs a name.")})
    survey = Survey.objects.create(
        organization=organization,
        name=name[:150],
        description=description,
        language=language or "en",
        is_template=is_template,
        library_key=library_key,
        created_from=created_from,
        created_by=actor,
    )
    _create_questions(survey=survey, questions=questions)
    _publish(survey=survey, actor=actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=survey,
        meta={"template": is_template, "from": str(created_from.public_id) if created_from else ""},
    )
    return survey


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    actor: User | None,
    name: str,
    description: str = "",
    language: str = "en",
    public_intro: str = "",
) -> Survey:
    if not name.strip():
        raise ValidationError({"name": _("A survey needs a name.")})
    before = snapshot(survey, SURVEY_FIELDS)
    survey.name = name.strip()[:150]
    survey.description = description
    survey.language = language or survey.language
    survey.public_intro = public_intro
    survey.save()
    _publish(survey=survey, actor=actor)
    changes = diff_fields(before, snapshot(survey, SURVEY_FIELDS))
    if changes:
        audit_record(
            organization=survey.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=survey,
            changes=changes,
        )
    return survey


@transaction.atomic
def survey_copy(
    *, survey: Survey, actor: User | None, name: str = "", is_template: bool = False
) -> Survey:
    """Use a template (or duplicate a survey): a new survey with the same questions."""
    definition = survey_definition_build(survey=survey)
    return survey_create(
        organization=survey.organization,
        actor=actor,
        name=name or survey.name,
        description=survey.description,
        language=survey.language,
        is_template=is_template,
        questions=[dict(q) for q in definition["questions"]],
        created_from=survey,
    )


@transaction.atomic
def survey_archive(*, survey: Survey, actor: User | None, archived: bool = True) -> Survey:
    survey.archived_at = timezone.now() if archived else None
    survey.save(update_fields=["archived_at", "updated_at"])
    audit_record(
        organization=survey.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=survey,
        changes={"archived": {"old": not archived, "new": archived}},
    )
    return survey


@transaction.atomic
def survey_public_set(*, survey: Survey, actor: User | None, enabled: bool) -> Survey:
    """Open or close the public form (the link stays the same when reopened)."""
    if enabled and survey.is_template:
        raise ValidationError(_("A template has no public form: use it to create a survey first."))
    if survey.public_enabled != enabled:
        survey.public_enabled = enabled
        survey.save(update_fields=["public_enabled", "updated_at"])
        audit_record(
            organization=survey.organization,
            actor=actor,
            action=AuditEvent.Action.SETTINGS,
            target=survey,
            changes={"public_enabled": {"old": not enabled, "new": enabled}},
        )
    return survey


# --- questions ------------------------------------------------------------------------------
def _active_questions(survey: Survey) -> list[Question]:
    return list(
        Question.objects.filter(survey=survey, removed_at__isnull=True).order_by("position", "id")
    )


def _renumber(questions: Sequence[Question]) -> None:
    for position, question in enumerate(questions, start=1):
        if question.position != position:
            question.position = position
            question.save(update_fields=["position", "updated_at"])


@transaction.atomic
def question_create(
    *,
    survey: Survey,
    actor: User | None,
    type: str,
    label: str,
    guidance: str = "",
    required: bool = False,
    choices: Sequence[str] = (),
    after: Question | None = None,
) -> Question:
    """Add a question (at the end, or right after `after`). Choice questions take choice labels."""
    specs = [{"label": c} for c in choices if str(c).strip()]
    created = _create_questions(
        survey=survey,
        questions=[
            {
                "type": type,
                "label": label,
                "guidance": guidance,
                "required": required,
                "choices": specs,
            }
        ],
    )
    question = next(iter(created.values()))
    if after is not None:
        ordered = [q for q in _active_questions(survey) if q.pk != question.pk]
        index = next((i for i, q in enumerate(ordered) if q.pk == after.pk), len(ordered) - 1)
        ordered.insert(index + 1, question)
        _renumber(ordered)
    _publish(survey=survey, actor=actor)
    audit_record(
        organization=survey.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=survey,
        changes={"questions": {"old": None, "new": f"+{question.label}"}},
    )
    return question


@transaction.atomic
def question_update(
    *,
    question: Question,
    actor: User | None,
    type: str,
    label: str,
    guidance: str,
    required: bool,
    choices: Sequence[Mapping[str, Any]],
) -> Question:
    """Edit a question and its choices.

    `choices` lists every choice to keep, in order: `{"id": <public id or "">, "label", "branch":
    "next"|"goto"|"end", "branch_to": <question public id or "">, "support_level", "tag_add",
    "tag_remove", "do_not_contact", "consent_channel", "consent_granted", "remove": bool}`.
    A choice not listed (or with `remove`) is removed.
    """
    survey = question.survey
    if type not in QuestionType.values:
        raise ValidationError({"type": _("Unknown question type “%(type)s”.") % {"type": type}})
    if not label.strip():
        raise ValidationError({"label": _("The question needs a text.")})
    if type != question.type and question.answers.exists():
        raise ValidationError(
            {"type": _("This question already has answers: its type can't change. Add a new one.")}
        )
    before = snapshot(question, ("type", "label", "guidance", "required"))
    type_changed = type != question.type
    question.type = type
    question.label = label.strip()[:500]
    question.guidance = guidance
    question.required = required
    question.save()
    existing = {str(c.public_id): c for c in question.choices.filter(removed_at__isnull=True)}
    if type_changed:
        for choice in existing.values():
            choice.removed_at = timezone.now()
            choice.save(update_fields=["removed_at", "updated_at"])
        existing = {}
    targets = {
        str(q.public_id): q for q in Question.objects.filter(survey=survey, removed_at__isnull=True)
    }
    taken = set(question.choices.values_list("key", flat=True))
    kept: list[Choice] = []
    if type in FIXED_CHOICE_TYPES:
        # Every choice ever made for this question, removed ones too: a yes/no question changed
        # to single choice and back gets its "yes"/"no" rows (keys are unique) back.
        by_key = {c.key: c for c in question.choices.all()}
        given = {str(spec.get("key") or ""): spec for spec in choices}
        given_by_id = {str(spec.get("id") or ""): spec for spec in choices}
        wanted: list[tuple[Choice | None, Mapping[str, Any], str, str]] = []
        for key, default_label in fixed_choices(type, survey.language):
            current = by_key.get(key)
            spec = (given_by_id.get(str(current.public_id), {}) if current else {}) or given.get(
                key, {}
            )
            wanted.append((current, spec, key, default_label))
        items: list[tuple[Choice | None, Mapping[str, Any], str, str]] = wanted
    else:
        items = []
        for spec in choices:
            if spec.get("remove") or not str(spec.get("label") or "").strip():
                continue
            items.append((existing.get(str(spec.get("id") or "")), spec, "", ""))
    if type in CHOICE_TYPES:
        for position, (current, spec, fixed_key, default_label) in enumerate(items):
            branch = str(spec.get("branch") or BranchKind.NEXT)
            if branch not in BranchKind.values:
                raise ValidationError(_("Unknown branch “%(kind)s”.") % {"kind": branch})
            branch_to = None
            if branch == BranchKind.GOTO:
                branch_to = targets.get(str(spec.get("branch_to") or ""))
                if branch_to is None:
                    raise ValidationError(
                        _("Choice “%(choice)s” goes to a question: pick which one.")
                        % {"choice": spec.get("label") or default_label}
                    )
            fields = {
                "label": (str(spec.get("label") or "").strip() or default_label)[:200],
                "position": position,
                "branch": branch,
                "branch_to": branch_to,
                "removed_at": None,
                **_clean_effects(spec),
            }
            if current is None:
                current = Choice.objects.create(
                    question=question,
                    key=fixed_key or _unique_key(str(fields["label"]), taken, f"c{position + 1}"),
                    **fields,
                )
            else:
                for name, value in fields.items():
                    setattr(current, name, value)
                current.save()
            kept.append(current)
    kept_ids = {c.pk for c in kept}
    for choice in existing.values():
        if choice.pk not in kept_ids:
            choice.removed_at = timezone.now()
            choice.save(update_fields=["removed_at", "updated_at"])
    _publish(survey=survey, actor=actor)
    changes = diff_fields(before, snapshot(question, ("type", "label", "guidance", "required")))
    audit_record(
        organization=survey.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=survey,
        changes=changes or {"choices": {"old": None, "new": question.label}},
        meta={"question": question.key},
    )
    return question


@transaction.atomic
def survey_questions_replace(
    *, survey: Survey, actor: User | None, questions: Sequence[Mapping[str, Any]]
) -> Survey:
    """Replace the whole question list (the API's "save the survey" in one call).

    Specs have the description's shape (`key`, `type`, `label`, `guidance`, `required`,
    `choices` with `key`, `label`, `branch` {kind, to: question key}, `effects`). Questions and
    choices are matched by key, so their ids, answers and segment filters survive; unmatched ones
    are created; questions left out are removed. Validated and published like any builder save.
    """
    now = timezone.now()
    every = {q.key: q for q in Question.objects.filter(survey=survey)}
    taken = set(every)
    kept: dict[str, Question] = {}
    pending: list[tuple[Choice, str]] = []
    for position, spec in enumerate(questions, start=1):
        qtype = str(spec.get("type") or "")
        if qtype not in QuestionType.values:
            raise ValidationError(_("Unknown question type “%(type)s”.") % {"type": qtype})
        label = str(spec.get("label") or "").strip()
        if not label:
            raise ValidationError(_("Every question needs a text."))
        key = str(spec.get("key") or "")
        question = every.get(key) if key else None
        if question is not None and key in kept:
            raise ValidationError(_("Two questions have the key “%(key)s”.") % {"key": key})
        if question is None:
            question = Question(
                organization=survey.organization,
                survey=survey,
                key=_unique_key(key or label, taken, f"q{position}"),
            )
        elif question.type != qtype and question.answers.exists():
            raise ValidationError(
                _("“%(question)s” already has answers: its type can't change.")
                % {"question": question.label}
            )
        question.position = position
        question.type = qtype
        question.label = label[:500]
        question.guidance = str(spec.get("guidance") or "")
        question.required = bool(spec.get("required"))
        question.removed_at = None
        question.save()
        kept[key or question.key] = question
        choice_specs: list[Mapping[str, Any]] = list(spec.get("choices") or [])
        if qtype in FIXED_CHOICE_TYPES:
            given = {str(c.get("key")): c for c in choice_specs}
            choice_specs = [
                {**given.get(k, {}), "key": k, "label": given.get(k, {}).get("label") or lab}
                for k, lab in fixed_choices(qtype, survey.language)
            ]
        elif qtype not in CHOICE_TYPES:
            choice_specs = []
        old_choices = {c.key: c for c in question.choices.all()}
        choice_taken = set(old_choices)
        used: set[int] = set()
        for cpos, cspec in enumerate(choice_specs):
            clabel = str(cspec.get("label") or "").strip()
            if not clabel:
                continue
            branch: Mapping[str, Any] = cspec.get("branch") or {}
            kind = str(branch.get("kind") or BranchKind.NEXT)
            if kind not in BranchKind.values:
                raise ValidationError(_("Unknown branch “%(kind)s”.") % {"kind": kind})
            ckey = str(cspec.get("key") or "")
            choice = old_choices.get(ckey) if ckey else None
            if choice is None or choice.pk in used:
                choice = Choice(
                    question=question,
                    key=_unique_key(ckey or clabel, choice_taken, f"c{cpos + 1}"),
                )
            for name, value in {
                "label": clabel[:200],
                "position": cpos,
                "branch": kind,
                "branch_to": None,
                "removed_at": None,
                **_clean_effects(cspec.get("effects") or {}),
            }.items():
                setattr(choice, name, value)
            choice.save()
            used.add(choice.pk)
            if kind == BranchKind.GOTO:
                pending.append((choice, str(branch.get("to") or "")))
        question.choices.filter(removed_at__isnull=True).exclude(pk__in=used).update(removed_at=now)
    for choice, target in pending:
        choice.branch_to = kept.get(target)
        choice.save(update_fields=["branch_to"])
    Question.objects.filter(survey=survey, removed_at__isnull=True).exclude(
        pk__in=[q.pk for q in kept.values()]
    ).update(removed_at=now)
    version = survey.current_version
    _publish(survey=survey, actor=actor)
    if survey.current_version != version:
        audit_record(
            organization=survey.organization,
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            target=survey,
            changes={"questions": {"old": None, "new": [q.key for q in kept.values()]}},
        )
    return survey


@transaction.atomic
def question_remove(*, question: Question, actor: User | None) -> None:
    """Remove a question from the survey (answers already given keep pointing at it)."""
    survey = question.survey
    question.removed_at = timezone.now()
    question.save(update_fields=["removed_at", "updated_at"])
    _renumber(_active_questions(survey))
    _publish(survey=survey, actor=actor)
    audit_record(
        organization=survey.organization,
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=survey,
        changes={"questions": {"old": f"-{question.label}", "new": None}},
    )


@transaction.atomic
def question_move(*, question: Question, actor: User | None, direction: str) -> None:
    """Move a question one place up or down (refused when the new order breaks the graph)."""
    ordered = _active_questions(question.survey)
    index = next(i for i, q in enumerate(ordered) if q.pk == question.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(ordered)
    _publish(survey=question.survey, actor=actor)


# --- answers --------------------------------------------------------------------------------
def _apply_effects(
    *,
    person: Person,
    effects: EffectsDesc,
    agent: User | None,
    source: str,
) -> None:
    from mobiliza.people import services as people_services

    if effects.get("support_level"):
        people_services.person_set_support_level(
            person=person, level=effects["support_level"], actor=agent
        )
    if effects.get("tag_add"):
        people_services.person_tag_add(person=person, tag_name=effects["tag_add"], actor=agent)
    if effects.get("tag_remove"):
        people_services.person_tag_remove(
            person=person, tag_name=effects["tag_remove"], actor=agent
        )
    if effects.get("do_not_contact"):
        people_services.person_set_do_not_contact(person=person, value=True, actor=agent)
    if effects.get("consent_channel"):
        people_services.person_consent_record(
            person=person,
            channel=effects["consent_channel"],
            granted=bool(effects.get("consent_granted", True)),
            source=source,
            actor=agent,
        )


@transaction.atomic
def answers_record(
    *,
    organization: Organization,
    person: Person,
    survey: Survey,
    answers: Mapping[str, Any],
    channel: str,
    agent: User | None,
    source_type: str = "",
    source_id: str = "",
    version: SurveyVersion | None = None,
) -> list[Answer]:
    """Record a person's answers to a survey, apply each chosen choice's effects, audit.

    * `answers` maps question keys to values: a choice key (yes/no also takes a bool, scales an
      int), a list of choice keys (multiple choice), a number, a text, a date or ISO date string.
      Empty values (None, "", []) are skipped. Every value is checked against its question type;
      a ValidationError names the question, and nothing is stored.
    * `version`: the version the person was shown (default: the survey's current version).
    * Idempotent per source: with a `source_id`, a question already answered for the same
      (`source_type`, `source_id`) is not recorded again and its effects are not re-applied; the
      stored answers are returned instead.
    * The newest answer of a person to a question carries `is_latest=True`.
    """
    from mobiliza.people.models import Person as PersonModel

    if survey.organization_id != organization.id or person.organization_id != organization.id:
        raise ValidationError(_("This survey or this person belongs to another organization."))
    if channel not in Channel.values:
        raise ValidationError(_("Unknown channel “%(channel)s”.") % {"channel": channel})
    version = version or survey.current_version
    if version is None or version.survey_id != survey.id:
        raise ValidationError(_("This survey has no published version to answer."))
    definition: SurveyDesc = version.definition
    errors: list[ValidationError] = []
    cleaned: list[tuple[QuestionDesc, CleanAnswer]] = []
    for key, raw in answers.items():
        described = question_by_key(definition, str(key))
        if described is None:
            errors.append(
                ValidationError(_("Unknown question “%(key)s” in this survey.") % {"key": key})
            )
            continue
        try:
            result = clean_answer(described, raw)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if result is not None:
            cleaned.append((described, result))
    if errors:
        raise ValidationError(errors)
    if not cleaned:
        return []
    order = {q["key"]: i for i, q in enumerate(definition.get("questions", []))}
    cleaned.sort(key=lambda item: order[item[0]["key"]])
    # Serialize recordings for one person (the latest-answer flag, the idempotency check).
    list(PersonModel.objects.select_for_update().filter(pk=person.pk).values_list("pk", flat=True))
    rows = {
        str(q.public_id): q
        for q in Question.objects.filter(
            survey=survey, public_id__in=[d["id"] for d, _c in cleaned]
        )
    }
    existing: dict[int, Answer] = {}
    if source_id:
        existing = {
            a.question_id: a
            for a in Answer.objects.filter(
                organization=organization,
                source_type=source_type,
                source_id=source_id,
                question__in=rows.values(),
            )
        }
    choice_rows = {
        (c.question_id, c.key): c
        for c in Choice.objects.filter(question__in=rows.values())
        if any(c.key in r.choice_keys for _d, r in cleaned)
    }
    now = timezone.now()
    source = f"survey:{survey.name}"[:120]
    by_question: dict[int, Answer] = dict(existing)
    fresh: list[tuple[QuestionDesc, CleanAnswer, Answer]] = []
    for described, clean in cleaned:
        question = rows.get(described["id"])
        if question is None:
            raise ValidationError(
                _("Unknown question “%(key)s” in this survey.") % {"key": described["key"]}
            )
        if question.pk in existing:
            continue
        answer = Answer(
            organization=organization,
            person=person,
            survey=survey,
            version=version,
            question=question,
            value=clean.value,
            value_text=clean.text,
            channel=channel,
            agent=agent if agent is not None and agent.is_authenticated else None,
            answered_at=now,
            source_type=source_type[:32],
            source_id=source_id[:64],
            is_latest=True,
        )
        fresh.append((described, clean, answer))
        by_question[question.pk] = answer
    audit_changes: dict[str, Any] = {}
    if fresh:
        # Set-based: one UPDATE for the latest flags, one INSERT for the answers, one for choices.
        Answer.objects.filter(
            person=person, question__in=[a.question_id for _d, _c, a in fresh], is_latest=True
        ).update(is_latest=False)
        Answer.objects.bulk_create([a for _d, _c, a in fresh])
        AnswerChoice.objects.bulk_create(
            [
                AnswerChoice(answer=answer, choice=choice_rows[(answer.question_id, key)])
                for _d, clean, answer in fresh
                for key in clean.choice_keys
                if (answer.question_id, key) in choice_rows
            ]
        )
        for described, clean, _answer in fresh:
            audit_changes[described["key"]] = {"old": None, "new": clean.text}
            for choice in described["choices"]:
                if choice["key"] in clean.choice_keys:
                    _apply_effects(
                        person=person, effects=choice["effects"], agent=agent, source=source
                    )
    result_rows = [by_question[rows[d["id"]].pk] for d, _c in cleaned]
    if audit_changes:
        audit_record(
            organization=organization,
            actor=agent,
            action=AuditEvent.Action.UPDATE,
            target=person,
            changes={"survey_answers": audit_changes},
            meta={
                "survey": str(survey.public_id),
                "version": version.number,
                "channel": channel,
                "source_type": source_type,
                "source_id": source_id,
            },
        )
    return result_rows


# --- public form ----------------------------------------------------------------------------
def _match_contact(*, organization: Organization, email: str, e164: str) -> Person | None:
    from mobiliza.people.models import Person as PersonModel
    from mobiliza.people.models import PersonList

    contacts = PersonModel.objects.filter(organization=organization, list=PersonList.CONTACTS)
    if email:
        found = contacts.filter(email__iexact=email).order_by("id").first()
        if found is not None:
            return found
    if e164:
        return contacts.filter(phones__e164=e164).order_by("id").first()
    return None


@transaction.atomic
def public_response_submit(
    *,
    survey: Survey,
    version: SurveyVersion | None,
    answers: Mapping[str, Any],
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    consents: Sequence[str],
    submission: str,
) -> tuple[Person, list[Answer]]:
    """A response to the public form: find the contact by email, then by phone, or create one;
    fill in what the contact record lacks (never overwrite it), record the consent given for
    each ticked channel, then record the answers (channel "web", once per submission id)."""
    from mobiliza.people import services as people_services
    from mobiliza.people.normalize import normalize_phone

    if not survey.public_enabled or survey.is_template:
        raise ValidationError(_("This form is closed."))
    organization = survey.organization
    email = email.strip().lower()
    phone = phone.strip()
    e164 = normalize_phone(phone, organization.default_country).e164 if phone else ""
    if phone and not e164:
        raise ValidationError({"phone": _("This phone number doesn't look right.")})
    if not email and not e164:
        raise ValidationError(_("Give an email address or a phone number."))
    person = _match_contact(organization=organization, email=email, e164=e164)
    source = _("public form: %(survey)s") % {"survey": survey.name}
    if person is None:
        person = people_services.person_create(
            organization=organization,
            actor=None,
            first_name=first_name.strip()[:100],
            last_name=last_name.strip()[:100],
            email=email,
            phones=[phone] if e164 else [],
        )
    else:
        fill: dict[str, Any] = {
            name: value
            for name, value in (
                ("first_name", first_name.strip()[:100]),
                ("last_name", last_name.strip()[:100]),
                ("email", email),
            )
            if value and not getattr(person, name)
        }
        if fill:
            people_services.person_update(
                person=person, actor=None, meta={"source": source}, **fill
            )
        if e164 and not person.phones.filter(e164=e164).exists():
            people_services.person_phone_add(person=person, raw=phone, actor=None)
    for channel in consents:
        people_services.person_consent_record(
            person=person, channel=channel, granted=True, source=source, actor=None
        )
    recorded = answers_record(
        organization=organization,
        person=person,
        survey=survey,
        answers=answers,
        channel=Channel.WEB,
        agent=None,
        source_type="surveys.web",
        source_id=submission,
        version=version,
    )
    return person, recorded

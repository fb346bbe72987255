"""Survey pages: list, template library, builder, flow, runners, results, public form.

Thin views: parse, check permission (org_view), call services/selectors, render.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.core.audit import audit_record
from mobiliza.core.forms import form_add_service_errors
from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Perm, has_perm
from mobiliza.core.qr import qr_svg_inline
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.surveys import selectors, services
from mobiliza.surveys.forms import (
    BRANCH_CHOICES,
    CONSENT_CHOICES,
    SUPPORT_CHOICES,
    NewQuestionForm,
    QuestionForm,
    ResultsFilterForm,
    SurveyForm,
    choice_rows_from_post,
)
from mobiliza.surveys.graph import graph_problems
from mobiliza.surveys.library import templates_ensure
from mobiliza.surveys.models import FIXED_CHOICE_TYPES, Channel, Question, QuestionType, Survey
from mobiliza.surveys.runner import form_runner, runner_version, stepper_step

EXTRA_CHOICE_ROWS = 3


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _survey(request: OrgRequest, survey_id: Any) -> Survey:
    return selectors.survey_get(organization=request.organization, survey_id=survey_id)


# --- list, create, library --------------------------------------------------------------------
@org_view(Perm.SURVEYS_MANAGE)
def list_view(request: OrgRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    surveys = list(
        selectors.survey_list(organization=request.organization, include_archived=show_archived)
    )
    counts = selectors.survey_answer_counts(organization=request.organization, surveys=surveys)
    for survey in surveys:
        survey.answer_count = counts.get(survey.id, 0)  # type: ignore[attr-defined]
    return render(
        request, "surveys/list.html", {"surveys": surveys, "show_archived": show_archived}
    )


@org_view(Perm.SURVEYS_MANAGE)
def create_view(request: OrgRequest) -> HttpResponse:
    as_template = request.GET.get("template") == "1" or request.POST.get("is_template") == "1"
    form = SurveyForm(
        request.POST or None, initial={"language": request.organization.default_language}
    )
    if request.method == "POST" and form.is_valid():
        try:
            survey = services.survey_create(
                organization=request.organization,
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                language=form.cleaned_data["language"],
                is_template=as_template,
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("Survey created. Add its first question."))
            return redirect("surveys:question_create", survey_id=survey.public_id)
    return render(request, "surveys/create.html", {"form": form, "as_template": as_template})


@org_view(Perm.SURVEYS_MANAGE)
def templates_view(request: OrgRequest) -> HttpResponse:
    """The template library (seed 002 step 6). Shipped templates are copied in on first visit."""
    templates_ensure(organization=request.organization, actor=request.user)
    language = request.GET.get("language") or request.organization.default_language
    templates = list(selectors.survey_list(organization=request.organization, templates=True))
    languages = sorted({t.language for t in templates})
    shown = [t for t in templates if t.language == language] if language != "all" else templates
    return render(
        request,
        "surveys/templates.html",
        {"templates": shown, "language": language, "languages": languages},
    )


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def use_template_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    """Use template: copy it into a new survey, open the new survey's builder."""
    source = _survey(request, survey_id)
    survey = services.survey_copy(survey=source, actor=request.user)
    messages.success(
        request, _("“%(name)s” is ready: adjust it, then use it.") % {"name": survey.name}
    )
    return redirect("surveys:builder", survey_id=survey.public_id)


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def save_as_template_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    source = _survey(request, survey_id)
    template = services.survey_copy(survey=source, actor=request.user, is_template=True)
    messages.success(request, _("Saved to the template library."))
    return redirect("surveys:builder", survey_id=template.public_id)


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def archive_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    archived = request.POST.get("archived", "1") == "1"
    services.survey_archive(survey=survey, actor=request.user, archived=archived)
    messages.success(request, _("Survey archived.") if archived else _("Survey restored."))
    return redirect("surveys:templates" if survey.is_template else "surveys:list")


# --- builder --------------------------------------------------------------------------------
def _flow(survey: Survey) -> list[dict[str, Any]]:
    """Which question leads where, in words, from the editable state."""
    definition = services.survey_definition_build(survey=survey)
    questions = definition["questions"]
    number = {q["key"]: i + 1 for i, q in enumerate(questions)}
    problems = {p.question_key: p.message for p in graph_problems(questions)}
    rows = []
    for i, question in enumerate(questions):
        default = (
            _("question %(n)s") % {"n": i + 2} if i + 1 < len(questions) else _("end of survey")
        )
        edges: list[tuple[str, str]] = []
        for choice in question["choices"]:
            kind, to = choice["branch"]["kind"], choice["branch"]["to"]
            if kind == "end":
                target = _("end of survey")
            elif kind == "goto":
                target = (
                    _("question %(n)s") % {"n": number[to]}
                    if to in number
                    else _("a missing question")
                )
            else:
                target = default
            edges.append((choice["label"], target))
        if (
            not edges
            or not question["required"]
            or any(c["branch"]["kind"] == "next" for c in question["choices"])
        ):
            if not question["choices"]:
                edges.append((_("any answer"), default))
            elif not question["required"]:
                edges.append((_("no answer"), default))
        rows.append(
            {
                "number": i + 1,
                "question": question,
                "edges": edges,
                "problem": problems.get(question["key"], ""),
            }
        )
    return rows


@org_view(Perm.SURVEYS_MANAGE)
def builder_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    form = SurveyForm(
        request.POST or None,
        initial={
            "name": survey.name,
            "description": survey.description,
            "language": survey.language,
            "public_intro": survey.public_intro,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_update(survey=survey, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("Saved."))
            return redirect("surveys:builder", survey_id=survey.public_id)
    questions = selectors.survey_questions(survey=survey)
    public_url = request.build_absolute_uri(
        reverse("surveys:public", kwargs={"token": survey.public_token})
    )
    return render(
        request,
        "surveys/builder.html",
        {
            "survey": survey,
            "form": form,
            "questions": questions,
            "flow": _flow(survey),
            "public_url": public_url,
            "qr_svg": _qr_svg(public_url) if survey.public_enabled else "",
            "can_export": has_perm(request.membership, Perm.RESULTS_EXPORT),
        },
    )


def _qr_svg(url: str) -> str:
    return qr_svg_inline(url, scale=4, border=2, title="QR code")


@org_view(Perm.SURVEYS_MANAGE)
def flow_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    return render(request, "surveys/flow.html", {"survey": survey, "flow": _flow(survey)})


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def public_toggle_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    try:
        services.survey_public_set(
            survey=survey, actor=request.user, enabled=request.POST.get("enabled") == "1"
        )
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(
            request,
            _("The public form is open.") if survey.public_enabled else _("Public form closed."),
        )
    return redirect(reverse("surveys:builder", kwargs={"survey_id": survey.public_id}) + "#share")


def _question_context(
    survey: Survey, question: Question | None, form: QuestionForm, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    others = [q for q in selectors.survey_questions(survey=survey) if q != question]
    return {
        "survey": survey,
        "question": question,
        "form": form,
        "rows": rows,
        "targets": others,
        "branch_choices": BRANCH_CHOICES,
        "consent_choices": CONSENT_CHOICES,
        "support_choices": SUPPORT_CHOICES,
        "fixed_types": [str(t) for t in FIXED_CHOICE_TYPES],
        "choice_types": ["single", "multiple", "yes_no", "scale"],
    }


@org_view(Perm.SURVEYS_MANAGE)
def question_create_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    after = None
    if request.GET.get("after") or request.POST.get("after"):
        after = selectors.question_get(
            organization=request.organization,
            survey=survey,
            question_id=request.GET.get("after") or request.POST.get("after"),
        )
    form = NewQuestionForm(request.POST or None, initial={"type": QuestionType.SINGLE})
    if request.method == "POST" and form.is_valid():
        try:
            question = services.question_create(
                survey=survey,
                actor=request.user,
                type=form.cleaned_data["type"],
                label=form.cleaned_data["label"],
                guidance=form.cleaned_data["guidance"],
                required=form.cleaned_data["required"],
                choices=form.choice_labels(),
                after=after,
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("Question added."))
            if question.type in ("single", "multiple", "yes_no", "scale"):
                return redirect(
                    "surveys:question_edit",
                    survey_id=survey.public_id,
                    question_id=question.public_id,
                )
            return redirect("surveys:builder", survey_id=survey.public_id)
    return render(
        request,
        "surveys/question_new.html",
        {"survey": survey, "form": form, "after": after},
    )


def _rows_from_question(question: Question) -> list[dict[str, Any]]:
    rows = []
    choices = question.choices.filter(removed_at__isnull=True).select_related("branch_to")
    for n, c in enumerate(choices, start=1):
        rows.append(
            {
                "order": str(n),
                "id": str(c.public_id),
                "key": c.key,
                "label": c.label,
                "branch": c.branch,
                "branch_to": str(c.branch_to.public_id) if c.branch_to else "",
                "support_level": str(c.effect_support_level or ""),
                "tag_add": c.effect_tag_add,
                "tag_remove": c.effect_tag_remove,
                "do_not_contact": c.effect_do_not_contact,
                "consent_channel": c.effect_consent_channel,
                "consent_granted": c.effect_consent_granted,
                "remove": False,
            }
        )
    return rows


def _blank_rows(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "order": str(start + i),
            "id": "",
            "key": "",
            "label": "",
            "branch": "next",
            "branch_to": "",
            "support_level": "",
            "tag_add": "",
            "tag_remove": "",
            "do_not_contact": False,
            "consent_channel": "",
            "consent_granted": True,
            "remove": False,
        }
        for i in range(n)
    ]


@org_view(Perm.SURVEYS_MANAGE)
def question_edit_view(request: OrgRequest, survey_id: Any, question_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    question = selectors.question_get(
        organization=request.organization, survey=survey, question_id=question_id
    )
    form = QuestionForm(
        request.POST or None,
        initial={
            "type": question.type,
            "label": question.label,
            "guidance": question.guidance,
            "required": question.required,
        },
    )
    if request.method == "POST":
        try:
            count = min(int(request.POST.get("choice-count", "0")), 60)
        except ValueError:
            count = 0
        rows = choice_rows_from_post(request.POST, count)
        if form.is_valid():
            try:
                services.question_update(
                    question=question,
                    actor=request.user,
                    type=form.cleaned_data["type"],
                    label=form.cleaned_data["label"],
                    guidance=form.cleaned_data["guidance"],
                    required=form.cleaned_data["required"],
                    choices=rows,
                )
            except ValidationError as exc:
                for message in _errors(exc):
                    form.add_error(None, message)
            else:
                messages.success(request, _("Question saved."))
                return redirect("surveys:builder", survey_id=survey.public_id)
    else:
        rows = _rows_from_question(question)
        if question.type not in FIXED_CHOICE_TYPES:
            rows += _blank_rows(EXTRA_CHOICE_ROWS, start=len(rows) + 1)
    return render(
        request, "surveys/question_edit.html", _question_context(survey, question, form, rows)
    )


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def question_move_view(request: OrgRequest, survey_id: Any, question_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    question = selectors.question_get(
        organization=request.organization, survey=survey, question_id=question_id
    )
    try:
        services.question_move(
            question=question, actor=request.user, direction=request.POST.get("direction", "")
        )
    except ValidationError as exc:
        messages.error(request, _("Not moved: %(why)s") % {"why": " ".join(_errors(exc))})
    return redirect(
        reverse("surveys:builder", kwargs={"survey_id": survey.public_id}) + "#questions"
    )


@org_view(Perm.SURVEYS_MANAGE)
@require_POST
def question_remove_view(request: OrgRequest, survey_id: Any, question_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    question = selectors.question_get(
        organization=request.organization, survey=survey, question_id=question_id
    )
    try:
        services.question_remove(question=question, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _("Not removed: %(why)s") % {"why": " ".join(_errors(exc))})
    else:
        messages.success(request, _("Question removed."))
    return redirect(
        reverse("surveys:builder", kwargs={"survey_id": survey.public_id}) + "#questions"
    )


# --- runners ----------------------------------------------------------------------------------
@org_view(Perm.SURVEYS_MANAGE)
def preview_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    """Preview (templates and surveys): both runners, nothing is recorded."""
    survey = _survey(request, survey_id)
    version = runner_version(organization=request.organization, survey=survey, data=request.POST)
    if version is None:
        raise Http404
    description = selectors.version_description(version=version)
    mode = request.GET.get("mode", "step")
    data = request.POST if request.method == "POST" else None
    context: dict[str, Any] = {"survey": survey, "version": version, "mode": mode}
    if mode == "form":
        context["runner"] = form_runner(description, data)
    else:
        stepper = stepper_step(description, data)
        if stepper.complete:
            messages.info(request, _("Preview finished: nothing was recorded."))
            return redirect(request.get_full_path())
        context["stepper"] = stepper
    return render(request, "surveys/preview.html", context)


@org_view(Perm.PEOPLE_EDIT)
def run_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    """Record a person's answers by hand (channel "manual"), with either runner."""
    from mobiliza.people.models import Person

    survey = _survey(request, survey_id)
    if survey.is_template:
        raise Http404
    person_id = request.GET.get("person", "")
    if not person_id:
        return _person_picker(request, survey)
    try:
        person = Person.objects.get(organization=request.organization, public_id=person_id)
    except (Person.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None
    version = runner_version(organization=request.organization, survey=survey, data=request.POST)
    if version is None:
        raise Http404
    description = selectors.version_description(version=version)
    mode = request.GET.get("mode", "step")
    data = request.POST if request.method == "POST" else None
    context: dict[str, Any] = {
        "survey": survey,
        "version": version,
        "mode": mode,
        "person": person,
    }
    answers: dict[str, Any] | None = None
    submission = ""
    if mode == "form":
        runner = form_runner(description, data)
        context["runner"] = runner
        if runner.is_valid:
            answers, submission = runner.answers, runner.submission
    else:
        stepper = stepper_step(description, data)
        context["stepper"] = stepper
        if stepper.complete:
            answers, submission = stepper.answers, stepper.submission
    if answers is not None:
        try:
            services.answers_record(
                organization=request.organization,
                person=person,
                survey=survey,
                answers=answers,
                channel=Channel.MANUAL,
                agent=request.user,
                source_type="surveys.manual",
                source_id=submission,
                version=version,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
        else:
            messages.success(request, _("Answers saved for %(name)s.") % {"name": person})
            return redirect(
                reverse("surveys:run", kwargs={"survey_id": survey.public_id})
                + f"?person={person.public_id}&mode={mode}&saved=1"
            )
    return render(request, "surveys/run.html", context)


def _person_picker(request: OrgRequest, survey: Survey) -> HttpResponse:
    from mobiliza.people.models import Person
    from mobiliza.people.selectors import search_q

    text = request.GET.get("q", "").strip()
    people: list[Person] = []
    if text:
        people = list(
            Person.objects.filter(organization=request.organization)
            .filter(search_q(organization=request.organization, text=text))
            .order_by("last_name", "first_name", "id")[:20]
        )
    return render(request, "surveys/run_pick.html", {"survey": survey, "people": people, "q": text})


# --- results ----------------------------------------------------------------------------------
def _results_filters(request: HttpRequest) -> tuple[ResultsFilterForm, dict[str, Any]]:
    form = ResultsFilterForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        return form, {
            "channel": data.get("channel") or "",
            "since": data.get("since"),
            "until": data.get("until"),
        }
    return form, {"channel": "", "since": None, "until": None}


@org_view(Perm.SURVEYS_MANAGE)
def results_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    form, filters = _results_filters(request)
    results = selectors.survey_results(organization=request.organization, survey=survey, **filters)
    return render(
        request,
        "surveys/results.html",
        {
            "survey": survey,
            "form": form,
            "results": results,
            "query": request.GET.urlencode(),
            "can_export": has_perm(request.membership, Perm.RESULTS_EXPORT),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@org_view(Perm.SURVEYS_MANAGE)
def results_csv_view(request: OrgRequest, survey_id: Any) -> HttpResponse:
    survey = _survey(request, survey_id)
    if not has_perm(request.membership, Perm.RESULTS_EXPORT):
        raise PermissionDenied
    _form, filters = _results_filters(request)
    audit_record(
        organization=request.organization,
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=survey,
        meta={k: str(v or "") for k, v in filters.items()},
    )
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield "\ufeff"
        for row in selectors.answers_csv_rows(
            organization=request.organization, survey=survey, **filters
        ):
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.public_id}.csv"'
    return response  # type: ignore[return-value]  # streamed: org_view expects HttpResponse


# --- public form (no login) -----------------------------------------------------------------
PUBLIC_RATE_LIMIT = 10  # submissions
PUBLIC_RATE_WINDOW = 10 * 60  # seconds, per client address


def _rate_limited(request: HttpRequest) -> bool:
    """Count this submission for the client address; True when over the limit (cache-based)."""
    from django.core.cache import cache

    key = "surveys:public:" + request.META.get("REMOTE_ADDR", "unknown")
    if cache.add(key, 1, PUBLIC_RATE_WINDOW):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, PUBLIC_RATE_WINDOW)
        return False
    return count > PUBLIC_RATE_LIMIT


def public_view(request: HttpRequest, token: str) -> HttpResponse:
    """The shareable form: anyone can answer; works without JavaScript."""
    from django.utils import translation

    from mobiliza.surveys.forms import PublicContactForm

    survey = selectors.survey_get_public(token=token)
    version = runner_version(organization=survey.organization, survey=survey, data=request.POST)
    if version is None:
        raise Http404
    with translation.override(survey.language):
        description = selectors.version_description(version=version)
        data = request.POST if request.method == "POST" else None
        runner = form_runner(description, data)
        contact = PublicContactForm(data)
        status = 200
        if data is not None:
            if _rate_limited(request):
                contact.add_error(
                    None, _("Too many answers from your connection. Try again in a few minutes.")
                )
                status = 429
            elif contact.data.get("website"):
                # The honeypot was filled in: a robot. Look successful, store nothing.
                return redirect("surveys:public_thanks", token=token)
            elif runner.is_valid and contact.is_valid():
                try:
                    services.public_response_submit(
                        survey=survey,
                        version=version,
                        answers=runner.answers,
                        first_name=contact.cleaned_data["first_name"],
                        last_name=contact.cleaned_data["last_name"],
                        email=contact.cleaned_data["email"] or "",
                        phone=contact.cleaned_data["phone"] or "",
                        consents=[
                            channel
                            for channel in ("email", "sms", "phone")
                            if contact.cleaned_data[f"consent_{channel}"]
                        ],
                        submission=runner.submission,
                    )
                except ValidationError as exc:
                    form_add_service_errors(contact, exc)
                else:
                    return redirect("surveys:public_thanks", token=token)
        response = render(
            request,
            "surveys/public_form.html",
            {"survey": survey, "version": version, "runner": runner, "contact": contact},
            status=status,
        )
    return response


def public_thanks_view(request: HttpRequest, token: str) -> HttpResponse:
    from django.utils import translation

    survey = selectors.survey_get_public(token=token)
    with translation.override(survey.language):
        return render(request, "surveys/public_thanks.html", {"survey": survey})

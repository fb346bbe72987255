"""Call operation pages: thin views over calling.services and calling.selectors.

* dashboard, share panel, operation menu actions (pause/resume, duplicate, archive, export);
* the 11-step wizard (`wizard`), each step saved as the draft, with Back / Next;
* the agent's calling screen (`call`) which talks to the JSON API;
* joining through a share link (`join`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.calling import dispenser, fieldrules, forms, selectors, services
from mobiliza.calling.models import (
    BlockingRule,
    CallAttempt,
    CallOperation,
    CallStatus,
    FieldRule,
    OperationUser,
    RecyclingRule,
)
from mobiliza.calling.statuses import statuses_ensure
from mobiliza.core.audit import audit_record
from mobiliza.core.forms import form_add_service_errors
from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Perm, has_perm
from mobiliza.core.qr import qr_svg_inline
from mobiliza.core.tenancy import activate_organization, org_view
from mobiliza.core.types import OrgRequest
from mobiliza.people.models import Election, Person, Tag

STEPS = [
    (1, _("Version")),
    (2, _("Source")),
    (3, _("Details")),
    (4, _("Call method")),
    (5, _("Survey")),
    (6, _("Call recycling")),
    (7, _("Blocking")),
    (8, _("Fields")),
    (9, _("Users")),
    (10, _("Contact list")),
    (11, _("Finish")),
]
LAST_STEP = len(STEPS)


def _url_or(name: str, *args: Any, fallback: str = "") -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def _owned(request: OrgRequest, calloperation_id: Any) -> CallOperation:
    return selectors.operation_get(
        organization=request.organization,
        membership=request.membership,
        public_id=calloperation_id,
        owner=True,
    )


# --- dashboard ---------------------------------------------------------------------------------
@org_view(Perm.AGENT_WORK)
def dashboard(request: OrgRequest) -> HttpResponse:
    rows = selectors.dashboard_rows(
        organization=request.organization, membership=request.membership
    )
    template = (
        "calling/dashboard.html#rows"
        if request.headers.get("HX-Request")
        else "calling/dashboard.html"
    )
    return render(
        request,
        template,
        {
            "rows": rows,
            "can_create": has_perm(request.membership, Perm.OPERATIONS_CREATE),
        },
    )


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def create(request: OrgRequest) -> HttpResponse:
    operation = services.operation_create(
        organization=request.organization, creator=request.membership
    )
    return redirect("calling:wizard_1", operation.public_id)


@org_view(Perm.AGENT_WORK)
def detail(request: OrgRequest, calloperation_id: Any) -> HttpResponse:
    operation = _owned(request, calloperation_id)
    stats = selectors.operation_stats(operation=operation)
    queue, next_at = dispenser.queue_explain(operation=operation, agent=None)
    context = {
        "operation": operation,
        "stats": stats,
        "queue": queue,
        "next_at": next_at,
        "max_hour": max([h["n"] for h in stats["per_hour"]] or [0]) or 1,
        "removed": selectors.removed_targets(operation=operation)[:50],
        "can_export": has_perm(request.membership, Perm.RESULTS_EXPORT)
        or selectors.operation_role(operation=operation, membership=request.membership)
        == OperationUser.Role.OWNER,
    }
    if request.headers.get("HX-Request"):
        return render(request, "calling/detail.html#live", context)
    return render(request, "calling/detail.html", context)


@org_view(Perm.AGENT_WORK)
def share(request: OrgRequest, calloperation_id: Any) -> HttpResponse:
    operation = _owned(request, calloperation_id)
    if request.method == "POST":
        _share_post(request, operation)
        return redirect("calling:share", operation.public_id)
    return render(request, "calling/share.html", _share_context(request, operation))


def _share_post(request: OrgRequest, operation: CallOperation, action: str = "") -> None:
    action = action or request.POST.get("share_action", "save")
    try:
        services.share_link_update(
            operation=operation,
            actor=request.user,
            role=request.POST.get("share_role") or None,
            enabled=request.POST.get("share_enabled") == "on" if action == "save" else None,
            qr=request.POST.get("share_qr") == "on" if action == "save" else None,
            regenerate=action == "regenerate",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))


def _share_context(request: HttpRequest, operation: CallOperation) -> dict[str, Any]:
    link = request.build_absolute_uri(reverse("calling:join", args=[operation.share_token]))
    qr_svg = ""
    if operation.share_qr and operation.share_enabled:
        qr_svg = qr_svg_inline(link, scale=4, dark="#1f2937")
    return {
        "operation": operation,
        "share_link": link,
        "qr_svg": qr_svg,
        "link_roles": CallOperation.LinkRole.choices,
    }


@org_view(Perm.AGENT_WORK)
@require_POST
def action(request: OrgRequest, calloperation_id: Any, verb: str) -> HttpResponse:
    operation = _owned(request, calloperation_id)
    if verb == "pause":
        services.operation_set_paused(operation=operation, paused=True, actor=request.user)
        messages.success(request, _("Calls are paused."))
    elif verb == "resume":
        services.operation_set_paused(operation=operation, paused=False, actor=request.user)
        messages.success(request, _("Calls have resumed."))
    elif verb == "archive":
        services.operation_archive(operation=operation, actor=request.user)
        messages.success(request, _("The operation is archived."))
    elif verb == "duplicate":
        copy = services.operation_duplicate(operation=operation, creator=request.membership)
        messages.success(request, _("A copy was created as a draft."))
        return redirect("calling:wizard_1", copy.public_id)
    else:
        raise Http404
    return redirect("calling:dashboard")


@org_view(Perm.AGENT_WORK)
def export(request: OrgRequest, calloperation_id: Any) -> HttpResponse:
    """CSV of every attempt with its answers, for owners and admins (audited)."""
    operation = _owned(request, calloperation_id)
    audit_record(
        organization=request.organization,
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=operation,
        meta={"what": "call attempts"},
    )
    attempts = (
        CallAttempt.objects.filter(operation=operation)
        .select_related("status", "agent__user", "person", "target")
        .order_by("created_at", "id")
    )

    def rows() -> Any:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                "time",
                "person_id",
                "first_name",
                "last_name",
                "phone",
                "agent",
                "status",
                "reached",
                "outcome",
                "notes",
                "callback_at",
                "answers",
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        for a in attempts.iterator(chunk_size=2000):
            writer.writerow(
                [
                    a.created_at.isoformat(),
                    a.person.public_id,
                    a.person.first_name,
                    a.person.last_name,
                    a.target.phone_e164,
                    a.agent.user.email if a.agent else "",
                    a.status.label,
                    "yes" if a.is_reached else "no",
                    a.outcome,
                    a.notes,
                    a.callback_at.isoformat() if a.callback_at else "",
                    "; ".join(f"{k}={v}" for k, v in (a.answers or {}).items()),
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls-{operation.public_id}.csv"'
    return response  # type: ignore[return-value]  # a streaming response is a response


@org_view(Perm.AGENT_WORK)
@require_POST
def target_restore(request: OrgRequest, calltarget_id: Any) -> HttpResponse:
    target = selectors.target_get(organization=request.organization, public_id=calltarget_id)
    operation = _owned(request, target.operation.public_id)
    try:
        services.target_restore(target=target, actor=request.user)
        messages.success(request, _("The person is back in the queue."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("calling:detail", operation.public_id)


@org_view(Perm.ORG_SETTINGS)
def statuses(request: OrgRequest) -> HttpResponse:
    """The organization's call statuses; admins add their own (a label per language, flags)."""
    errors: list[str] = []
    if request.method == "POST":
        try:
            services.status_create(
                organization=request.organization,
                actor=request.user,
                key=request.POST.get("key", "") or request.POST.get("label_en", ""),
                labels={code: request.POST.get(f"label_{code}", "") for code in ("en", "fr", "pt")},
                group=CallStatus.Group.AGENT
                if request.POST.get("group") != CallStatus.Group.REMOVAL
                else CallStatus.Group.REMOVAL,
                is_final=request.POST.get("is_final") == "on",
                is_reached=request.POST.get("is_reached") == "on",
                is_do_not_call=request.POST.get("is_do_not_call") == "on",
                removes_target=request.POST.get("removes_target") == "on",
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("The status was added."))
            return redirect("calling:statuses")
    return render(
        request,
        "calling/statuses.html",
        {
            "statuses": statuses_ensure(organization=request.organization),
            "errors": errors,
            "posted": request.POST,
        },
        status=422 if errors else 200,
    )


# --- the wizard ---------------------------------------------------------------------------------
def _surveys(request: OrgRequest) -> list[Any]:
    from mobiliza.surveys.selectors import survey_list

    return list(survey_list(organization=request.organization))


def _questions(operation: CallOperation) -> list[tuple[str, str]]:
    if operation.survey_id is None:
        return []
    from mobiliza.surveys.models import Question

    return [
        (str(q.public_id), q.label[:120])
        for q in Question.objects.filter(
            survey_id=operation.survey_id, removed_at__isnull=True
        ).order_by("position", "id")
    ]


def _set_survey(
    request: OrgRequest, operation: CallOperation, survey_id: str, question_id: str
) -> dict[str, Any]:
    from mobiliza.surveys.models import Question, Survey

    values: dict[str, Any] = {"survey": None, "key_question": None}
    if survey_id:
        survey = Survey.objects.filter(
            organization=request.organization, public_id=survey_id
        ).first()
        if survey is None:
            raise ValidationError({"survey": _("Choose a survey from the list.")})
        values["survey"] = survey
        if question_id:
            question = Question.objects.filter(survey=survey, public_id=question_id).first()
            if question is None:
                raise ValidationError(
                    {"key_question": _("The key question must belong to the chosen survey.")}
                )
            values["key_question"] = question
    elif question_id:
        raise ValidationError({"key_question": _("Choose the survey first.")})
    return values


@org_view(Perm.AGENT_WORK)
def wizard(request: OrgRequest, calloperation_id: Any, step: int) -> HttpResponse:
    operation = _owned(request, calloperation_id)
    if not 1 <= step <= LAST_STEP:
        raise Http404
    if step > operation.wizard_step + 1 and operation.is_draft:
        return redirect(f"calling:wizard_{operation.wizard_step}", operation.public_id)
    handler = _STEP_HANDLERS[step]
    nav = request.POST.get("nav", "next")
    context: dict[str, Any] = {}
    if request.method == "POST":
        ok, context = handler(request, operation, True)
        if ok:
            if nav == "stay":
                return redirect(f"calling:wizard_{step}", operation.public_id)
            if nav == "back":
                return redirect(f"calling:wizard_{max(1, step - 1)}", operation.public_id)
            if step == LAST_STEP:
                return redirect("calling:dashboard")
            services.operation_update(operation=operation, actor=request.user, step=step + 1)
            return redirect(f"calling:wizard_{step + 1}", operation.public_id)
        if nav == "back":
            return redirect(f"calling:wizard_{max(1, step - 1)}", operation.public_id)
    else:
        _ok, context = handler(request, operation, False)
    context.update(
        {
            "operation": operation,
            "step": step,
            "steps": [
                (n, label, reverse(f"calling:wizard_{n}", args=[operation.public_id]))
                for n, label in STEPS
            ],
            "last_step": LAST_STEP,
            "step_title": dict(STEPS)[step],
        }
    )
    status = 422 if request.method == "POST" else 200
    return render(request, f"calling/wizard/step{step}.html", context, status=status)


StepResult = tuple[bool, dict[str, Any]]


def _step_version(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    form = forms.VersionForm(request.POST if post else None, initial={"version": op.version})
    if post and form.is_valid():
        services.operation_update(operation=op, actor=request.user, **form.cleaned_data)
        return True, {}
    return False, {"form": form}


def _step_source(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    form = forms.SourceForm(request.POST if post else None, initial={"source": op.source})
    if post and form.is_valid():
        services.operation_update(operation=op, actor=request.user, **form.cleaned_data)
        return True, {}
    from mobiliza.people.selectors import people_counts

    return False, {"form": form, "counts": people_counts(organization=request.organization)}


def _sample_person(op: CallOperation) -> Person | None:
    return (
        Person.objects.filter(organization_id=op.organization_id, list=op.source)
        .order_by("id")
        .first()
    )


def _step_details(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    surveys = [(str(s.public_id), s.name) for s in _surveys(request)]
    initial = {
        "name": op.name,
        "description": op.description,
        "survey": str(op.survey.public_id) if op.survey_id and op.survey else "",
        "key_question": str(op.key_question.public_id)
        if op.key_question_id and op.key_question
        else "",
        "starts_on": op.starts_on,
        "ends_at": timezone.localtime(op.ends_at) if op.ends_at else None,
        "window_start": op.window_start,
        "window_end": op.window_end,
        "days_of_week": op.days_of_week,
        "script": op.script,
    }
    questions = _questions(op)
    if post and request.POST.get("survey") and request.POST.get("survey") != initial["survey"]:
        from mobiliza.surveys.models import Question

        questions = (
            [
                (str(q.public_id), q.label[:120])
                for q in Question.objects.filter(
                    survey__organization=request.organization,
                    survey__public_id=request.POST["survey"],
                )
            ]
            if _is_uuid(request.POST["survey"])
            else []
        )
    form = forms.DetailsForm(
        request.POST if post else None, initial=initial, surveys=surveys, questions=questions
    )
    if post and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            data.update(_set_survey(request, op, data.pop("survey"), data.pop("key_question")))
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            services.operation_update(operation=op, actor=request.user, **data)
            return True, {}
    preview_op = op
    if post and form.is_bound:
        preview_op = CallOperation(
            organization=op.organization, script=request.POST.get("script", "")
        )
    rules = list(op.field_rules.all())
    sample = _sample_person(op)
    return False, {
        "form": form,
        "merge_fields": fieldrules.merge_fields(organization=request.organization),
        "sample": sample,
        "preview": fieldrules.script_render(
            operation=preview_op, person=sample, agent_user=request.user, rules=rules
        ),
    }


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _step_method(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    form = forms.MethodForm(
        request.POST if post else None, initial=forms.MethodForm.initial_for(op)
    )
    if post and form.is_valid():
        data = form.cleaned_data
        services.operation_update(
            operation=op,
            actor=request.user,
            call_method=data["call_method"],
            method_settings=form.method_settings(),
        )
        return True, {}
    return False, {"form": form}


def _step_survey(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    from mobiliza.surveys.selectors import survey_list

    surveys = list(survey_list(organization=request.organization))
    templates = list(survey_list(organization=request.organization, templates=True))
    errors: dict[str, list[str]] = {}
    if post:
        survey_id = request.POST.get("survey", "")
        question_id = request.POST.get("key_question", "")
        if survey_id and not _is_uuid(survey_id):
            errors["survey"] = [_("Choose a survey from the list.")]
        else:
            if survey_id and survey_id != (str(op.survey.public_id) if op.survey else ""):
                question_id = ""
            try:
                values = _set_survey(
                    request, op, survey_id, question_id if _is_uuid(question_id) else ""
                )
            except ValidationError as exc:
                errors = exc.message_dict
            else:
                if request.POST.get("use_template"):
                    from mobiliza.surveys.models import Survey
                    from mobiliza.surveys.services import survey_copy

                    template = (
                        Survey.objects.filter(
                            organization=request.organization,
                            public_id=request.POST["use_template"],
                            is_template=True,
                        ).first()
                        if _is_uuid(request.POST["use_template"])
                        else None
                    )
                    if template is None:
                        errors["survey"] = [_("Choose a template from the list.")]
                    else:
                        values = {
                            "survey": survey_copy(survey=template, actor=request.user),
                            "key_question": None,
                        }
                if not errors:
                    services.operation_update(operation=op, actor=request.user, **values)
                    return True, {}
    preview = None
    preview_id = request.GET.get("preview", "")
    if preview_id and _is_uuid(preview_id):
        from mobiliza.surveys.models import Survey

        found = (
            Survey.objects.filter(organization=request.organization, public_id=preview_id)
            .select_related("current_version")
            .first()
        )
        if found is not None and found.current_version is not None:
            preview = {"survey": found, "definition": found.current_version.definition}
    return False, {
        "surveys": surveys,
        "templates": templates,
        "questions": _questions(op),
        "errors": errors,
        "preview": preview,
        "survey_library_url": _url_or("surveys:list"),
        "survey_create_url": _url_or("surveys:create", fallback=_url_or("surveys:list")),
    }


def _step_recycling(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    services.recycling_defaults(operation=op)
    rules = list(
        RecyclingRule.objects.filter(operation=op)
        .select_related("status")
        .exclude(status__group=CallStatus.Group.REMOVAL)
        .order_by("status__group", "status__position", "status__key")
    )
    errors: list[str] = []
    if post:
        rows = []
        for rule in rules:
            prefix = f"r{rule.status_id}_"
            auto_locked = op.is_own_phone and rule.status.group == CallStatus.Group.AUTO
            try:
                max_calls = int(request.POST.get(prefix + "max", rule.max_further_calls) or 0)
                interval = int(request.POST.get(prefix + "interval", rule.interval_minutes) or 0)
            except ValueError:
                errors.append(_("“%(status)s”: numbers only.") % {"status": rule.status.label})
                continue
            enabled = request.POST.get(prefix + "on") == "on"
            if auto_locked:
                enabled, max_calls, interval = (
                    rule.enabled,
                    rule.max_further_calls,
                    rule.interval_minutes,
                )
            if enabled and not (0 <= max_calls <= 20):
                errors.append(
                    _("“%(status)s”: further calls go from 0 to 20.")
                    % {"status": rule.status.label}
                )
            if enabled and not (1 <= interval <= 43200):
                errors.append(
                    _("“%(status)s”: the interval goes from 1 to 43,200 minutes.")
                    % {"status": rule.status.label}
                )
            rows.append(
                services.RecyclingInput(
                    rule.status_id, enabled, max(0, max_calls), max(1, interval)
                )
            )
        if not errors:
            services.recycling_save(operation=op, rows=rows)
            return True, {}
    groups = [
        (
            CallStatus.Group.AUTO.label,
            [r for r in rules if r.status.group == CallStatus.Group.AUTO],
            True,
        ),
        (
            CallStatus.Group.AGENT.label,
            [r for r in rules if r.status.group == CallStatus.Group.AGENT],
            False,
        ),
    ]
    return False, {"groups": groups, "errors": errors}


def _step_blocking(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    statuses = [
        s
        for s in statuses_ensure(organization=request.organization)
        if s.group == CallStatus.Group.REMOVAL or s.removes_target
    ]
    by_key = {s.key: s for s in statuses}
    existing = {r.kind: r for r in op.blocking_rules.select_related("removal_status")}
    elections = list(Election.objects.filter(organization=request.organization))
    tags = list(Tag.objects.filter(organization=request.organization))
    questions = _questions(op)
    defaults = {
        BlockingRule.Kind.VOTE: "removed_voted",
        BlockingRule.Kind.QUESTION: "removed_answered",
        BlockingRule.Kind.TAG: "removed_tag",
        BlockingRule.Kind.NO_CONSENT: "removed_no_consent",
    }
    errors: list[str] = []
    if post:
        rules = []
        for kind, label in BlockingRule.Kind.choices:
            if request.POST.get(f"{kind}_on") != "on":
                continue
            status = by_key.get(request.POST.get(f"{kind}_status", ""))
            if status is None:
                errors.append(_("“%(rule)s”: choose the removal status.") % {"rule": label})
                continue
            params: dict[str, Any] = {}
            if kind == BlockingRule.Kind.VOTE:
                params["election_id"] = request.POST.get("vote_election", "")
                if params["election_id"] and params["election_id"] not in {
                    str(e.public_id) for e in elections
                }:
                    errors.append(_("“Vote”: choose an election from the list."))
            elif kind == BlockingRule.Kind.QUESTION:
                params["question_id"] = request.POST.get("question_question", "")
                params["value"] = request.POST.get("question_value", "").strip()
                if params["question_id"] not in {q for q, _l in questions}:
                    errors.append(_("“Question”: choose a question of the operation's survey."))
            elif kind == BlockingRule.Kind.TAG:
                params["tag_id"] = request.POST.get("tag_tag", "")
                if params["tag_id"] not in {str(t.public_id) for t in tags}:
                    errors.append(_("“Tag”: choose a tag."))
            rules.append(
                services.BlockingInput(
                    kind=kind,
                    params=params,
                    removal_status=status,
                    reason=request.POST.get(f"{kind}_reason", "").strip() or status.label,
                    apply_to_household=request.POST.get(f"{kind}_household") == "on",
                )
            )
        if not errors:
            services.blocking_save(operation=op, rules=rules)
            return True, {}
    kinds = []
    for kind, label in BlockingRule.Kind.choices:
        rule = existing.get(kind)
        kinds.append(
            {
                "kind": kind,
                "label": label,
                "rule": rule,
                "on": rule is not None if not post else request.POST.get(f"{kind}_on") == "on",
                "status_key": rule.removal_status.key
                if rule
                else defaults[BlockingRule.Kind(kind)],
                "params": rule.params if rule else {},
            }
        )
    return False, {
        "kinds": kinds,
        "statuses": statuses,
        "elections": elections,
        "tags": tags,
        "questions": questions,
        "errors": errors,
    }


def _step_fields(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    table = fieldrules.field_rules_table(operation=op)
    errors: list[str] = []
    if post:
        order = request.POST.getlist("order")
        known = {r.field.key for r in table}
        order = [k for k in order if k in known] + [
            k for k in (r.field.key for r in table) if k not in order
        ]
        rows = [
            services.FieldRuleInput(
                field_key=key,
                visibility=request.POST.get(f"vis_{key}", FieldRule.Visibility.HIDDEN),
                highlight=request.POST.get(f"hl_{key}") == "on",
            )
            for key in order
        ]
        try:
            services.field_rules_save(operation=op, rows=rows)
            return True, {}
        except ValidationError as exc:
            errors = exc.messages
    return False, {"rows": table, "errors": errors, "visibilities": FieldRule.Visibility.choices}


def _step_users(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    from mobiliza.accounts.models import Membership

    errors: list[str] = []
    if post:
        act = request.POST.get("users_action", "")
        if act == "add":
            member = (
                Membership.objects.filter(
                    organization=request.organization, public_id=request.POST.get("member", "")
                ).first()
                if _is_uuid(request.POST.get("member", ""))
                else None
            )
            if member is None:
                errors.append(_("Choose a member from the search results."))
            else:
                services.operation_user_add(
                    operation=op,
                    membership=member,
                    role=request.POST.get("role", OperationUser.Role.AGENT),
                    actor=request.user,
                )
        elif act == "remove":
            user = (
                op.users.filter(public_id=request.POST.get("operation_user", "")).first()
                if _is_uuid(request.POST.get("operation_user", ""))
                else None
            )
            if user is not None:
                try:
                    services.operation_user_remove(operation_user=user, actor=request.user)
                except ValidationError as exc:
                    errors.extend(exc.messages)
        elif act in {"save", "regenerate"}:
            _share_post(request, op, act)
        if not errors:
            return True, {}
    context = _share_context(request, op)
    context.update(
        {
            "users": selectors.operation_users(operation=op),
            "errors": errors,
            "roles": OperationUser.Role.choices,
            "search_url": _url_or("accounts:member_search"),
        }
    )
    return False, context


def _step_contacts(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    from mobiliza.people.models import Segment

    segments = list(
        Segment.objects.filter(organization=request.organization, list=op.source).order_by("name")
    )
    form = forms.ContactListForm(
        request.POST if post else None,
        initial={"segment": str(op.segment.public_id) if op.segment_id and op.segment else ""},
        segments=[(str(s.public_id), s.name) for s in segments],
    )
    if post and form.is_valid():
        chosen = next(
            (s for s in segments if str(s.public_id) == form.cleaned_data["segment"]), None
        )
        services.operation_update(operation=op, actor=request.user, segment=chosen)
        return True, {}
    return False, {
        "form": form,
        "preview": services.list_preview(operation=op),
        "filter_builder_url": _url_or("people:list") + f"?list={op.source}",
    }


def _step_finish(request: OrgRequest, op: CallOperation, post: bool) -> StepResult:
    if post:
        try:
            report = services.operation_finish(operation=op, actor=request.user)
        except ValidationError as exc:
            return False, {"problems": exc.messages}
        messages.success(
            request,
            _("“%(name)s” is ready: %(n)d people to call. Share it with your agents.")
            % {"name": op.name, "n": report["ready"]},
        )
        return True, {}
    return False, {
        "problems": services.operation_problems(operation=op),
        "preview": services.list_preview(operation=op),
    }


_STEP_HANDLERS = {
    1: _step_version,
    2: _step_source,
    3: _step_details,
    4: _step_method,
    5: _step_survey,
    6: _step_recycling,
    7: _step_blocking,
    8: _step_fields,
    9: _step_users,
    10: _step_contacts,
    11: _step_finish,
}


# --- share link -----------------------------------------------------------------------------
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Opening a share link: log in or sign up, then join with the link's role."""
    operation = services.share_link_operation(token=token)
    if operation is None:
        return render(request, "calling/join_invalid.html", status=404)
    if not request.user.is_authenticated:
        here = request.get_full_path()
        return render(
            request,
            "calling/join.html",
            {
                "operation": operation,
                "login_url": f"{reverse('accounts:login')}?next={here}",
                "signup_url": f"{reverse('accounts:signup')}?next={here}",
            },
        )
    if request.method != "POST":
        return render(request, "calling/join.html", {"operation": operation, "confirm": True})
    services.share_link_join(operation=operation, user=request.user)
    activate_organization(request, operation.organization)
    messages.success(request, _("You joined “%(name)s”.") % {"name": operation.name})
    return redirect("calling:call", operation.public_id)


# --- the calling screen ---------------------------------------------------------------------
@org_view(Perm.AGENT_WORK)
def call(request: OrgRequest, calloperation_id: Any) -> HttpResponse:
    operation = selectors.operation_get(
        organization=request.organization, membership=request.membership, public_id=calloperation_id
    )
    if selectors.can_manage_all(request.membership):
        OperationUser.objects.get_or_create(
            operation=operation,
            membership=request.membership,
            defaults={"role": OperationUser.Role.OWNER, "organization": operation.organization},
        )
    survey_definition = None
    if operation.survey_id:
        from mobiliza.surveys.models import Survey

        survey = (
            Survey.objects.filter(pk=operation.survey_id).select_related("current_version").first()
        )
        if survey is not None and survey.current_version is not None:
            survey_definition = survey.current_version.definition
    return render(
        request,
        "calling/call.html",
        {
            "operation": operation,
            "statuses": selectors.agent_statuses(organization=request.organization),
            "survey_definition": survey_definition,
            "closed": dispenser.operation_open(operation, timezone.now()),
            "call_i18n": _call_i18n(),
            "telephony": _telephony_context(operation, request.membership),
        },
    )


def _telephony_context(operation: CallOperation, membership: Any) -> dict[str, Any]:
    """Software-placed calls (the telephony app): live call state, the agent's phone."""
    from mobiliza.telephony.selectors import call_screen_context

    return call_screen_context(operation=operation, membership=membership)


def _call_i18n() -> dict[str, Any]:
    return {
        "reasons": {
            "outside_calling_hours": _("outside calling hours in their time zone"),
            "waiting_recycling_interval": _("waiting for the recycling interval"),
            "held_by_other_agents": _("being called by other agents"),
            "callbacks_not_yet_due": _("callbacks not yet due"),
            "removed_by_blocking": _("removed"),
            "done": _("done"),
        },
        "next": _("Next person available at"),
        "online": _("Online"),
        "offline": _("Offline"),
        "choose_status": _("Choose a result first."),
        "attempts": _("Previous calls"),
        "closed": _("This operation is not open for calls."),
        "lost": _(
            "This person was given to someone else (your hold expired). Taking the next one."
        ),
        "next_q": _("Next question"),
        "prev_q": _("Previous question"),
        "end": _("End of the questions."),
    }

"""Texting pages: thin views over texting.services and texting.selectors.

Texter pages are phone-first; the first-message screen and the thread work with the keyboard
(Enter sends a first message, Ctrl/Cmd+Enter a reply) and send exactly once per press.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.accounts.models import Membership
from mobiliza.core.forms import form_add_service_errors
from mobiliza.core.htmx import is_htmx
from mobiliza.core.permissions import Perm
from mobiliza.core.qr import qr_svg_file
from mobiliza.core.tenancy import activate_organization, org_view
from mobiliza.core.types import OrgRequest
from mobiliza.providers.services import simulator_ensure_running
from mobiliza.texting import selectors, services
from mobiliza.texting.forms import CampaignForm, CannedForm, SupervisionFilter
from mobiliza.texting.models import Conversation, TextCampaign


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _supervisor_or_403(request: OrgRequest) -> None:
    if not services.is_supervisor(request.membership):
        raise PermissionDenied


def _campaign_admin(request: OrgRequest, textcampaign_id: Any) -> TextCampaign:
    _supervisor_or_403(request)
    return selectors.campaign_get(organization=request.organization, campaign_id=textcampaign_id)


# --- campaigns ----------------------------------------------------------------------------------
@org_view(Perm.AGENT_WORK)
def campaign_list(request: OrgRequest) -> HttpResponse:
    simulator_ensure_running()
    campaigns = list(selectors.campaigns_for(membership=request.membership))
    supervisor = services.is_supervisor(request.membership)
    rows = []
    for campaign in campaigns:
        rows.append(
            {
                "campaign": campaign,
                "mine": selectors.texter_counts(campaign=campaign, membership=request.membership),
            }
        )
    return render(request, "texting/campaign_list.html", {"rows": rows, "supervisor": supervisor})


def _form_values(form: CampaignForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data.pop("sender_numbers", None)
    return data


@org_view(Perm.OPERATIONS_CREATE)
def campaign_create(request: OrgRequest) -> HttpResponse:
    form = CampaignForm(
        request.POST or None,
        organization=request.organization,
        initial={
            "hours_start": "09:00",
            "hours_end": "21:00",
            "max_per_texter": 300,
            "batch_size": 50,
            "first_message": _("Hi {first_name}, it's {agent_first_name} from %(org)s.")
            % {"org": request.organization.name},
            "opt_out_sentence": _("Reply STOP to opt out."),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                organization=request.organization, actor=request.user, **_form_values(form)
            )
            services.campaign_set_senders(
                campaign=campaign, actor=request.user, senders=form.cleaned_data["sender_numbers"]
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            messages.success(request, _("Campaign created. Add canned responses, then start it."))
            return redirect("texting:detail", textcampaign_id=campaign.public_id)
    return render(request, "texting/campaign_form.html", {"form": form, "campaign": None})


@org_view(Perm.OPERATIONS_CREATE)
def campaign_edit(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    initial = {
        key: getattr(campaign, key)
        for key in services.CAMPAIGN_FIELDS
        if key not in ("segment", "survey")
    }
    initial.update(
        segment=campaign.segment_id,
        survey=campaign.survey_id,
        sender_numbers=list(campaign.sender_numbers.values_list("pk", flat=True)),
    )
    form = CampaignForm(request.POST or None, organization=request.organization, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(campaign=campaign, actor=request.user, **_form_values(form))
            services.campaign_set_senders(
                campaign=campaign, actor=request.user, senders=form.cleaned_data["sender_numbers"]
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("texting:detail", textcampaign_id=campaign.public_id)
    return render(request, "texting/campaign_form.html", {"form": form, "campaign": campaign})


@org_view(Perm.OPERATIONS_CREATE)
def campaign_detail(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    join_url = request.build_absolute_uri(reverse("texting:join", args=[campaign.join_token]))
    members = Membership.objects.filter(organization=request.organization).select_related("user")
    return render(
        request,
        "texting/campaign_detail.html",
        {
            "campaign": campaign,
            "stats": selectors.campaign_stats(campaign=campaign),
            "texters": selectors.texters_of(campaign=campaign),
            "canned": selectors.canned_responses(campaign=campaign),
            "canned_form": CannedForm(),
            "join_url": join_url,
            "members": members,
            "statuses": TextCampaign.Status,
        },
    )


@org_view(Perm.OPERATIONS_CREATE)
def campaign_stats(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    return render(
        request,
        "texting/_stats.html",
        {"campaign": campaign, "stats": selectors.campaign_stats(campaign=campaign)},
    )


@org_view(Perm.OPERATIONS_CREATE)
def campaign_qr(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    url = request.build_absolute_uri(reverse("texting:join", args=[campaign.join_token]))
    return HttpResponse(qr_svg_file(url, scale=5, dark="#1f2330"), content_type="image/svg+xml")


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def campaign_status(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    try:
        services.campaign_set_status(
            campaign=campaign, actor=request.user, status=request.POST.get("status", "")
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request, _("Campaign is now %(status)s.") % {"status": campaign.get_status_display()}
        )
    return redirect("texting:detail", textcampaign_id=campaign.public_id)


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def campaign_load(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    try:
        added = services.campaign_load_contacts(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("%(n)s new contacts added.") % {"n": added})
    return redirect("texting:detail", textcampaign_id=campaign.public_id)


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def canned_add(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    form = CannedForm(request.POST)
    if form.is_valid():
        try:
            services.canned_response_create(
                campaign=campaign, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
    else:
        messages.error(request, _("A canned response needs a title and a text."))
    return redirect(reverse("texting:detail", args=[campaign.public_id]) + "#canned")


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def canned_delete(request: OrgRequest, cannedresponse_id: uuid.UUID) -> HttpResponse:
    _supervisor_or_403(request)
    response = selectors.canned_get(organization=request.organization, canned_id=cannedresponse_id)
    campaign = response.campaign
    services.canned_response_delete(response=response, actor=request.user)
    return redirect(reverse("texting:detail", args=[campaign.public_id]) + "#canned")


def _member(request: OrgRequest, value: str) -> Membership:
    try:
        return Membership.objects.get(organization=request.organization, public_id=uuid.UUID(value))
    except (ValueError, Membership.DoesNotExist):
        raise ValidationError(_("Choose a member of the organization.")) from None


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def campaign_assign(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    try:
        member = _member(request, request.POST.get("member", ""))
        count = int(request.POST.get("count") or 0)
        given = services.assignment_give(
            campaign=campaign, membership=member, count=count, actor=request.user
        )
    except (ValidationError, ValueError) as exc:
        messages.error(
            request, _errors(exc) if isinstance(exc, ValidationError) else _("Enter a number.")
        )
    else:
        messages.success(request, _("%(n)s contacts assigned.") % {"n": given})
    return redirect("texting:detail", textcampaign_id=campaign.public_id)


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def campaign_release(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_admin(request, textcampaign_id)
    member = None
    if request.POST.get("member"):
        try:
            member = _member(request, request.POST["member"])
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("texting:detail", textcampaign_id=campaign.public_id)
    released = services.assignment_release(campaign=campaign, actor=request.user, membership=member)
    messages.success(request, _("%(n)s unsent contacts released.") % {"n": released})
    return redirect("texting:detail", textcampaign_id=campaign.public_id)


# --- joining --------------------------------------------------------------------------------------
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The link / QR code texters use: log in or sign up, then join (as a volunteer if new)."""
    campaign = selectors.campaign_by_token(token=token)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        try:
            services.texter_join(campaign=campaign, user=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("web:home")
        activate_organization(request, campaign.organization)
        return redirect("texting:send", textcampaign_id=campaign.public_id)
    return render(request, "texting/join.html", {"campaign": campaign})


# --- the texter's screens -------------------------------------------------------------------------
@org_view(Perm.AGENT_WORK)
def send_page(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = selectors.campaign_for_member(
        membership=request.membership, campaign_id=textcampaign_id
    )
    return render(request, "texting/send.html", _send_context(request, campaign))


def _send_context(request: OrgRequest, campaign: TextCampaign) -> dict[str, Any]:
    conversation, counts = selectors.send_card(campaign=campaign, membership=request.membership)
    preview = (
        services.first_message_text(conversation=conversation, membership=request.membership)
        if conversation
        else ""
    )
    return {
        "campaign": campaign,
        "conversation": conversation,
        "preview": preview,
        "counts": counts,
        "idempotency_key": uuid.uuid4().hex,
    }


@org_view(Perm.AGENT_WORK)
@require_POST
def request_batch(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    campaign = selectors.campaign_for_member(
        membership=request.membership, campaign_id=textcampaign_id
    )
    try:
        got = services.assignment_request(campaign=campaign, membership=request.membership)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        if got:
            messages.success(request, _("%(n)s contacts are yours to text.") % {"n": got})
        else:
            messages.info(request, _("Everybody on the list has been assigned."))
    return redirect("texting:send", textcampaign_id=campaign.public_id)


@org_view(Perm.AGENT_WORK)
def inbox(request: OrgRequest, textcampaign_id: uuid.UUID) -> HttpResponse:
    simulator_ensure_running()
    campaign = selectors.campaign_for_member(
        membership=request.membership, campaign_id=textcampaign_id
    )
    status = request.GET.get("status", "")
    if status not in Conversation.Status.values:
        status = ""
    return render(
        request,
        "texting/inbox.html",
        {
            "campaign": campaign,
            "conversations": selectors.texter_inbox(
                campaign=campaign, membership=request.membership, status=status
            ),
            "counts": selectors.texter_counts(campaign=campaign, membership=request.membership),
            "status": status,
            "statuses": Conversation.Status.choices,
        },
    )


def _thread_context(request: OrgRequest, conversation: Conversation) -> dict[str, Any]:
    campaign = conversation.campaign
    questions: list[Any] = []
    latest: dict[str, str] = {}
    if campaign.survey_id:
        from mobiliza.surveys.selectors import person_latest_answers, survey_questions

        questions = survey_questions(survey=campaign.survey)  # type: ignore[arg-type]
        latest = {
            a.question.key: a.value_text
            for a in person_latest_answers(
                organization=request.organization, person=conversation.person
            )
            if a.survey_id == campaign.survey_id
        }
    tags = list(conversation.person.tags.values_list("name", flat=True))
    return {
        "conversation": conversation,
        "campaign": campaign,
        "messages_list": selectors.thread(conversation=conversation),
        "canned": selectors.canned_responses(campaign=campaign),
        "questions": questions,
        "latest": latest,
        "tags": tags,
        "idempotency_key": uuid.uuid4().hex,
        "supervisor": services.is_supervisor(request.membership),
        "next_needing": Conversation.objects.filter(
            campaign=campaign,
            assigned_to=request.membership,
            status=Conversation.Status.NEEDS_REPLY,
        )
        .exclude(pk=conversation.pk)
        .order_by("last_inbound_at", "id")
        .first(),
    }


@org_view(Perm.AGENT_WORK)
def conversation_view(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    context = _thread_context(request, conversation)
    if is_htmx(request) and request.GET.get("part") == "messages":
        return render(request, "texting/conversation.html#messages", context)
    return render(request, "texting/conversation.html", context)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_send(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """Send the first message (from the send screen) or a reply / canned response (thread)."""
    first = request.POST.get("first") == "1"
    if request.membership.user_id == request.user.pk:
        request.membership.user = request.user  # the texter's name, without reading it again
    if first and not request.POST.get("canned"):
        return _send_first(request, conversation_id)
    conversation = (
        selectors.conversation_for_send(
            membership=request.membership, conversation_id=conversation_id
        )
        if first
        else selectors.conversation_for_member(
            membership=request.membership, conversation_id=conversation_id
        )
    )
    key = request.POST.get("idempotency_key", "")
    error = ""
    try:
        canned_id = request.POST.get("canned")
        if canned_id:
            canned = selectors.canned_get(organization=request.organization, canned_id=canned_id)
            services.canned_response_apply(
                conversation=conversation,
                membership=request.membership,
                response=canned,
                idempotency_key=key,
            )
        else:
            services.message_send(
                conversation=conversation,
                membership=request.membership,
                idempotency_key=key,
                body=request.POST.get("body"),
                first_message=first,
            )
    except ValidationError as exc:
        error = _errors(exc)
    if first:
        return _after_first(request, conversation, error)
    if error:
        messages.error(request, error)
    conversation.refresh_from_db()
    if is_htmx(request):
        context = _thread_context(request, conversation)
        context["error"] = error
        return render(request, "texting/conversation.html#workspace", context)
    return redirect("texting:conversation", conversation_id=conversation.public_id)


def _send_first(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """The send screen's click: the first message, then the next card (or the page again)."""
    conversation, _message, refused = services.first_message_click(
        membership=request.membership, conversation_id=conversation_id
    )
    return _after_first(request, conversation, _errors(refused) if refused is not None else "")


def _after_first(request: OrgRequest, conversation: Conversation, error: str) -> HttpResponse:
    """After a first-message click: the next card (htmx), else the send page again."""
    campaign = conversation.campaign
    if is_htmx(request):
        context = _send_context(request, campaign)
        context["error"] = error
        context["last_sent"] = conversation
        return render(request, "texting/send.html#card", context)
    if error:
        messages.error(request, error)
    return redirect("texting:send", textcampaign_id=campaign.public_id)


def _thread_redirect(request: OrgRequest, conversation: Conversation) -> HttpResponse:
    if is_htmx(request):
        conversation.refresh_from_db()
        return render(
            request, "texting/conversation.html#workspace", _thread_context(request, conversation)
        )
    return redirect("texting:conversation", conversation_id=conversation.public_id)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_answer(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    key = request.POST.get("question", "")
    values = request.POST.getlist("value")
    value: Any = values if len(values) > 1 else (values[0] if values else "")
    try:
        services.conversation_record_answers(
            conversation=conversation, membership=request.membership, answers={key: value}
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Answer saved."))
    return _thread_redirect(request, conversation)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_tag(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    try:
        services.conversation_tag(
            conversation=conversation,
            membership=request.membership,
            tag_name=request.POST.get("tag", ""),
            remove=request.POST.get("remove") == "1",
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return _thread_redirect(request, conversation)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_opt_out(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    services.conversation_opt_out(conversation=conversation, membership=request.membership)
    messages.success(request, _("Opted out: this number will never be texted again."))
    return _thread_redirect(request, conversation)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_escalate(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    services.conversation_escalate(
        conversation=conversation, membership=request.membership, note=request.POST.get("note", "")
    )
    messages.success(request, _("A supervisor will look at this conversation."))
    return _thread_redirect(request, conversation)


@org_view(Perm.AGENT_WORK)
@require_POST
def conversation_close(request: OrgRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = selectors.conversation_for_member(
        membership=request.membership, conversation_id=conversation_id
    )
    services.conversation_set_closed(
        conversation=conversation,
        membership=request.membership,
        closed=request.POST.get("reopen") != "1",
    )
    return _thread_redirect(request, conversation)


# --- supervision ------------------------------------------------------------------------------------
@org_view(Perm.OPERATIONS_CREATE)
def supervision(request: OrgRequest) -> HttpResponse:
    form = SupervisionFilter(request.GET or None)
    filters: dict[str, str] = {}
    if form.is_valid():
        filters = {k: str(v) for k, v in form.cleaned_data.items() if v}
    if request.method == "POST":
        ids = request.POST.getlist("conversation")
        try:
            target = (
                _member(request, request.POST.get("member", ""))
                if request.POST.get("member")
                else None
            )
            moved = services.conversations_reassign(
                organization=request.organization,
                conversation_ids=[i for i in ids if _is_uuid(i)],
                to_membership=target,
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("%(n)s conversations reassigned.") % {"n": moved})
        return redirect(request.get_full_path())
    qs = selectors.supervision_queryset(organization=request.organization, filters=filters)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "texting/supervision.html",
        {
            "form": form,
            "page": page,
            "campaigns": TextCampaign.objects.filter(organization=request.organization),
            "members": Membership.objects.filter(organization=request.organization).select_related(
                "user"
            ),
            "filters": filters,
            "query": request.GET.urlencode(),
        },
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@org_view(Perm.OPERATIONS_CREATE)
def unmatched(request: OrgRequest) -> HttpResponse:
    qs = selectors.unmatched_messages(
        organization=request.organization, include_handled=request.GET.get("all") == "1"
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "texting/unmatched.html", {"page": page})


@org_view(Perm.OPERATIONS_CREATE)
@require_POST
def unmatched_resolve(request: OrgRequest, message_id: uuid.UUID) -> HttpResponse:
    message = selectors.unmatched_get(organization=request.organization, message_id=message_id)
    services.unmatched_resolve(message=message, actor=request.user)
    return redirect("texting:unmatched")


@org_view(Perm.OPERATIONS_CREATE)
def opt_outs(request: OrgRequest) -> HttpResponse:
    if request.method == "POST":
        from mobiliza.providers.services import normalize_number

        try:
            number = normalize_number(
                request.POST.get("number", ""), region=request.organization.default_country
            )
            services.opt_out_record(
                organization=request.organization,
                phone_e164=number,
                source="admin",
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(
                request, _("%(number)s will never be texted again.") % {"number": number}
            )
        return redirect("texting:opt_outs")
    page = Paginator(selectors.opt_outs(organization=request.organization), 100).get_page(
        request.GET.get("page")
    )
    return render(request, "texting/opt_outs.html", {"page": page})

"""Account pages: thin views over accounts.services and accounts.selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.accounts import selectors, services
from mobiliza.accounts.forms import (
    ApiTokenForm,
    InvitationForm,
    OrganizationCreateForm,
    OrganizationSettingsForm,
    ProfileForm,
    RoleForm,
    SignupForm,
)
from mobiliza.accounts.models import ApiToken, Invitation, Membership, Organization, User
from mobiliza.core.forms import form_add_service_errors
from mobiliza.core.permissions import Perm, Role
from mobiliza.core.tenancy import activate_organization, org_view
from mobiliza.core.types import AuthedRequest, OrgRequest


def _safe_next(request: HttpRequest, default: str = "web:home") -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    from django.urls import reverse

    return reverse(default)


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account. Used by invitation and share links (`?next=`)."""
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
                language=getattr(request, "LANGUAGE_CODE", ""),
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request))
    return render(
        request, "accounts/signup.html", {"form": form, "next": request.GET.get("next", "")}
    )


@login_required
def no_organization(request: AuthedRequest) -> HttpResponse:
    if getattr(request, "membership", None) is not None:
        return redirect("web:home")
    return render(request, "accounts/no_organization.html")


@login_required
def organization_create(request: AuthedRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.organization_create(
            creator=request.user,
            **{
                k: form.cleaned_data[k]
                for k in ("name", "default_country", "default_language", "time_zone")
            },
        )
        activate_organization(request, organization)
        messages.success(request, _("Organization created. You are its admin."))
        return redirect("web:home")
    return render(request, "accounts/organization_create.html", {"form": form})


@login_required
@require_POST
def switch_organization(request: AuthedRequest) -> HttpResponse:
    wanted = request.POST.get("organization", "")
    membership = selectors.membership_for_user(user=request.user, organization_public_id=wanted)
    if membership is None or str(membership.organization.public_id) != wanted:
        messages.error(request, _("You are not a member of that organization."))
        return redirect("web:home")
    activate_organization(request, membership.organization)
    messages.success(
        request, _("You are now working in %(org)s.") % {"org": membership.organization}
    )
    return redirect("web:home")


@org_view(Perm.ORG_SETTINGS)
def organization_settings(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    # The form validates a separate copy: the service must see the values before the change.
    form = OrganizationSettingsForm(
        request.POST or None, instance=Organization.objects.get(pk=organization.pk)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                organization=organization,
                actor=request.user,
                **{k: form.cleaned_data[k] for k in services.ORGANIZATION_SETTINGS_FIELDS},
            )
        except ValidationError as exc:
            organization.refresh_from_db()
            form_add_service_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("accounts:organization_settings")
    return render(request, "accounts/organization_settings.html", {"form": form})


@org_view(Perm.MEMBERS_VIEW)
def members(request: OrgRequest) -> HttpResponse:
    from mobiliza.core.permissions import has_perm

    organization = request.organization
    can_manage = has_perm(request.membership, Perm.MEMBERS_MANAGE)
    form = InvitationForm(request.POST or None)
    invite_url = ""
    if request.method == "POST":
        if not can_manage:
            messages.error(request, _("Only admins can invite people."))
            return redirect("accounts:members")
        if form.is_valid():
            try:
                _invitation, invite_url = services.invitation_create(
                    organization=organization,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]},
                )
                form = InvitationForm()
    return render(
        request,
        "accounts/members.html",
        {
            "members": selectors.organization_members(organization=organization),
            "invitations": selectors.pending_invitations(organization=organization),
            "form": form,
            "role_choices": [(value, str(label)) for value, label in Role.choices],
            "can_manage": can_manage,
            "invite_url": invite_url,
        },
    )


@org_view(Perm.MEMBERS_VIEW)
def member_search(request: OrgRequest) -> HttpResponse:
    """htmx: members matching `q`, for pickers (e.g. adding owners or agents to an operation)."""
    found = selectors.member_search(
        organization=request.organization,
        query=request.GET.get("q", "").strip(),
    )
    return render(request, "accounts/_member_search.html", {"found": found})


def _member(request: OrgRequest, membership_id: str) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization=request.organization,
        public_id=membership_id,
    )


@org_view(Perm.MEMBERS_MANAGE)
@require_POST
def member_role(request: OrgRequest, membership_id: str) -> HttpResponse:
    membership = _member(request, membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set_role(
                membership=membership,
                role=form.cleaned_data["role"],
                actor=request.user,
            )
            messages.success(request, _("Role updated."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("Unknown role."))
    return redirect("accounts:members")


@org_view(Perm.MEMBERS_MANAGE)
@require_POST
def member_remove(request: OrgRequest, membership_id: str) -> HttpResponse:
    membership = _member(request, membership_id)
    try:
        services.membership_remove(membership=membership, actor=request.user)
        messages.success(request, _("Member removed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts:members")


@org_view(Perm.MEMBERS_MANAGE)
@require_POST
def invitation_revoke(request: OrgRequest, invitation_id: str) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation,
        organization=request.organization,
        public_id=invitation_id,
    )
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, _("Invitation revoked."))
    return redirect("accounts:members")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_by_token(raw_token=token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    if request.method == "POST" and request.user.is_authenticated:
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("web:home")
        activate_organization(request, membership.organization)
        messages.success(request, _("Welcome to %(org)s!") % {"org": membership.organization.name})
        return redirect("web:home")
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation})


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    user: User = request.user
    membership = getattr(request, "membership", None)
    profile_form = ProfileForm(
        request.POST if request.POST.get("form") == "profile" else None,
        initial={"full_name": user.full_name, "language": user.language, "phone": user.phone},
    )
    token_form = ApiTokenForm(request.POST if request.POST.get("form") == "token" else None)
    new_token = ""
    if request.method == "POST":
        if request.POST.get("form") == "profile" and profile_form.is_valid():
            services.user_update_profile(user=user, **profile_form.cleaned_data)
            if user.language:  # speak the newly chosen language from this message on
                translation.activate(user.language)
            messages.success(request, _("Profile saved."))
            return redirect("accounts:profile")
        if request.POST.get("form") == "token" and token_form.is_valid() and membership:
            _token, new_token = services.api_token_create(
                membership=membership, name=token_form.cleaned_data["name"]
            )
            token_form = ApiTokenForm()
    return render(
        request,
        "accounts/profile.html",
        {
            "profile_form": profile_form,
            "token_form": token_form,
            "tokens": selectors.api_tokens_for_user(user=user),
            "new_token": new_token,
        },
    )


@login_required
@require_POST
def api_token_revoke(request: AuthedRequest, apitoken_id: str) -> HttpResponse:
    token = get_object_or_404(
        ApiToken.objects.select_related("membership__organization"),
        membership__user=request.user,
        membership__organization=request.organization,
        public_id=apitoken_id,
        revoked_at__isnull=True,
    )
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, _("Token revoked."))
    return redirect("accounts:profile")

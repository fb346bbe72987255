"""Provider settings: accounts (credentials stored encrypted), sender numbers, test connection."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.providers import selectors, services
from mobiliza.providers.base import WebhookKind
from mobiliza.providers.forms import AccountForm, NumberForm
from mobiliza.providers.models import ProviderAccount


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@org_view(Perm.PROVIDERS_MANAGE)
def settings_page(request: OrgRequest) -> HttpResponse:
    accounts = list(selectors.provider_accounts(organization=request.organization))
    rows = [
        {
            "account": a,
            "status_url": services.webhook_url(account=a, kind=WebhookKind.MESSAGE_STATUS),
            "inbound_url": services.webhook_url(account=a, kind=WebhookKind.MESSAGE_INBOUND),
        }
        for a in accounts
    ]
    return render(
        request,
        "providers/settings.html",
        {
            "rows": rows,
            "form": AccountForm(initial={"kind": "twilio"}),
            "number_form": NumberForm(),
            "problems": selectors.webhook_problems(organization=request.organization, limit=20),
        },
    )


@org_view(Perm.PROVIDERS_MANAGE)
@require_POST
def account_create(request: OrgRequest) -> HttpResponse:
    form = AccountForm(request.POST)
    if form.is_valid():
        try:
            account = services.provider_account_create(
                organization=request.organization,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
                account_sid=form.cleaned_data["account_sid"],
                auth_token=form.cleaned_data["auth_token"],
                messaging_service_sid=form.cleaned_data["messaging_service_sid"],
                make_default=form.cleaned_data["make_default"],
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Provider account “%(name)s” added.") % {"name": account})
    else:
        messages.error(request, _("Please correct the form."))
    return redirect("provider_settings:index")


@org_view(Perm.PROVIDERS_MANAGE)
def account_edit(request: OrgRequest, provideraccount_id: str) -> HttpResponse:
    account = selectors.provider_account_get(
        organization=request.organization, public_id=provideraccount_id
    )
    form = AccountForm(
        request.POST or None,
        initial={
            "kind": account.kind,
            "name": account.name,
            "account_sid": account.account_sid,
            "messaging_service_sid": account.messaging_service_sid,
            "make_default": account.is_default,
        },
    )
    form.fields["kind"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            services.provider_account_update(
                account=account,
                actor=request.user,
                name=form.cleaned_data["name"],
                account_sid=form.cleaned_data["account_sid"],
                auth_token=form.cleaned_data["auth_token"],
                messaging_service_sid=form.cleaned_data["messaging_service_sid"],
                make_default=form.cleaned_data["make_default"],
            )
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("provider_settings:index")
    return render(request, "providers/account_edit.html", {"account": account, "form": form})


@org_view(Perm.PROVIDERS_MANAGE)
@require_POST
def account_test(request: OrgRequest, provideraccount_id: str) -> HttpResponse:
    account = selectors.provider_account_get(
        organization=request.organization, public_id=provideraccount_id
    )
    result = services.provider_account_check(account=account)
    if result.ok:
        messages.success(request, _("Connection works: %(message)s") % {"message": result.message})
    else:
        messages.error(request, _("Connection failed: %(message)s") % {"message": result.message})
    return redirect("provider_settings:index")


@org_view(Perm.PROVIDERS_MANAGE)
@require_POST
def number_add(request: OrgRequest, provideraccount_id: str) -> HttpResponse:
    account: ProviderAccount = selectors.provider_account_get(
        organization=request.organization, public_id=provideraccount_id
    )
    form = NumberForm(request.POST)
    if form.is_valid():
        try:
            services.sender_number_add(
                account=account,
                actor=request.user,
                number=form.cleaned_data["number"],
                label=form.cleaned_data["label"],
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Number added."))
    else:
        messages.error(request, _("Enter a phone number."))
    return redirect("provider_settings:index")


@org_view(Perm.PROVIDERS_MANAGE)
@require_POST
def number_toggle(request: OrgRequest, sendernumber_id: str) -> HttpResponse:
    sender = selectors.sender_number_get(
        organization=request.organization, public_id=sendernumber_id
    )
    services.sender_number_set_active(
        sender=sender, actor=request.user, active=not sender.is_active
    )
    return redirect("provider_settings:index")

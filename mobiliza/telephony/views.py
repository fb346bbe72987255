"""Pages: the agent's calling phone (verification by code) and the organization's voice rate."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.telephony import selectors, services


def _next(request: OrgRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


@org_view(Perm.AGENT_WORK)
def phone(request: OrgRequest) -> HttpResponse:
    membership = request.membership
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "verify":
                services.agent_phone_verify(
                    membership=membership, code=request.POST.get("code", "")
                )
                messages.success(request, _("Your phone is verified: calls will ring it."))
                back = _next(request)
                return redirect(back) if back else redirect("telephony:phone")
            services.agent_phone_start(membership=membership, number=request.POST.get("number", ""))
            messages.info(request, _("We sent a code to your phone."))
            return redirect(request.get_full_path())
        except ValidationError as exc:
            error = " ".join(exc.messages)
    current = selectors.agent_phone_for(membership=membership)
    return render(
        request,
        "telephony/phone.html",
        {
            "phone": current,
            "prefill": current.e164 if current else (request.user.phone or ""),
            "error": error,
            "next": _next(request),
        },
    )


@org_view(Perm.PROVIDERS_MANAGE)
def settings_page(request: OrgRequest) -> HttpResponse:
    organization = request.organization
    error = ""
    if request.method == "POST":
        try:
            services.voice_settings_update(
                organization=organization,
                actor=request.user,
                rate_per_minute=request.POST.get("rate_per_minute", ""),
                currency=request.POST.get("currency", ""),
                use_provider_price=bool(request.POST.get("use_provider_price")),
            )
            messages.success(request, _("Voice settings saved."))
            return redirect("telephony:settings")
        except ValidationError as exc:
            error = " ".join(exc.messages)
    from mobiliza.providers.services import default_account

    account = default_account(organization=organization)
    return render(
        request,
        "telephony/settings.html",
        {
            "voice": services.voice_settings_get(organization=organization),
            "account": account,
            "status_url": services.call_status_url(account=account),
            "error": error,
        },
    )

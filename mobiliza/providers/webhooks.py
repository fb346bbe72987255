"""Webhook endpoints. Every request is signature-checked before anything is stored.

A forged, unsigned or wrongly addressed request gets 403 and changes nothing. A verified one is
stored raw (deduplicated by provider id and status), then processed once.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mobiliza.providers.base import WebhookKind
from mobiliza.providers.models import ProviderAccount
from mobiliza.providers.services import (
    provider_for,
    webhook_base_url,
    webhook_event_dispatch,
    webhook_store,
)

logger = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def receive_webhook(
    request: HttpRequest, token: str, kind: str, *, reply: str = ""
) -> HttpResponse:
    """Verify, store raw, dispatch. `reply` (TwiML) answers instead of the default response."""
    account = (
        ProviderAccount.objects.select_related("organization").filter(webhook_token=token).first()
    )
    if account is None:
        raise Http404
    params = {key: request.POST.get(key, "") for key in request.POST}
    signature = request.headers.get("X-Twilio-Signature", "")
    provider = provider_for(account)
    # The URL the provider was given (public base) or the one this server sees (proxy headers).
    urls = {webhook_base_url() + request.get_full_path(), request.build_absolute_uri()}
    if not signature or not any(
        provider.validate_webhook(url=url, params=request.POST, signature=signature) for url in urls
    ):
        logger.warning("webhook signature rejected", extra={"path": request.path})
        return HttpResponse("Invalid signature", status=403, content_type="text/plain")
    event, created = webhook_store(account=account, kind=kind, params=params)
    if event is None:
        return HttpResponse("Missing message id", status=400, content_type="text/plain")
    if created:
        webhook_event_dispatch(event=event)
    if reply:
        return HttpResponse(reply, content_type="text/xml")
    if kind == WebhookKind.MESSAGE_INBOUND:
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest, token: str) -> HttpResponse:
    return receive_webhook(request, token, WebhookKind.MESSAGE_STATUS)


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest, token: str) -> HttpResponse:
    return receive_webhook(request, token, WebhookKind.MESSAGE_INBOUND)

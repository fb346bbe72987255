"""Webhook endpoints. Every request is signature-checked before anything is stored.

A forged, unsigned or wrongly addressed request gets 403 and changes nothing. A verified one is
stored raw (deduplicated by provider id and status, one statement), then processed once.

Hot path (issue 7: ≥ 500 inbound messages/s): the account and its provider (with the decrypted
token) are cached per process by webhook token for `ACCOUNT_CACHE_SECONDS`, dropped when the
account is saved or deleted in this process; a signature that fails against a cached account is
checked again against a fresh read (an auth token rotated in another process), so a stale cache
can cost one query, never accept a request the stored token refuses. `WebhookFastPathMiddleware`
(providers/middleware.py) lets these URLs skip sessions, auth, CSRF, messages and the other
page middleware, which they do not use.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mobiliza.providers.base import MessagingProvider, WebhookKind
from mobiliza.providers.models import ProviderAccount
from mobiliza.providers.services import (
    account_cache_forget,
    provider_for,
    webhook_base_url,
    webhook_event_dispatch_id,
    webhook_store_row,
)

logger = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
ACCOUNT_CACHE_SECONDS = 30.0

_cache_lock = threading.Lock()
_accounts: dict[str, tuple[float, ProviderAccount, MessagingProvider]] = {}


def _load_account(token: str) -> tuple[ProviderAccount, MessagingProvider] | None:
    account = (
        ProviderAccount.objects.select_related("organization").filter(webhook_token=token).first()
    )
    if account is None:
        _accounts.pop(token, None)
        return None
    provider = provider_for(account)
    with _cache_lock:
        _accounts[token] = (time.monotonic() + ACCOUNT_CACHE_SECONDS, account, provider)
    return account, provider


def account_for_token(token: str) -> tuple[ProviderAccount, MessagingProvider, bool] | None:
    """(account, provider, from cache) for a webhook URL's token (cached per process)."""
    cached = _accounts.get(token)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1], cached[2], True
    found = _load_account(token)
    return None if found is None else (*found, False)


def account_cache_clear(*, token: str | None = None) -> None:
    with _cache_lock:
        if token is None:
            _accounts.clear()
        else:
            _accounts.pop(token, None)


def _on_account_change(sender: Any, instance: ProviderAccount, **kwargs: Any) -> None:
    account_cache_clear(token=instance.webhook_token)
    account_cache_forget(instance.pk)


def connect_cache_signals() -> None:
    """Called by ProvidersConfig.ready(): a saved or deleted account leaves the caches."""
    post_save.connect(_on_account_change, sender=ProviderAccount, dispatch_uid="account-cache")
    post_delete.connect(
        _on_account_change, sender=ProviderAccount, dispatch_uid="account-cache-del"
    )


# Which URL signed the last valid request (0: public base, 1: as this server sees it): tried first
# next time, so a valid request costs one signature check.
_first_url = [0]


def _signature_ok(provider: MessagingProvider, request: HttpRequest, signature: str) -> bool:
    # The URL the provider was given (public base) or the one this server sees (proxy headers).
    path = request.get_full_path()
    candidates = [webhook_base_url() + path, request.build_absolute_uri(path)]
    order = (1, 0) if _first_url[0] else (0, 1)
    for index in order:
        if index == 1 and candidates[1] == candidates[0]:
            continue
        if provider.validate_webhook(
            url=candidates[index], params=request.POST, signature=signature
        ):
            _first_url[0] = index
            return True
    return False


def receive_webhook(
    request: HttpRequest, token: str, kind: str, *, reply: str = ""
) -> HttpResponse:
    """Verify, store raw, dispatch. `reply` (TwiML) answers instead of the default response."""
    found = account_for_token(token)
    if found is None:
        raise Http404
    account, provider, cached = found
    signature = request.headers.get("X-Twilio-Signature", "")
    verified = bool(signature) and _signature_ok(provider, request, signature)
    if signature and not verified and cached:
        # Maybe the cached token is stale (rotated in another process): read it again.
        fresh = _load_account(token)
        if fresh is None:
            raise Http404
        account, provider = fresh
        verified = _signature_ok(provider, request, signature)
    if not verified:
        logger.warning("webhook signature rejected", extra={"path": request.path})
        return HttpResponse("Invalid signature", status=403, content_type="text/plain")
    params = {key: request.POST.get(key, "") for key in request.POST}
    event_id, created = webhook_store_row(
        account=account, kind=kind, params=params, provider=provider
    )
    if event_id is None:
        return HttpResponse("Missing message id", status=400, content_type="text/plain")
    if created:
        webhook_event_dispatch_id(event_id=event_id)
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

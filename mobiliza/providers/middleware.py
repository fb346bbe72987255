"""A short way through the middleware for provider webhooks.

Webhook requests carry no cookies and use no session, user, CSRF token, messages, htmx or
organization: running that middleware for them only costs time (issue 7 asks for ≥ 500 inbound
messages/s on two cores). Placed after the security, static-file and request-log middleware, this
one calls the view directly for paths under `FAST_PATHS`; every other request goes on through the
whole stack. The views still check the provider's signature themselves, and are CSRF-exempt and
POST-only by their own decorators.

Two more savings for these requests only:
* the path is resolved against the providers' own URLconf (mounted at /webhooks/ in
  config/urls.py), not walked through every app's patterns; an unknown path falls back to the
  full resolver (and its 404);
* the database connection's per-request health check (`SELECT 1`, CONN_HEALTH_CHECKS) is
  skipped: if the connection died, the store fails, the request answers 500, the provider
  retries it and Django replaces the broken connection at the end of the request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, get_resolver, resolve
from django.utils import translation

# path prefix → (where that URLconf is mounted, the URLconf)
FAST_PATHS: dict[str, tuple[str, str]] = {
    "/webhooks/sms/": ("/webhooks", "mobiliza.providers.urls"),
    "/webhooks/voice/": ("/webhooks/voice", "mobiliza.telephony.webhook_urls"),
}
_PREFIXES = tuple(FAST_PATHS)


def _resolve(path: str) -> ResolverMatch:
    for prefix, (mount, urlconf) in FAST_PATHS.items():
        if path.startswith(prefix):
            try:
                return get_resolver(urlconf).resolve(path[len(mount) :])
            except Resolver404:
                break
    return resolve(path)


class WebhookFastPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(_PREFIXES):
            return self.get_response(request)
        # No LocaleMiddleware here: answer in the site's language, whatever a previous request
        # on this thread activated.
        translation.activate(settings.LANGUAGE_CODE)
        connection.health_check_done = True  # type: ignore[attr-defined]
        match = _resolve(request.path_info)
        request.resolver_match = match
        response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        return response

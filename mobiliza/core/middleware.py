"""A short way through the middleware for JSON API calls authenticated by a bearer token.

An API client with a personal token (the agents' calling screen in the load test, an
integration) sends `Authorization: Bearer …` and no cookies. For such a request the session,
CSRF, authentication, user-language, organization, messages, htmx and axes middleware have
nothing to do: the token is checked by the API itself (`core.api.BearerTokenAuth`, which sets
`request.user`, `request.membership` and `request.organization`), CSRF protects cookie sessions
only, and the user's session does not exist. Running them still costs CPU on every call (issue 5
asks for 400 API requests/s on two cores).

Placed after the security, static-file, request-log and webhook middleware, this one calls the
API view directly when the request

* is under `/api/v1/`,
* carries `Authorization: Bearer <something>`, and
* carries no `Cookie` header (a browser with a session keeps the whole stack: if its token were
  refused, the API falls back to the session login, which needs the session, CSRF and
  organization middleware).

What the skipped middleware would still give such a request is done here: the language is
chosen from `Accept-Language` as LocaleMiddleware does (error messages are translated) and the
response says so (`Content-Language`, `Vary: Accept-Language`); `request.user` starts anonymous
(as AuthenticationMiddleware leaves it without a session); the response gets its
`Content-Length` (CommonMiddleware) and `X-Frame-Options` (clickjacking middleware). A path that
does not resolve goes through the whole stack (CommonMiddleware's slash redirect, the 404 page).
The database connection's health check stays on (the fast handlers below do it with their first
read, `core.sql.first_read`).

A few endpoints that clients call in a loop have a plain handler (`FAST_HANDLERS`, e.g.
`calling.fastpath`: an agent's claim and result) that answers before URL resolution and ninja; it
answers exactly as the ninja operation would, or returns None to let the operation answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/v1/"
# Modules with a `HANDLERS` list of (method, compiled path pattern, handler(request, match)).
FAST_HANDLERS = ("mobiliza.calling.fastpath",)
FastHandler = Callable[[HttpRequest, "re.Match[str]"], HttpResponse | None]


def fast_handlers() -> list[tuple[str, re.Pattern[str], FastHandler]]:
    found: list[tuple[str, re.Pattern[str], FastHandler]] = []
    for name in FAST_HANDLERS:
        found.extend(import_module(name).HANDLERS)
    return found


def is_bearer_api_call(request: HttpRequest) -> bool:
    """True for an API request that authenticates with a bearer token and has no cookies."""
    meta = request.META
    return (
        request.path_info.startswith(API_PREFIX)
        and meta.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
        and not meta.get("HTTP_COOKIE")
    )


class BearerApiFastPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.handlers = fast_handlers()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_bearer_api_call(request):
            return self.get_response(request)
        path = request.path_info
        handler: FastHandler | None = None
        found: re.Match[str] | None = None
        for method, pattern, candidate in self.handlers:
            if request.method == method:
                found = pattern.match(path)
                if found is not None:
                    handler = candidate
                    break
        match = None
        if handler is None:
            try:
                match = resolve(path)
            except Resolver404:
                return self.get_response(request)
        language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        request.user = AnonymousUser()
        request.membership = None  # type: ignore[attr-defined]
        request.organization = None  # type: ignore[attr-defined]
        response: HttpResponse | None = None
        if handler is not None and found is not None:
            response = handler(request, found)
            if response is None:
                match = resolve(path)
        if response is None:
            assert match is not None
            request.resolver_match = match
            response = match.func(request, *match.args, **match.kwargs)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", language)
        if not response.streaming and "Content-Length" not in response:
            response.headers["Content-Length"] = str(len(response.content))
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response

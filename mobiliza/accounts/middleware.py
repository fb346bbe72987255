from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from mobiliza.accounts.request_auth import preload


class UserLanguageMiddleware:
    """Use the logged-in user's chosen language (after LocaleMiddleware's browser guess).

    The first of our middleware to read `request.user`: it has the session, the user and the
    active membership read in one statement first (`accounts.request_auth`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        preload(request)
        user = request.user
        language = getattr(user, "language", "") if user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers.setdefault("Content-Language", language)
        return response

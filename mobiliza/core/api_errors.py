"""The API's refusals in the caller's language.

ninja words a few refusals itself, in English. These handlers answer with the same status and
body shape (`{"detail": ...}`) but the words translated; any other HttpError keeps its message
(ours are translated where they are raised). The bearer fast path (`calling.fastpath`) answers
through `api.on_exception`, so it uses these too. (Here rather than in `config/api.py` so that
`makemessages`, run over `mobiliza/`, finds the strings.)
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled

_PARSE_ERROR = "Cannot parse request body"  # ninja.params.models, + " (<parser error>)" in DEBUG
_CSRF_ERROR = "CSRF check Failed"  # ninja.security.apikey: a session call without the CSRF token


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the translated refusals on `api`."""

    def _detail(request: HttpRequest, status: int, detail: str) -> HttpResponse:
        return api.create_response(request, {"detail": detail}, status=status)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        detail = str(exc)
        if exc.status_code == 400 and detail.startswith(_PARSE_ERROR):
            detail = _("Cannot parse request body") + detail[len(_PARSE_ERROR) :]
        elif exc.status_code == 403 and detail == _CSRF_ERROR:
            detail = _("CSRF check Failed")
        return _detail(request, exc.status_code, detail)

    @api.exception_handler(AuthenticationError)
    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = _("Unauthorized") if exc.message == "Unauthorized" else str(exc)
        return _detail(request, exc.status_code, detail)

    @api.exception_handler(AuthorizationError)
    def authorization_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        detail = _("Forbidden") if exc.message == "Forbidden" else str(exc)
        return _detail(request, exc.status_code, detail)

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        # ninja sets Retry-After on the response this returns.
        return _detail(request, exc.status_code, _("Too many requests."))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        detail = _("Not Found")
        if settings.DEBUG:
            detail += f": {exc}"
        return _detail(request, 404, detail)

"""The JSON API: /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

Each app contributes a `router` from its `api.py`; all endpoints require a session or a bearer
token unless they say otherwise.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled

from mobiliza.accounts.api import router as accounts_router
from mobiliza.calling.api import router as calling_router
from mobiliza.core.api import AUTH
from mobiliza.people.api import router as people_router
from mobiliza.people.imports.api import router as imports_router
from mobiliza.surveys.api import router as surveys_router
from mobiliza.telephony.api import router as telephony_router
from mobiliza.texting.api import router as texting_router

api = NinjaAPI(
    title="Mobiliza API",
    version="1",
    description="Campaign headquarters: people, segments, surveys, call operations, texting.",
    urls_namespace="api",
    auth=AUTH,
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", accounts_router)
api.add_router("/", people_router)
api.add_router("/", imports_router)
api.add_router("/", surveys_router)
api.add_router("/", calling_router)
api.add_router("/", texting_router)
api.add_router("/", telephony_router)


# --- errors in the caller's language ---------------------------------------------------------------
# ninja words a few refusals itself, in English. These handlers answer with the same status and
# body shape (`{"detail": ...}`) but the words translated; any other HttpError keeps its message
# (ours are translated where they are raised). The bearer fast path (`calling.fastpath`) answers
# through `api.on_exception`, so it uses these too.
_PARSE_ERROR = "Cannot parse request body"  # ninja.params.models, + " (<parser error>)" in DEBUG


def _detail(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == 400 and detail.startswith(_PARSE_ERROR):
        detail = _("Cannot parse request body") + detail[len(_PARSE_ERROR) :]
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

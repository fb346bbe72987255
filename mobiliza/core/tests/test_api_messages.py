"""The JSON API answers its refusals in the caller's language (Accept-Language): our own messages
and the ones ninja words itself (a body that doesn't parse, no or a refused credential, a 404),
with the same status and body shape (`{"detail": ...}`) as ninja's defaults. The expected words
are the catalogue's (`gettext` under the language), so these tests hold before and after the
French and Portuguese are filled in; in English they are the exact English text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.http import Http404
from django.test import Client, RequestFactory
from django.utils import translation
from django.utils.translation import gettext
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled

from config.api import api
from mobiliza.accounts.services import api_token_create
from mobiliza.calling.tests.factories import make_agent, make_operation

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "fr"]


def _in(language: str, english: str) -> str:
    with translation.override(language):
        return gettext(english)


def _client(membership: Any = None, language: str = "en") -> Client:
    headers = {"Accept-Language": language}
    if membership is not None:
        headers["Authorization"] = f"Bearer {api_token_create(membership=membership, name='t')[1]}"
    return Client(headers=headers)


def _refused(response: Any, status: int, language: str, english: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": _in(language, english)}
    if language == "en":
        assert response.json() == {"detail": english}
    assert response["Content-Language"] == language


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_body_that_is_not_json(admin_member: Any, language: str) -> None:
    response = _client(admin_member, language).post(
        "/api/v1/tags", data=b"{not json", content_type="application/json"
    )
    _refused(response, 400, language, "Cannot parse request body")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_session_call_without_its_csrf_token(admin_member: Any, language: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": language})
    client.force_login(admin_member.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post("/api/v1/tags", data={"name": "x"}, content_type="application/json")
    _refused(response, 403, language, "CSRF check Failed")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("token", ["none", "unknown"])
def test_no_or_a_refused_credential(db: None, language: str, token: str) -> None:
    client = _client(language=language)
    headers = {"Authorization": "Bearer mbz_" + "x" * 40} if token == "unknown" else {}
    _refused(client.get("/api/v1/people", headers=headers), 401, language, "Unauthorized")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_role_without_the_permission(volunteer_member: Any, language: str) -> None:
    response = _client(volunteer_member, language).get("/api/v1/people")
    assert response.status_code == 403
    with translation.override(language):
        expected = gettext("Your role does not allow this (%(perm)s).") % {"perm": "people.view"}
    assert response.json() == {"detail": expected}
    if language == "en":
        assert expected == "Your role does not allow this (people.view)."


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_id_is_not_found(admin_member: Any, language: str) -> None:
    response = _client(admin_member, language).get(f"/api/v1/people/{uuid.uuid4()}")
    _refused(response, 404, language, "Not Found")


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_import_mapping_that_is_not_json(admin_member: Any, language: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", b"a,b\n1,2\n", content_type="text/csv")
    response = _client(admin_member, language).post(
        "/api/v1/imports", data={"file": upload, "mapping": "{nope"}
    )
    assert response.status_code == 422
    with translation.override(language):
        expected = gettext("“%(name)s” is not valid JSON.") % {"name": "mapping"}
    assert response.json() == {"detail": expected}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("language", ["en", "fr", "pt"])
def test_a_result_for_someone_else_s_person_both_paths(
    org: Any, settings: Any, language: str, fast: bool
) -> None:
    """The agent's result is served by `calling.fastpath` or by ninja: the same words."""
    if not fast:
        fast_mw = "mobiliza.core.middleware.BearerApiFastPathMiddleware"
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != fast_mw]
    op = make_operation(org, people=2)
    claimed = _client(make_agent(op)).post(
        f"/api/v1/call-operations/{op.public_id}/claim", content_type="application/json"
    )
    target_id = claimed.json()["target"]["id"]
    response = _client(make_agent(op), language).post(
        f"/api/v1/call-targets/{target_id}/result",
        data={"status": "completed", "idempotency_key": uuid.uuid4().hex},
        content_type="application/json",
    )
    assert (getattr(response.wsgi_request, "resolver_match", None) is None) is fast
    _refused(response, 409, language, "This person is no longer assigned to you.")
    if language != "en":  # this one is in the shipped catalogues
        assert response.json()["detail"] != "This person is no longer assigned to you."


# --- the handlers themselves (for refusals no endpoint of ours triggers today) -------------------
def _handled(exc: Exception, language: str) -> Any:
    request = RequestFactory().get("/api/v1/people")
    with translation.override(language):
        return api.on_exception(request, exc)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("exc", "status", "english"),
    [
        (AuthenticationError(), 401, "Unauthorized"),
        (AuthorizationError(), 403, "Forbidden"),
        (Throttled(wait=3), 429, "Too many requests."),
        (Http404(), 404, "Not Found"),
        (HttpError(400, "Cannot parse request body"), 400, "Cannot parse request body"),
    ],
)
def test_ninja_s_own_words_are_translated(
    db: None, exc: Exception, status: int, english: str, language: str
) -> None:
    import json

    response = _handled(exc, language)
    assert response.status_code == status
    assert json.loads(response.content) == {"detail": _in(language, english)}


def test_other_messages_are_answered_as_ninja_does(db: None) -> None:
    import json

    for exc in [
        HttpError(418, "Already translated where raised."),
        AuthenticationError(message="Token expired."),
        AuthorizationError(message="Not yours."),
        HttpError(422, "Cannot parse request body, said a service"),  # not ninja's 400
    ]:
        response = _handled(exc, "fr")
        assert response.status_code == exc.status_code
        assert json.loads(response.content) == {"detail": str(exc)}


def test_the_parser_s_reason_stays_appended_in_debug(db: None) -> None:
    import json

    exc = HttpError(400, "Cannot parse request body (Expecting value: line 1 column 1)")
    response = _handled(exc, "fr")
    expected = _in("fr", "Cannot parse request body") + " (Expecting value: line 1 column 1)"
    assert json.loads(response.content) == {"detail": expected}

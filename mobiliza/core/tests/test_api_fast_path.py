"""The bearer-token API fast path (core/middleware.py): same answers as the whole middleware
stack, without the session/CSRF/organization middleware."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from conftest import client_for

FAST = "mobiliza.core.middleware.BearerApiFastPathMiddleware"
WITHOUT_FAST_PATH = [m for m in settings.MIDDLEWARE if m != FAST]


@pytest.fixture
def raw_token(admin_member: Any) -> str:
    from mobiliza.accounts.services import api_token_create

    _token, raw = api_token_create(membership=admin_member, name="fast path")
    return raw


def _same(a: Any, b: Any) -> None:
    """Same status, body and content type (a new `Client` is needed to see other MIDDLEWARE)."""
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a["Content-Type"] == b["Content-Type"]


def test_the_fast_path_is_installed_after_the_request_log() -> None:
    order = settings.MIDDLEWARE
    assert order.index(FAST) > order.index("mobiliza.core.logging.RequestLogMiddleware")
    assert order.index(FAST) < order.index("django.contrib.sessions.middleware.SessionMiddleware")


@pytest.mark.django_db
def test_a_token_call_skips_the_session_and_answers_like_the_full_stack(
    raw_token: str, admin_member: Any
) -> None:
    api = Client(headers={"Authorization": f"Bearer {raw_token}"})
    fast = api.get("/api/v1/me")
    assert fast.status_code == 200
    assert fast.json()["email"] == admin_member.user.email
    assert not hasattr(fast.wsgi_request, "session")  # the session middleware did not run
    assert fast["Content-Length"] == str(len(fast.content))
    assert fast["X-Frame-Options"] == "DENY"
    assert fast["X-Request-Id"]  # the request log still ran
    with override_settings(MIDDLEWARE=WITHOUT_FAST_PATH):
        full = Client(headers={"Authorization": f"Bearer {raw_token}"}).get("/api/v1/me")
    assert hasattr(full.wsgi_request, "session")
    _same(fast, full)


@pytest.mark.django_db
def test_writes_with_a_token_need_no_csrf_token(raw_token: str) -> None:
    api = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw_token}"})
    response = api.patch(
        "/api/v1/organization", {"name": "Renamed"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer mbz_not-a-real-token", "Bearer ", "Bearer x y"])
def test_a_refused_token_gets_the_same_answer_as_through_the_full_stack(header: str) -> None:
    api = Client(enforce_csrf_checks=True, headers={"Authorization": header})
    fast = api.get("/api/v1/me")
    assert fast.status_code == 401
    fast_write = api.patch("/api/v1/organization", {"name": "x"}, content_type="application/json")
    with override_settings(MIDDLEWARE=WITHOUT_FAST_PATH):
        api = Client(enforce_csrf_checks=True, headers={"Authorization": header})
        full = api.get("/api/v1/me")
        full_write = api.patch(
            "/api/v1/organization", {"name": "x"}, content_type="application/json"
        )
    assert not hasattr(fast.wsgi_request, "session")
    assert hasattr(full.wsgi_request, "session")
    _same(fast, full)
    _same(fast_write, full_write)


@pytest.mark.django_db
def test_a_browser_session_keeps_the_whole_stack_and_its_csrf_check(admin_member: Any) -> None:
    client = client_for(admin_member)
    client.handler.enforce_csrf_checks = True
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer mbz_refused-token"
    # The token is refused; the session login answers instead (it needs the session middleware).
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    # and a session write without the CSRF token is still refused
    response = client.patch("/api/v1/organization", {"name": "x"}, content_type="application/json")
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_the_language_comes_from_accept_language(raw_token: str) -> None:
    api = Client(headers={"Authorization": f"Bearer {raw_token}", "Accept-Language": "fr"})
    response = api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.wsgi_request.LANGUAGE_CODE == "fr"
    assert response["Content-Language"] == "fr"
    assert "Accept-Language" in response["Vary"]
    english = Client(headers={"Authorization": f"Bearer {raw_token}"}).get("/api/v1/me")
    assert english["Content-Language"] == settings.LANGUAGE_CODE


@pytest.mark.django_db
def test_an_unknown_api_path_goes_through_the_whole_stack(raw_token: str) -> None:
    api = Client(headers={"Authorization": f"Bearer {raw_token}"})
    fast = api.get("/api/v1/no-such-endpoint")
    with override_settings(MIDDLEWARE=WITHOUT_FAST_PATH):
        full = Client(headers={"Authorization": f"Bearer {raw_token}"}).get(
            "/api/v1/no-such-endpoint"
        )
    assert fast.status_code == full.status_code == 404
    assert hasattr(fast.wsgi_request, "session")


@pytest.mark.django_db
def test_pages_are_not_on_the_fast_path(raw_token: str) -> None:
    response = Client(headers={"Authorization": f"Bearer {raw_token}"}).get("/healthz")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")

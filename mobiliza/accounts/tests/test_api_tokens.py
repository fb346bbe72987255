from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from conftest import client_for
from mobiliza.accounts.models import ApiToken


@pytest.mark.django_db
def test_token_created_on_profile_is_shown_once_and_works(admin_member: Any) -> None:
    client = client_for(admin_member)
    page = client.post("/accounts/profile/", {"form": "token", "name": "Phone app"})
    body = page.content.decode()
    raw = body.split('data-testid="new-token">', 1)[1].split("<", 1)[0]
    assert raw.startswith("mbz_")
    token = ApiToken.objects.get(name="Phone app")
    assert raw not in (token.token_hash, token.prefix)
    assert raw not in client.get("/accounts/profile/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    me = api.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == admin_member.user.email
    token.refresh_from_db()
    assert token.last_used_at is not None
    client.post(f"/accounts/profile/tokens/{token.public_id}/revoke/")
    assert api.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_garbage_tokens_are_refused() -> None:
    for header in ("Bearer nope", "Bearer mbz_forged", "Basic abc", "Bearer "):
        assert Client(headers={"Authorization": header}).get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_cli_creates_a_token_printed_once(admin_member: Any) -> None:
    out = io.StringIO()
    call_command(
        "create_api_token",
        "--email",
        admin_member.user.email.upper(),
        "--org",
        admin_member.organization.slug,
        stdout=out,
    )
    raw = out.getvalue().strip()
    assert raw.startswith("mbz_")
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/organization")
    assert response.json()["slug"] == admin_member.organization.slug


@pytest.mark.django_db
def test_cli_refuses_a_non_member(admin_member: Any, other_org: Any) -> None:
    with pytest.raises(CommandError, match="not a member"):
        call_command(
            "create_api_token", "--email", admin_member.user.email, "--org", other_org.slug
        )


@pytest.mark.django_db
def test_token_of_a_removed_member_stops_working(
    org: Any, admin_member: Any, volunteer_member: Any
) -> None:
    from mobiliza.accounts.services import api_token_create

    _t, raw = api_token_create(membership=volunteer_member, name="t")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/me").status_code == 200
    client_for(admin_member).post(f"/accounts/members/{volunteer_member.public_id}/remove/")
    assert api.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_api_validation_errors_are_clear(admin_api: Client) -> None:
    response = admin_api.patch(
        "/api/v1/organization", {"time_zone": "Mars/Olympus"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "Unknown time zone" in response.json()["detail"]
    response = admin_api.post(
        "/api/v1/invitations", {"email": "not-an-email"}, content_type="application/json"
    )
    assert response.status_code == 422


@pytest.mark.django_db
def test_session_api_calls_need_csrf(admin_member: Any) -> None:
    client = client_for(admin_member)
    client.handler.enforce_csrf_checks = True
    assert client.get("/api/v1/me").status_code == 200
    response = client.patch(
        "/api/v1/organization", {"name": "CSRF"}, content_type="application/json"
    )
    assert response.status_code in (401, 403)

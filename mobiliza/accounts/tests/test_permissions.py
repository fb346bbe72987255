"""The role and permission matrix: each role against each kind of action, in pages and the API."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import api_client_for, client_for
from mobiliza.accounts.tests.factories import make_member
from mobiliza.core.permissions import ROLE_PERMISSIONS, Perm, Role, has_perm

A, ORG, V = Role.ADMIN, Role.ORGANIZER, Role.VOLUNTEER

# Who holds each permission. Changing a role's powers means changing this table on purpose.
EXPECTED = {
    Perm.ORG_SETTINGS: {A},
    Perm.MEMBERS_VIEW: {A, ORG},
    Perm.MEMBERS_MANAGE: {A},
    Perm.AUDIT_VIEW: {A},
    Perm.PEOPLE_VIEW: {A, ORG},
    Perm.PEOPLE_EDIT: {A, ORG},
    Perm.PEOPLE_IMPORT: {A, ORG},
    Perm.PEOPLE_MERGE: {A, ORG},
    Perm.PEOPLE_EXPORT: {A},
    Perm.SEGMENTS_MANAGE: {A, ORG},
    Perm.SURVEYS_MANAGE: {A, ORG},
    Perm.OPERATIONS_CREATE: {A, ORG},
    Perm.OPERATIONS_MANAGE_ALL: {A},
    Perm.RESULTS_EXPORT: {A},
    Perm.PROVIDERS_MANAGE: {A},
    Perm.API_TOKENS: {A, ORG, V},
    Perm.AGENT_WORK: {A, ORG, V},
}


def test_every_permission_is_in_the_matrix() -> None:
    assert set(EXPECTED) == set(Perm)


@pytest.mark.parametrize("perm", list(Perm))
@pytest.mark.parametrize("role", list(Role))
def test_role_grants_exactly_the_expected_permissions(role: Role, perm: Perm) -> None:
    assert (perm in ROLE_PERMISSIONS[role]) == (role in EXPECTED[perm])


def test_no_membership_grants_nothing() -> None:
    assert not any(has_perm(None, p) for p in Perm)


PAGES = [
    # (method, url, roles allowed)
    ("get", "/", {A, ORG, V}),
    ("get", "/accounts/settings/", {A}),
    ("get", "/accounts/members/", {A, ORG}),
    ("get", "/audit/", {A}),
    ("get", "/people/", {A, ORG}),
    ("get", "/surveys/", {A, ORG}),
    ("get", "/accounts/profile/", {A, ORG, V}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url", "allowed"), PAGES)
@pytest.mark.parametrize("role", list(Role))
def test_pages_by_role(org: Any, role: Role, method: str, url: str, allowed: set[Role]) -> None:
    client = client_for(make_member(org, role))
    response = getattr(client, method)(url)
    if role in allowed:
        assert response.status_code == 200, (role, url, response.status_code)
    else:
        assert response.status_code == 403, (role, url, response.status_code)


API = [
    ("get", "/api/v1/me", None, {A, ORG, V}),
    ("get", "/api/v1/members", None, {A, ORG}),
    ("get", "/api/v1/audit-events", None, {A}),
    ("get", "/api/v1/invitations", None, {A}),
    ("patch", "/api/v1/organization", {"name": "Renamed"}, {A}),
    ("post", "/api/v1/invitations", {"email": "new@example.org", "role": "volunteer"}, {A}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url", "body", "allowed"), API)
@pytest.mark.parametrize("role", list(Role))
def test_api_by_role(
    org: Any, role: Role, method: str, url: str, body: Any, allowed: set[Role]
) -> None:
    client = api_client_for(make_member(org, role))
    if body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, body, content_type="application/json")
    if role in allowed:
        assert response.status_code in (200, 201), (role, url, response.content)
    else:
        assert response.status_code == 403, (role, url, response.status_code)
        assert "not allow" in response.json()["detail"]


@pytest.mark.django_db
def test_organizer_cannot_invite_through_the_page(org: Any) -> None:
    from mobiliza.accounts.models import Invitation

    client = client_for(make_member(org, ORG))
    response = client.post(
        "/accounts/members/", {"email": "x@example.org", "role": "admin"}, follow=True
    )
    assert response.status_code == 200
    assert "Only admins can invite people." in response.content.decode()
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_and_api_says_401() -> None:
    from django.test import Client

    client = Client()
    response = client.get("/accounts/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_user_without_organization_is_guided() -> None:
    from django.test import Client

    from mobiliza.accounts.tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/no-organization/"
    assert "Create an organization" in response.content.decode()

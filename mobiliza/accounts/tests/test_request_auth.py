"""The page requests' session, user and membership read in one statement (accounts.request_auth):
never a logged-out, deactivated, removed or downgraded member, whatever the per-process hints say."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client, override_settings

from conftest import client_for
from mobiliza.accounts import request_auth
from mobiliza.accounts.models import Membership
from mobiliza.accounts.tests.factories import PASSWORD, make_member
from mobiliza.core.permissions import Role
from mobiliza.core.tenancy import SESSION_KEY as ORG_SESSION_KEY

SETTINGS_PAGE = "/accounts/settings/"  # admins only
LOGIN = "/accounts/login/"


def _me(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/me")
    assert response.status_code == 200, response.status_code
    return dict(response.json())


def _warm(client: Client) -> str:
    """Two requests: the second runs with this session's hint in place. Returns the key."""
    assert client.get(SETTINGS_PAGE).status_code == 200
    assert client.get(SETTINGS_PAGE).status_code == 200
    key = client.session.session_key
    assert key in request_auth._hints
    return str(key)


@pytest.mark.django_db
def test_user_and_membership_are_the_sessions(org: Any, other_org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    _warm(client)
    me = _me(client)
    assert me["email"] == member.user.email
    assert me["organization"]["slug"] == org.slug
    assert me["role"] == Role.ADMIN


@pytest.mark.django_db
def test_a_removed_member_loses_the_organization_at_once(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    _warm(client)
    Membership.objects.filter(pk=member.pk).delete()
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert response["Location"].endswith("/accounts/no-organization/")


@pytest.mark.django_db
def test_a_downgraded_member_loses_the_permission_at_once(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    _warm(client)
    Membership.objects.filter(pk=member.pk).update(role=Role.VOLUNTEER)
    assert client.get(SETTINGS_PAGE).status_code == 403
    assert _me(client)["role"] == Role.VOLUNTEER


@pytest.mark.django_db
def test_a_session_ended_elsewhere_is_logged_out(org: Any) -> None:
    client = client_for(make_member(org, Role.ADMIN))
    key = _warm(client)
    Session.objects.filter(session_key=key).delete()
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert LOGIN in response["Location"]


@pytest.mark.django_db
def test_a_password_changed_elsewhere_logs_the_session_out(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    key = _warm(client)
    member.user.set_password("another-password-42")
    member.user.save()
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert LOGIN in response["Location"]
    assert not Session.objects.filter(session_key=key).exists()  # flushed, as Django does


@pytest.mark.django_db
def test_a_deactivated_user_is_logged_out(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    _warm(client)
    type(member.user).objects.filter(pk=member.user.pk).update(is_active=False)
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert LOGIN in response["Location"]


@pytest.mark.django_db
def test_a_wrong_hint_never_gives_another_users_rows(org: Any, other_org: Any) -> None:
    member = make_member(org, Role.VOLUNTEER)
    intruder = make_member(other_org, Role.ADMIN)
    client = client_for(member)
    key = _warm_volunteer(client)
    # the hint for this session names another user and organization: the statement reads their
    # rows, the session data says otherwise, and the right rows are read again
    request_auth._hints[key] = (intruder.user.pk, str(other_org.public_id))
    me = _me(client)
    assert me["email"] == member.user.email
    assert me["organization"]["slug"] == org.slug
    assert me["role"] == Role.VOLUNTEER
    assert client.get(SETTINGS_PAGE).status_code == 403
    assert request_auth._hints[key] == (member.user.pk, str(org.public_id))


def _warm_volunteer(client: Client) -> str:
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    return str(client.session.session_key)


@pytest.mark.django_db
def test_switching_organization_reads_the_new_membership(org: Any, other_org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    Membership.objects.create(user=member.user, organization=other_org, role=Role.VOLUNTEER)
    client = client_for(member)
    _warm(client)
    session = client.session
    session[ORG_SESSION_KEY] = str(other_org.public_id)
    session.save()
    assert _me(client)["organization"]["slug"] == other_org.slug
    assert client.get(SETTINGS_PAGE).status_code == 403


@pytest.mark.django_db
def test_unknown_organization_in_the_session_falls_back_to_the_first(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    session = client.session
    session[ORG_SESSION_KEY] = "not-a-uuid"
    session.save()
    assert _me(client)["organization"]["slug"] == org.slug
    assert _me(client)["organization"]["slug"] == org.slug


@pytest.mark.django_db
def test_login_through_the_form_and_logout(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    client = Client()
    response = client.post(LOGIN, {"username": member.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(SETTINGS_PAGE).status_code == 200
    assert client.get(SETTINGS_PAGE).status_code == 200
    client.post("/accounts/logout/")
    response = client.get(SETTINGS_PAGE)
    assert response.status_code == 302
    assert LOGIN in response["Location"]


@pytest.mark.django_db
def test_a_session_signed_with_a_fallback_secret_is_kept_and_cycled(org: Any) -> None:
    member = make_member(org, Role.ADMIN)
    with override_settings(SECRET_KEY="old-secret-key-for-this-test-0123456789-abcdefghij"):
        client = client_for(member)
        _warm(client)
        old_key = client.session.session_key
    with override_settings(
        SECRET_KEY="new-secret-key-for-this-test-0123456789-abcdefghij",
        SECRET_KEY_FALLBACKS=["old-secret-key-for-this-test-0123456789-abcdefghij"],
    ):
        assert client.get(SETTINGS_PAGE).status_code == 200
        assert client.session.session_key != old_key  # cycled, as django.contrib.auth does
        assert client.get(SETTINGS_PAGE).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced(org: Any) -> None:
    import psycopg
    from django.db import connection

    from bench.common import PG_ADMIN_URL

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    member = make_member(org, Role.ADMIN)
    client = client_for(member)
    _warm(client)
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.health_check_done = False  # a new request (the test client skips that signal)
    assert _me(client)["email"] == member.user.email
    assert connection.connection.info.backend_pid != pid

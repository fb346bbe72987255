from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from conftest import client_for
from mobiliza.accounts.models import Membership, User
from mobiliza.core.models import AuditEvent


def _invite(admin_client: Client, email: str, role: str = "volunteer") -> str:
    response = admin_client.post("/accounts/members/", {"email": email, "role": role})
    assert response.status_code == 200
    assert len(mail.outbox) == 1
    match = re.search(r"https?://\S+/accounts/invitations/accept/\S+/", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(0).split("://", 1)[1].split("/", 1)[1]


@pytest.mark.django_db(transaction=True)
def test_new_person_signs_up_through_an_invitation(org: Any, admin_member: Any) -> None:
    path = "/" + _invite(client_for(admin_member), "New.Person@Example.org", "organizer")
    assert org.name in mail.outbox[0].subject
    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Create an account" in page.content.decode()
    response = visitor.post(
        f"/accounts/signup/?next={path}",
        {
            "full_name": "Nova Pessoa",
            "email": "new.person@example.org",
            "password": "a-long-pass-phrase",
            "next": path,
        },
    )
    assert response.status_code == 302 and response["Location"] == path
    accepted = visitor.post(path, follow=True)
    assert accepted.status_code == 200
    membership = Membership.objects.get(user__email="new.person@example.org", organization=org)
    assert membership.role == "organizer"
    assert AuditEvent.objects.filter(organization=org, action="join").exists()
    # the link works once
    assert visitor.get(path).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_existing_user_accepts_and_lands_in_the_new_organization(
    org: Any, admin_member: Any, other_org: Any
) -> None:
    from mobiliza.accounts.tests.factories import make_member

    existing = make_member(other_org, "admin")
    path = "/" + _invite(client_for(admin_member), existing.user.email)
    client = client_for(existing)
    client.post(path)
    home = client.get("/")
    assert org.name in home.content.decode()
    assert Membership.objects.filter(
        user=existing.user, organization=org, role="volunteer"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_revoked_invitation_is_refused(org: Any, admin_member: Any) -> None:
    from mobiliza.accounts.models import Invitation

    admin = client_for(admin_member)
    path = "/" + _invite(admin, "late@example.org")
    invitation = Invitation.objects.get(email="late@example.org")
    admin.post(f"/accounts/invitations/{invitation.public_id}/revoke/")
    response = Client().get(path)
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


@pytest.mark.django_db
def test_inviting_a_member_again_is_a_clear_error(org: Any, admin_member: Any) -> None:
    response = client_for(admin_member).post(
        "/accounts/members/", {"email": admin_member.user.email.upper(), "role": "volunteer"}
    )
    assert "already a member" in response.content.decode()
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_signup_rejects_weak_password_and_taken_email(admin_member: Any) -> None:
    client = Client()
    weak = client.post(
        "/accounts/signup/", {"full_name": "X", "email": "x@example.org", "password": "123"}
    )
    assert "too short" in weak.content.decode()
    taken = client.post(
        "/accounts/signup/",
        {"full_name": "X", "email": admin_member.user.email, "password": "a-long-pass-phrase"},
    )
    assert "already exists" in taken.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_last_admin_cannot_be_demoted_or_removed(org: Any, admin_member: Any) -> None:
    client = client_for(admin_member)
    response = client.post(
        f"/accounts/members/{admin_member.public_id}/role/", {"role": "volunteer"}, follow=True
    )
    assert "at least one admin" in response.content.decode()
    response = client.post(f"/accounts/members/{admin_member.public_id}/remove/", follow=True)
    assert "at least one admin" in response.content.decode()
    admin_member.refresh_from_db()
    assert admin_member.role == "admin"


@pytest.mark.django_db
def test_admin_changes_a_role_and_it_is_audited(
    org: Any, admin_member: Any, volunteer_member: Any
) -> None:
    client_for(admin_member).post(
        f"/accounts/members/{volunteer_member.public_id}/role/", {"role": "organizer"}
    )
    volunteer_member.refresh_from_db()
    assert volunteer_member.role == "organizer"
    event = AuditEvent.objects.get(organization=org, action="role")
    assert event.actor == admin_member.user
    assert event.changes == {"role": {"old": "volunteer", "new": "organizer"}}

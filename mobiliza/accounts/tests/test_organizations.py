from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import client_for
from mobiliza.accounts.models import Organization
from mobiliza.accounts.tests.factories import OrganizationFactory, make_member
from mobiliza.core.models import AuditEvent


@pytest.mark.django_db
def test_member_of_two_organizations_switches_between_them(org: Any, other_org: Any) -> None:
    first = make_member(org, "admin")
    make_member_same_user = first.user
    from mobiliza.accounts.models import Membership

    Membership.objects.create(user=make_member_same_user, organization=other_org, role="volunteer")
    client = client_for(first)
    assert org.name in client.get("/").content.decode()
    assert client.get("/accounts/settings/").status_code == 200
    response = client.post(
        "/accounts/organizations/switch/", {"organization": str(other_org.public_id)}, follow=True
    )
    body = response.content.decode()
    assert f"You are now working in {other_org.name}" in body
    # now a volunteer there: the admin-only page is refused
    assert client.get("/accounts/settings/").status_code == 403
    assert client.get("/api/v1/me").json()["organization"]["slug"] == other_org.slug


@pytest.mark.django_db
def test_cannot_switch_into_an_organization_you_are_not_in(org: Any, other_org: Any) -> None:
    client = client_for(make_member(org, "admin"))
    response = client.post(
        "/accounts/organizations/switch/", {"organization": str(other_org.public_id)}, follow=True
    )
    assert "not a member" in response.content.decode()
    assert client.get("/api/v1/me").json()["organization"]["slug"] == org.slug


@pytest.mark.django_db
def test_settings_are_validated_saved_and_audited(org: Any, admin_member: Any) -> None:
    client = client_for(admin_member)
    bad = client.post(
        "/accounts/settings/",
        {
            "name": "X",
            "default_country": "ZZ",
            "default_language": "fr",
            "time_zone": "Europe/Paris",
        },
    )
    assert "Unknown country code" in bad.content.decode()
    org.refresh_from_db()
    assert org.default_country == "PT"
    ok = client.post(
        "/accounts/settings/",
        {
            "name": "Nouveau Nom",
            "default_country": "fr",
            "default_language": "fr",
            "time_zone": "Europe/Paris",
        },
    )
    assert ok.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.default_country, org.time_zone) == ("Nouveau Nom", "FR", "Europe/Paris")
    event = AuditEvent.objects.get(organization=org, action="settings")
    assert event.changes["default_country"] == {"old": "PT", "new": "FR"}


@pytest.mark.django_db
def test_audit_log_page_lists_and_filters(org: Any, admin_member: Any) -> None:
    client = client_for(admin_member)
    client.post(
        "/accounts/settings/",
        {
            "name": "Renamed",
            "default_country": "PT",
            "default_language": "en",
            "time_zone": "Europe/Lisbon",
        },
    )
    page = client.get("/audit/?action=settings")
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="audit-row"') == 1
    assert "Renamed" in page.content.decode()


@pytest.mark.django_db
def test_audit_log_of_another_organization_is_invisible(org: Any, other_org: Any) -> None:
    client_for(make_member(other_org, "admin")).post(
        "/accounts/settings/",
        {
            "name": "Secret Plans",
            "default_country": "PT",
            "default_language": "en",
            "time_zone": "Europe/Lisbon",
        },
    )
    page = client_for(make_member(org, "admin")).get("/audit/")
    assert "Secret Plans" not in page.content.decode()


@pytest.mark.django_db
def test_anyone_logged_in_can_start_an_organization_and_becomes_its_admin() -> None:
    from mobiliza.accounts.tests.factories import UserFactory

    user = UserFactory()
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        "/accounts/organizations/new/",
        {
            "name": "Bloco Novo",
            "default_country": "PT",
            "default_language": "pt",
            "time_zone": "Europe/Lisbon",
        },
    )
    assert response.status_code == 302
    created = Organization.objects.get(name="Bloco Novo")
    assert created.memberships.get(user=user).role == "admin"
    assert client.get("/accounts/settings/").status_code == 200


@pytest.mark.django_db
def test_language_is_per_user(org: Any) -> None:
    member = make_member(org, "volunteer")
    client = client_for(member)
    client.post("/accounts/profile/", {"form": "profile", "full_name": "Jean", "language": "fr"})
    page = client.get("/")
    assert page["Content-Language"] == "fr"
    assert "Accueil" in page.content.decode()
    other = client_for(make_member(org, "volunteer"))
    assert "Accueil" not in other.get("/").content.decode()


@pytest.mark.django_db
def test_member_search_finds_by_name_and_email(org: Any, admin_member: Any) -> None:
    OrganizationFactory()
    target = make_member(org, "volunteer", full_name="Maria Figueiredo", email="mf@example.org")
    client = client_for(admin_member)
    assert target.user.email in client.get("/accounts/members/search/?q=Figuei").content.decode()
    assert "Figueiredo" in client.get("/accounts/members/search/?q=mf@").content.decode()

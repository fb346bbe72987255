from __future__ import annotations

from typing import Any

import factory

from mobiliza.accounts.models import ApiToken, Invitation, Membership, Organization, User
from mobiliza.accounts.services import api_token_create, invitation_create
from mobiliza.core.permissions import Role
from mobiliza.core.testing.isolation import register_isolation_maker

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Movement {n}")
    slug = factory.Sequence(lambda n: f"movement-{n}")
    default_country = "PT"
    default_language = "en"
    time_zone = "Europe/Lisbon"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.ADMIN


def make_member(organization: Organization, role: str = Role.ADMIN, **user: Any) -> Membership:
    return MembershipFactory(organization=organization, role=role, user=UserFactory(**user))


def _make_membership(organization: Organization) -> Membership:
    return make_member(organization, Role.VOLUNTEER)


def _make_invitation(organization: Organization) -> Invitation:
    admin = make_member(organization, Role.ADMIN)
    invitation, _url = invitation_create(
        organization=organization,
        email="invitee@example.org",
        role=Role.VOLUNTEER,
        invited_by=admin.user,
    )
    return invitation


def _make_token(organization: Organization) -> ApiToken:
    membership = make_member(organization)
    token, _raw = api_token_create(membership=membership, name="other org token")
    token.isolation_owner = membership  # type: ignore[attr-defined]  # only its user may revoke it
    return token


register_isolation_maker("accounts.membership", _make_membership)
register_isolation_maker("accounts.invitation", _make_invitation)
register_isolation_maker("accounts.apitoken", _make_token)

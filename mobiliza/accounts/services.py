"""Writes about users, organizations, memberships, invitations and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from mobiliza.accounts.models import ApiToken, Invitation, Membership, Organization, User
from mobiliza.core.audit import audit_record, diff_fields, snapshot
from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Role

TOKEN_PREFIX = "mbz_"  # noqa: S105 - a public prefix, not a secret
ORGANIZATION_SETTINGS_FIELDS = ("name", "default_country", "default_language", "time_zone")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_hash(raw: str) -> str:
    """The stored hash of a raw API token (for lookups outside this module)."""
    return _hash(raw)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def organization_create(
    *,
    name: str,
    creator: User | None,
    slug: str = "",
    default_country: str = "PT",
    default_language: str = "en",
    time_zone: str = "Europe/Lisbon",
) -> Organization:
    """Create an organization; its creator (if any) becomes its first admin."""
    organization = Organization.objects.create(
        name=name,
        slug=slug or _unique_slug(name),
        default_country=default_country.upper(),
        default_language=default_language,
        time_zone=time_zone,
    )
    if creator is not None:
        Membership.objects.create(user=creator, organization=organization, role=Role.ADMIN)
    audit_record(
        organization=organization,
        actor=creator,
        action=AuditEvent.Action.CREATE,
        target=organization,
    )
    return organization


def _validate_settings(values: dict[str, Any]) -> None:
    import zoneinfo

    import phonenumbers

    errors: dict[str, str] = {}
    country = str(values.get("default_country", "")).upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        errors["default_country"] = _("Unknown country code “%(code)s”.") % {"code": country}
    tz = values.get("time_zone")
    if tz and tz not in zoneinfo.available_timezones():
        errors["time_zone"] = _("Unknown time zone “%(tz)s”.") % {"tz": tz}
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = _("The name cannot be empty.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def organization_update(*, organization: Organization, actor: User, **values: Any) -> Organization:
    """Change the organization's settings (name, default country, language, time zone)."""
    unknown = set(values) - set(ORGANIZATION_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(
            _("Unknown settings: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    if "default_country" in values:
        values["default_country"] = str(values["default_country"]).upper()
    _validate_settings(values)
    before = snapshot(organization, values)
    for key, value in values.items():
        setattr(organization, key, value)
    organization.save()
    changes = diff_fields(before, snapshot(organization, values))
    if changes:
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEvent.Action.SETTINGS,
            target=organization,
            changes=changes,
        )
    return organization


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "", language: str = "") -> User:
    """Create a login. Raises ValidationError for a taken email or a weak password."""
    from django.contrib.auth.password_validation import validate_password

    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("An account with this email already exists.")})
    candidate = User(email=email, full_name=full_name)
    validate_password(password, user=candidate)
    return User.objects.create_user(email, password, full_name=full_name, language=language)


def user_update_profile(*, user: User, full_name: str, language: str, phone: str = "") -> User:
    user.full_name = full_name.strip()
    user.language = language
    user.phone = phone.strip()
    user.save(update_fields=["full_name", "language", "phone"])
    return user


@transaction.atomic
def membership_add(
    *, organization: Organization, user: User, role: str, actor: User | None
) -> Membership:
    """Add `user` to the organization with `role`; an existing member keeps the higher role."""
    order = [Role.VOLUNTEER, Role.ORGANIZER, Role.ADMIN]
    membership, created = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if not created and order.index(Role(role)) > order.index(Role(membership.role)):
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    if created:
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEvent.Action.JOIN,
            target=membership,
            meta={"email": user.email, "role": role},
        )
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationError(_("Unknown role."))
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _ensure_other_admin(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        organization=membership.organization,
        actor=actor,
        action=AuditEvent.Action.ROLE,
        target=membership,
        changes={"role": {"old": old, "new": role}},
    )
    return membership


def _ensure_other_admin(membership: Membership) -> None:
    others = Membership.objects.filter(organization=membership.organization, role=Role.ADMIN)
    if not others.exclude(pk=membership.pk).exists():
        raise ValidationError(_("An organization needs at least one admin."))


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    if membership.role == Role.ADMIN:
        _ensure_other_admin(membership)
    audit_record(
        organization=membership.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=membership,
        meta={"email": membership.user.email, "role": membership.role},
    )
    ApiToken.objects.filter(membership=membership).update(revoked_at=timezone.now())
    membership.delete()


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by: User
) -> tuple[Invitation, str]:
    """Create an invitation and email its link. Returns the invitation and the accept URL."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already a member.")})
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=_hash(raw),
        invited_by=invited_by,
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS),
    )
    url = settings.SITE_URL + reverse("accounts:invitation_accept", kwargs={"token": raw})
    audit_record(
        organization=organization,
        actor=invited_by,
        action=AuditEvent.Action.INVITE,
        target=invitation,
        meta={"email": email, "role": role},
    )
    with translation.override(organization.default_language):
        subject = _("You are invited to join %(org)s on Mobiliza") % {"org": organization.name}
        body = _(
            "%(inviter)s invited you to join %(org)s as %(role)s.\n\n"
            "Accept the invitation: %(url)s\n\nThe link works for %(days)s days."
        ) % {
            "inviter": invited_by,
            "org": organization.name,
            "role": Role(role).label,
            "url": url,
            "days": settings.INVITATION_DAYS,
        }
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=False)
    )
    return invitation, url


def invitation_by_token(*, raw_token: str) -> Invitation | None:
    invitation = (
        Invitation.objects.filter(token_hash=_hash(raw_token))
        .select_related("organization")
        .first()
    )
    return invitation if invitation is not None and invitation.is_pending else None


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise ValidationError(_("This invitation has expired or was already used."))
    membership = membership_add(
        organization=invitation.organization, user=user, role=invitation.role, actor=user
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        organization=invitation.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=invitation,
        meta={"email": invitation.email},
    )


@transaction.atomic
def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        membership=membership,
        name=name.strip() or "API token",
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=_hash(raw),
    )
    audit_record(
        organization=membership.organization,
        actor=membership.user,
        action=AuditEvent.Action.TOKEN,
        target=token,
        meta={"event": "created", "name": token.name},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        organization=token.membership.organization,
        actor=actor,
        action=AuditEvent.Action.TOKEN,
        target=token,
        meta={"event": "revoked", "name": token.name},
    )


def api_token_authenticate(*, raw_token: str) -> ApiToken | None:
    """The live token for this secret (its user active), touching `last_used_at` at most each minute."""
    if not raw_token.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.filter(token_hash=_hash(raw_token), revoked_at__isnull=True)
        .select_related("membership__organization", "membership__user")
        .first()
    )
    if token is None or not token.membership.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token

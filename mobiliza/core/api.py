"""Authentication and permission helpers for the JSON API (django-ninja).

Two ways in: the browser session (CSRF-protected) and personal API tokens sent as
`Authorization: Bearer <token>`. A token is bound to one organization; a session uses the
organization chosen in the switcher.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from mobiliza.core.permissions import Perm, has_perm
from mobiliza.core.sql import model_columns, model_from_row, prepared_fetchone

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from mobiliza.accounts.services import api_token_authenticate

        if connection.vendor == "postgresql":
            api_token = _token_authenticate_sql(token)
        else:
            api_token = api_token_authenticate(raw_token=token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.membership = api_token.membership  # type: ignore[attr-defined]
        request.organization = api_token.membership.organization  # type: ignore[attr-defined]
        return api_token.user


class OrganizationSessionAuth(SessionAuth):
    """Session login, but only for users acting inside an organization."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or getattr(request, "membership", None) is None:
            return None
        return user


AUTH = [BearerTokenAuth(), OrganizationSessionAuth()]

_TOKEN_COLUMNS = ""
# The token's row and what it stands for; `t` token, `m` membership, `u` user, `o` organization.
AUTH_FROM = (
    "accounts_apitoken t "
    "JOIN accounts_membership m ON m.id = t.membership_id "
    "JOIN accounts_user u ON u.id = m.user_id "
    "JOIN accounts_organization o ON o.id = m.organization_id"
)
AUTH_WHERE = "t.token_hash = %s AND t.revoked_at IS NULL"


def _token_models() -> list[type[Model]]:
    from mobiliza.accounts.models import ApiToken, Membership, Organization, User

    return [ApiToken, Membership, User, Organization]


def token_columns() -> str:
    """The select list of a token lookup (`AUTH_FROM`), read back by `token_from_row`."""
    global _TOKEN_COLUMNS
    if not _TOKEN_COLUMNS:
        _TOKEN_COLUMNS = ", ".join(
            model_columns(model, alias)
            for alias, model in zip("tmuo", _token_models(), strict=True)
        )
    return _TOKEN_COLUMNS


def token_sql() -> str:
    """The token lookup: one parameter, the `token_hash_param`."""
    return f"SELECT {token_columns()} FROM {AUTH_FROM} WHERE {AUTH_WHERE}"  # noqa: S608 - fixed


def token_width() -> int:
    """How many columns `token_columns` selects."""
    return sum(len(model._meta.concrete_fields) for model in _token_models())


def token_hash_param(raw_token: str) -> str | None:
    """The `AUTH_WHERE` parameter for a raw token; None for what can't be one of ours."""
    from mobiliza.accounts.services import TOKEN_PREFIX, api_token_hash

    if not raw_token.startswith(TOKEN_PREFIX):
        return None
    return api_token_hash(raw_token)


def token_from_row(row: tuple[Any, ...] | list[Any]) -> Any:
    """The `ApiToken` (its membership, user and organization loaded) from the first
    `token_width()` values of a row; None when its user is inactive. Touches `last_used_at` at
    most once a minute, as `accounts.services.api_token_authenticate` does."""
    from mobiliza.accounts.models import ApiToken

    objs: list[Any] = []
    offset = 0
    for model in _token_models():
        n = len(model._meta.concrete_fields)
        objs.append(model_from_row(model, row[offset : offset + n]))
        offset += n
    token, membership, user, organization = objs
    if not user.is_active:
        return None
    membership.user = user
    membership.organization = organization
    token.membership = membership
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _token_authenticate_sql(raw_token: str) -> Any:
    """`accounts.services.api_token_authenticate` (same rules: live token, active user,
    `last_used_at` touched at most each minute) in one hand-written, prepared statement: every
    API call with a bearer token runs it, and compiling (Django) and planning (PostgreSQL) the
    four-table join cost several times more CPU than answering it."""
    token_hash = token_hash_param(raw_token)
    if token_hash is None:
        return None
    row = prepared_fetchone(token_sql(), [token_hash])
    if row is None:
        return None
    return token_from_row(row)


def unprocessable(exc: ValidationError) -> HttpError:
    """A service's ValidationError as the API's 422: its messages joined in `detail`, each
    prefixed with the field it is about ("email: Enter a valid email address.")."""
    if hasattr(exc, "error_dict"):
        parts = [
            message if field == "__all__" else f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
        return HttpError(422, "; ".join(parts))
    return HttpError(422, "; ".join(exc.messages))


def api_membership(request: HttpRequest) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None:
        raise HttpError(403, _("You are not a member of an organization."))
    return membership


def api_org(request: HttpRequest, perm: Perm | None = None) -> Organization:
    """The organization the request acts for, after checking `perm` when given."""
    membership = api_membership(request)
    if perm is not None and not has_perm(membership, perm):
        raise HttpError(403, _("Your role does not allow this (%(perm)s).") % {"perm": perm.value})
    return membership.organization

"""A page request's session, user and active membership, read in one statement.

Django reads them with three ORM queries: the session row (SessionMiddleware, on first use), the
user (AuthenticationMiddleware's lazy `request.user`) and the membership with its organization
(`core.tenancy.OrganizationMiddleware`). On a short request such as the texter's send click
(issue 7) compiling those three queries cost more CPU than the rest of the middleware, and each
is a round trip to the database.

`preload(request)` (called by `UserLanguageMiddleware`, the first of our middleware to touch
`request.user`) reads the session row, the user and the membership + organization in one
prepared statement, then does exactly what Django's `auth.get_user` does with them (the session
backend check, `ModelBackend.user_can_authenticate`, the session hash verification with the
fallback secrets, `flush()` on a mismatch) and leaves the results where Django and
`OrganizationMiddleware` look for them (`session._session_cache`, `request._cached_user`,
`request._preloaded_membership`).

Nothing is served from a cache. The user id and organization are inside the signed session data,
which SQL cannot read: which user and membership rows to join is taken from a per-process *hint*
(session key -> the user id and organization that key's decoded data named last time). Every row
used is read fresh in this request's statement; the hint is checked against this request's own
decoded session data, and when it does not match (no hint yet, another login, another
organization chosen) a second statement reads the right rows. A logged-out session has no row, a
removed membership or a changed role or password is what the statement reads: none can be served
stale.

Only the database session engine, a session not yet loaded and a user authenticated by Django's
`ModelBackend` take this path; anything else is left to Django (same result, more queries).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from django.utils.crypto import constant_time_compare

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest

    from mobiliza.accounts.models import Membership, User

# session key -> (user id, organization public id as stored in the session): which rows to join
_hints: dict[str, tuple[Any, Any]] = {}
HINTS_MAX = 20_000


class _Whole:
    """All the concrete columns of a model under a table alias, and back into an instance
    (`Model.from_db`, each field's database converters applied as the ORM would)."""

    def __init__(self, model: type[Model], alias: str) -> None:
        q = connection.ops.quote_name
        fields = list(model._meta.concrete_fields)
        self.model = model
        self.columns = [f"{alias}.{q(str(f.column))}" for f in fields]
        self.names = [f.attname for f in fields]
        self.converters: list[tuple[int, Any, list[Any]]] = []
        for i, field in enumerate(fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                self.converters.append((i, col, found))

    def build(self, values: list[Any]) -> Any:
        if values[0] is None:  # the LEFT JOIN found no row
            return None
        if self.converters:
            wrapper = connections[DEFAULT_DB_ALIAS]
            for i, col, functions in self.converters:
                for function in functions:
                    values[i] = function(values[i], col, wrapper)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.names, values)


class _Loader:
    def __init__(self) -> None:
        from mobiliza.accounts.models import Membership, Organization

        user_model = get_user_model()
        q = connection.ops.quote_name
        self.vendor = connection.vendor
        self.user = _Whole(user_model, "u")
        self.membership = _Whole(Membership, "m")
        self.organization = _Whole(Organization, "o")
        columns = ", ".join(self.user.columns + self.membership.columns + self.organization.columns)
        mtable = q(Membership._meta.db_table)
        otable = q(Organization._meta.db_table)
        # membership_for_user: the membership in the organization chosen in the session, else the
        # user's first one (created_at, id). Names from the model metadata only; every value is a
        # bound parameter.
        joins = (
            f" LEFT JOIN {mtable} m ON m.id = (SELECT m2.id FROM {mtable} m2"  # noqa: S608
            f" JOIN {otable} o2 ON o2.id = m2.organization_id WHERE m2.user_id = u.id"
            " ORDER BY CASE WHEN o2.public_id = %s THEN 0 ELSE 1 END, m2.created_at, m2.id"
            " LIMIT 1)"
            f" LEFT JOIN {otable} o ON o.id = m.organization_id"
        )
        utable = q(user_model._meta.db_table)
        # params: user id, organization, session key, now
        self.with_session = (
            f"SELECT s.session_data, {columns} FROM django_session s"  # noqa: S608
            f" LEFT JOIN {utable} u ON u.id = %s{joins}"
            " WHERE s.session_key = %s AND s.expire_date > %s"
        )
        # params: organization, user id
        self.without_session = f"SELECT {columns} FROM {utable} u{joins} WHERE u.id = %s"  # noqa: S608

    def org_param(self, value: Any) -> Any:
        try:
            wanted = uuid.UUID(str(value)) if value else None
        except ValueError:
            wanted = None
        if wanted is None or self.vendor == "postgresql":
            return wanted
        return wanted.hex

    def build(self, row: tuple[Any, ...] | list[Any]) -> tuple[User | None, Membership | None]:
        u = len(self.user.columns)
        m = u + len(self.membership.columns)
        user = self.user.build(list(row[:u]))
        membership = self.membership.build(list(row[u:m]))
        if membership is not None:
            from mobiliza.accounts.models import Membership

            organization = self.organization.build(list(row[m:]))
            Membership.organization.field.set_cached_value(membership, organization)
            Membership.user.field.set_cached_value(membership, user)
        return user, membership


_loaders: dict[str, _Loader] = {}


def _loader() -> _Loader:
    loader = _loaders.get(connection.vendor)
    if loader is None:
        loader = _loaders[connection.vendor] = _Loader()
    return loader


def _remember(session_key: str, hint: tuple[Any, Any]) -> None:
    if len(_hints) >= HINTS_MAX:
        _hints.clear()
    _hints[session_key] = hint


def forget(session_key: str | None = None) -> None:
    """Drop the hints (all, or one session's). Never needed for correctness (see above)."""
    if session_key is None:
        _hints.clear()
    else:
        _hints.pop(session_key, None)


def preload(request: HttpRequest) -> None:
    """Resolve `request.session`, `request.user` and the active membership now, in one
    statement when possible. Does nothing when Django's own path must decide."""
    from mobiliza.core.sql import first_read, prepared_fetchone
    from mobiliza.core.tenancy import SESSION_KEY as ORG_SESSION_KEY

    session = getattr(request, "session", None)
    if (
        type(session) is not DbSessionStore
        or hasattr(session, "_session_cache")
        or hasattr(request, "_cached_user")
    ):
        return
    session_key = session.session_key
    if session_key is None:
        return  # no session cookie: anonymous, Django reads nothing either
    loader = _loader()
    hinted_user, hinted_org = _hints.get(session_key, (None, None))
    row = first_read(
        loader.with_session,
        [
            hinted_user,
            loader.org_param(hinted_org),
            session_key,
            connection.ops.adapt_datetimefield_value(timezone.now()),
        ],
    )
    if row is None:
        return  # no live session row: Django's session store handles it (a new session)
    data = session.decode(row[0])
    session._session_cache = data  # type: ignore[attr-defined]  # SessionBase's loaded data
    user: Any = None
    membership: Membership | None = None
    preloaded = False
    try:
        user_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
        backend_path = data[BACKEND_SESSION_KEY]
    except KeyError:
        pass
    else:
        # As django.contrib.auth.get_user, with ModelBackend.get_user's read done above.
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            backend = load_backend(backend_path)
            if type(backend) is ModelBackend:
                org = data.get(ORG_SESSION_KEY)
                if (hinted_user, hinted_org) == (user_id, org):
                    user, membership = loader.build(row[1:])
                else:
                    again = prepared_fetchone(
                        loader.without_session, [loader.org_param(org), user_id]
                    )
                    user, membership = loader.build(again) if again else (None, None)
                _remember(session_key, (user_id, org))
                if user is not None and not backend.user_can_authenticate(user):
                    user = None
                preloaded = user is not None
            else:
                user = backend.get_user(user_id)
            if hasattr(user, "get_session_auth_hash"):
                session_hash = session.get(HASH_SESSION_KEY)
                if not session_hash:
                    session_hash_verified = False
                else:
                    session_auth_hash = user.get_session_auth_hash()
                    session_hash_verified = constant_time_compare(session_hash, session_auth_hash)
                if not session_hash_verified:
                    if session_hash and any(
                        constant_time_compare(session_hash, fallback_auth_hash)
                        for fallback_auth_hash in user.get_session_auth_fallback_hash()
                    ):
                        session.cycle_key()
                        session[HASH_SESSION_KEY] = session_auth_hash
                    else:
                        session.flush()
                        user = None
                        preloaded = False
    if user is None:
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser()
    # AuthenticationMiddleware's slot, and the user itself in place of its lazy wrapper (as
    # `auth.login` leaves it): every later `request.user.…` skips the proxy
    request._cached_user = user  # type: ignore[attr-defined]
    request.user = user
    if preloaded:
        # (user id, the session's organization, the membership membership_for_user would give)
        request._preloaded_membership = (  # type: ignore[attr-defined]
            user.pk,
            session.get(ORG_SESSION_KEY),
            membership,
        )

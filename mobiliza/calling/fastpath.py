"""The agent flow's two hot endpoints served without django-ninja, for bearer-token API calls.

`POST /api/v1/call-operations/<id>/claim` and `POST /api/v1/call-targets/<id>/result` are what
every agent's phone calls in a loop (issue 5: 500 agents, ≥ 200 claim → result cycles/s on two
cores). For a request that `core.middleware.BearerApiFastPathMiddleware` already takes off the page
middleware (a bearer token, no cookies), the handlers below answer these two directly: no URL
resolution, no ninja operation (its auth chain, parameter models, response re-validation), one
statement fewer for the result (the token and the target in one read) and no per-request health
check query (a connection that died while idle is replaced and the read retried instead).

They run the very code the ninja operations run (`api.claim_run`, `api.result_run`: the same
selectors, dispenser and services), validate the body with the same schema (`ResultIn`) and turn
exceptions into responses with the API's own exception handlers, so statuses, bodies and headers
are the same. Whatever is not the plain case is left to ninja, before anything is written: an id
that is not a canonical UUID, a body that doesn't parse or validate, a token that is refused, a
member without the agent permission, a target that isn't the organization's. The ninja operations
stay registered (OpenAPI, browser sessions, tokens sent with cookies, SQLite).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from mobiliza.calling.models import CallOperation, CallTarget
from mobiliza.core.api import (
    AUTH_FROM,
    AUTH_WHERE,
    token_columns,
    token_from_row,
    token_hash_param,
    token_sql,
    token_width,
)
from mobiliza.core.middleware import FastHandler
from mobiliza.core.permissions import Perm, has_perm
from mobiliza.core.sql import first_read, model_columns, model_from_row

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _bearer(request: HttpRequest) -> str:
    """The token as ninja's `HttpBearer` reads it (the middleware checked the scheme)."""
    return " ".join(request.META["HTTP_AUTHORIZATION"].split(" ")[1:])


def _authenticated(request: HttpRequest, token: Any) -> bool:
    """What `core.api.BearerTokenAuth` does for an accepted token, and the agent permission that
    both endpoints check first (without it, ninja answers the 403)."""
    if token is None:
        return False
    membership = token.membership
    request.user = token.user
    request.membership = membership  # type: ignore[attr-defined]
    request.organization = membership.organization  # type: ignore[attr-defined]
    request.auth = token.user  # type: ignore[attr-defined]
    return has_perm(membership, Perm.AGENT_WORK)


def _answer(request: HttpRequest, run: Callable[[], Any]) -> HttpResponse:
    """`run()`'s result or exception as the ninja operation would answer it."""
    from ninja import Status
    from pydantic import BaseModel

    from config.api import api

    try:
        result = run()
    except Exception as exc:  # the API's handlers decide (and re-raise the rest)
        return api.on_exception(request, exc)
    if isinstance(result, HttpResponse):
        return result
    status = 200
    if isinstance(result, Status):
        status, result = result.status_code, result.value
    if isinstance(result, BaseModel):
        result = result.model_dump()
    return api.create_response(request, result, status=status)


def _token(raw_token: str) -> Any:
    """The accepted token (None if refused), as `core.api.BearerTokenAuth` finds it."""
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        from mobiliza.accounts.services import api_token_authenticate

        return api_token_authenticate(raw_token=raw_token)
    token_hash = token_hash_param(raw_token)
    if token_hash is None:
        return None
    row = first_read(token_sql(), [token_hash])
    return token_from_row(row) if row is not None else None


# --- claim ---------------------------------------------------------------------------------------
def claim(request: HttpRequest, match: re.Match[str]) -> HttpResponse | None:
    from mobiliza.calling.api import claim_run

    if not _authenticated(request, _token(_bearer(request))):
        return None
    operation_id = uuid.UUID(match[1])
    return _answer(request, lambda: claim_run(request, operation_id))  # type: ignore[arg-type]


# --- result --------------------------------------------------------------------------------------
_RESULT_READ = ""


def _result_read() -> str:
    """The token and the organization's target (with its operation) in one statement: the two
    reads the ninja path makes one after the other (`BearerTokenAuth`, `selectors.target_get`)."""
    global _RESULT_READ
    if not _RESULT_READ:
        _RESULT_READ = (
            f"SELECT {token_columns()}, {model_columns(CallTarget, 'ct')}, "  # noqa: S608 - fixed
            f"{model_columns(CallOperation, 'op')} FROM {AUTH_FROM} "
            "LEFT JOIN calling_calltarget ct "
            "ON ct.organization_id = m.organization_id AND ct.public_id = %(target)s "
            "LEFT JOIN calling_calloperation op "
            "ON op.id = ct.operation_id AND op.organization_id = m.organization_id "
            f"WHERE {AUTH_WHERE.replace('%s', '%(token)s')}"
        )
    return _RESULT_READ


def result(request: HttpRequest, match: re.Match[str]) -> HttpResponse | None:
    from mobiliza.calling.api import ResultIn, result_run

    try:
        payload = ResultIn.model_validate(json.loads(request.body), context={"request": request})
    except Exception:  # any refusal is ninja's to word (400 / 422)
        return None
    target_id = uuid.UUID(match[1])
    target = (
        _result_read_sql(request, target_id)
        if connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
        else _result_read_orm(request, target_id)
    )
    if target is None:
        return None
    return _answer(request, lambda: result_run(request, target, payload))  # type: ignore[arg-type]


def _result_read_sql(request: HttpRequest, target_id: uuid.UUID) -> CallTarget | None:
    token_hash = token_hash_param(_bearer(request))
    if token_hash is None:
        return None
    row = first_read(_result_read(), {"target": target_id, "token": token_hash})
    if row is None:
        return None
    token = token_from_row(row)
    if not _authenticated(request, token):
        return None
    start = token_width()
    n_target = len(CallTarget._meta.concrete_fields)
    target_values = row[start : start + n_target]
    operation_values = row[start + n_target :]
    if target_values[0] is None or operation_values[0] is None:
        return None  # not the organization's target: ninja's 404
    organization = token.membership.organization
    target: CallTarget = model_from_row(CallTarget, target_values)
    operation: CallOperation = model_from_row(CallOperation, operation_values)
    operation.organization = organization
    target.operation = operation
    target.organization = organization
    return target


def _result_read_orm(request: HttpRequest, target_id: uuid.UUID) -> CallTarget | None:
    from django.http import Http404

    from mobiliza.calling import selectors

    if not _authenticated(request, _token(_bearer(request))):
        return None
    try:
        return selectors.target_get(
            organization=request.organization,  # type: ignore[attr-defined]
            public_id=target_id,
        )
    except Http404:
        return None


# (method, path pattern, handler), tried in order by the middleware for bearer-token API calls.
HANDLERS: list[tuple[str, re.Pattern[str], FastHandler]] = [
    ("POST", re.compile(rf"/api/v1/call-operations/({_UUID})/claim\Z"), claim),
    ("POST", re.compile(rf"/api/v1/call-targets/({_UUID})/result\Z"), result),
]

"""The agent's claim and result served by `calling.fastpath` answer exactly as the ninja
operations do: each case runs once through the bearer fast path and once through the whole
middleware stack and ninja, from the same database state (each run is rolled back), and the
statuses, bodies, content types, languages and the rows written are compared."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings

from mobiliza.accounts.services import api_token_create
from mobiliza.calling.models import CallAttempt, CallOperation, CallTarget
from mobiliza.calling.tests.factories import make_agent, make_operation
from mobiliza.core.middleware import FAST_HANDLERS

pytestmark = pytest.mark.django_db

FAST = "mobiliza.core.middleware.BearerApiFastPathMiddleware"
WITHOUT_FAST_PATH = [m for m in settings.MIDDLEWARE if m != FAST]
# Values that differ between two runs by nature: the lease's expiry (the clock) and a new
# attempt's public id (random).
VOLATILE = {"lease_expires_at", "id"}


def _token(membership: Any) -> str:
    return api_token_create(membership=membership, name="fast path test")[1]


def _client(token: str, **headers: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}", **headers})


def _post(client: Client, url: str, body: Any = None, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(url, data=data, content_type="application/json")


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: ("<volatile>" if k in VOLATILE else _masked(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_masked(v) for v in data]
    return data


def _state(operation: CallOperation) -> Any:
    """What a claim or a result writes (without the clock's and the random values)."""
    targets = list(
        CallTarget.objects.filter(operation=operation)
        .order_by("id")
        .values(
            "id", "state", "held_by_id", "attempts", "status_counts", "last_status_id", "priority"
        )
    )
    attempts = list(
        CallAttempt.objects.filter(operation=operation)
        .order_by("idempotency_key")
        .values(
            "target_id", "agent_id", "status_id", "idempotency_key", "notes", "outcome", "answers"
        )
    )
    return targets, attempts


def both(operation: CallOperation, call: Callable[[bool], Any]) -> tuple[Any, Any]:
    """`call(fast)` through the fast path, then through ninja, each from the same state."""
    results = []
    for fast in (True, False):
        middleware = settings.MIDDLEWARE if fast else WITHOUT_FAST_PATH
        with override_settings(MIDDLEWARE=middleware), transaction.atomic():
            response = call(fast)
            results.append((response, _state(operation)))
            transaction.set_rollback(True)
    (fast_response, fast_state), (slow_response, slow_state) = results
    assert fast_response.status_code == slow_response.status_code
    assert fast_response["Content-Type"] == slow_response["Content-Type"]
    assert fast_response.get("Content-Language") == slow_response.get("Content-Language")
    fast_body, slow_body = fast_response.content, slow_response.content
    if fast_response["Content-Type"].startswith("application/json"):
        assert _masked(json.loads(fast_body)) == _masked(json.loads(slow_body))
    else:
        assert fast_body == slow_body
    assert fast_state == slow_state
    return fast_response, slow_response


def _served_fast(response: Any) -> bool:
    """True when the plain handler answered (ninja's route was never resolved)."""
    return getattr(response.wsgi_request, "resolver_match", None) is None


def _claim_url(operation: CallOperation) -> str:
    return f"/api/v1/call-operations/{operation.public_id}/claim"


def _result_url(target_id: Any) -> str:
    return f"/api/v1/call-targets/{target_id}/result"


def _claimed(operation: CallOperation, token: str) -> str:
    """Claim for real (committed to the test's transaction); the target's public id."""
    response = _post(_client(token), _claim_url(operation))
    assert response.status_code == 200
    return str(response.json()["target"]["id"])


def _result_body(**values: Any) -> dict[str, Any]:
    return {"status": "completed", "idempotency_key": uuid.uuid4().hex, **values}


def test_the_calling_handlers_are_installed() -> None:
    assert "mobiliza.calling.fastpath" in FAST_HANDLERS


# --- claim ---------------------------------------------------------------------------------------
def test_a_claim_hands_out_the_same_person_and_card(org: Any) -> None:
    op = make_operation(org, people=3)
    token = _token(make_agent(op))
    fast, slow = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    assert fast.status_code == 200 and fast.json()["target"]["id"]
    assert _served_fast(fast) and not _served_fast(slow)
    assert fast["Content-Length"] == str(len(fast.content))
    assert fast["X-Frame-Options"] == slow["X-Frame-Options"]


def test_a_second_claim_gives_back_the_person_held(org: Any) -> None:
    op = make_operation(org, people=3)
    token = _token(make_agent(op))
    held = _claimed(op, token)
    fast, _slow = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    assert fast.json()["target"]["id"] == held


def test_an_empty_queue_explains_why_the_same_way(org: Any) -> None:
    op = make_operation(org, people=1)
    _claimed(op, _token(make_agent(op)))
    token = _token(make_agent(op))
    fast, _slow = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    assert fast.json()["target"] is None
    assert fast.json()["reasons"]["held_by_other_agents"] == 1
    assert _served_fast(fast)


def test_a_paused_operation(org: Any) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    CallOperation.objects.filter(pk=op.pk).update(paused=True)
    fast, _slow = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    assert fast.json()["message"] == "paused"


def test_an_admin_claims_without_being_listed_as_an_agent(org: Any, admin_member: Any) -> None:
    op = make_operation(org, people=2)
    token = _token(admin_member)
    fast, _slow = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    assert fast.status_code == 200 and fast.json()["target"]


@pytest.mark.parametrize(
    "case", ["not_an_agent", "unknown_operation", "other_org", "not_a_uuid", "upper_case_id"]
)
def test_claims_refused_with_404_or_422(
    org: Any, other_org: Any, volunteer_member: Any, case: str
) -> None:
    op = make_operation(org, people=2)
    url = _claim_url(op)
    token = _token(make_agent(op))
    if case == "not_an_agent":
        token = _token(volunteer_member)
    elif case == "unknown_operation":
        url = f"/api/v1/call-operations/{uuid.uuid4()}/claim"
    elif case == "other_org":
        token = _token(make_agent(make_operation(other_org, people=1)))
    elif case == "not_a_uuid":
        url = "/api/v1/call-operations/not-a-uuid/claim"
    elif case == "upper_case_id":
        url = _claim_url(op).replace(str(op.public_id), str(op.public_id).upper())
    fast, _slow = both(op, lambda fast: _post(_client(token), url))
    expected = {"upper_case_id": 200, "not_a_uuid": 422}.get(case, 404)
    assert fast.status_code == expected


@pytest.mark.parametrize("case", ["unknown_token", "revoked", "disabled_agent", "no_agent_role"])
def test_refused_tokens_and_members(org: Any, case: str) -> None:
    from mobiliza.accounts.models import ApiToken, Membership

    op = make_operation(org, people=2)
    agent = make_agent(op)
    token = _token(agent)
    if case == "unknown_token":
        token = "mbz_" + "x" * 40
    elif case == "revoked":
        from django.utils import timezone

        ApiToken.objects.filter(membership=agent).update(revoked_at=timezone.now())
    elif case == "disabled_agent":
        agent.user.is_active = False
        agent.user.save(update_fields=["is_active"])
    elif case == "no_agent_role":
        Membership.objects.filter(pk=agent.pk).update(role="")
    claim, _ = both(op, lambda fast: _post(_client(token), _claim_url(op)))
    result, _ = both(
        op,
        lambda fast: _post(
            _client(token), _result_url(CallTarget.objects.first().public_id), _result_body()
        ),
    )
    expected = 403 if case == "no_agent_role" else 401
    assert (claim.status_code, result.status_code) == (expected, expected)


# --- result --------------------------------------------------------------------------------------
def test_a_result_is_recorded_the_same_way(org: Any) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    body = _result_body(notes="rang out")
    fast, slow = both(op, lambda fast: _post(_client(token), _result_url(tid), body))
    assert fast.status_code == 201
    assert fast.json()["replayed"] is False
    assert _served_fast(fast) and not _served_fast(slow)


def test_a_replayed_result_answers_200_with_the_first_attempt(org: Any) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    body = _result_body()
    first = _post(_client(token), _result_url(tid), body)
    assert first.status_code == 201
    fast, slow = both(op, lambda fast: _post(_client(token), _result_url(tid), body))
    assert fast.status_code == 200
    assert fast.json() == slow.json() == {**first.json(), "replayed": True}


def test_a_result_for_someone_else_s_person_is_409(org: Any) -> None:
    op = make_operation(org, people=2)
    tid = _claimed(op, _token(make_agent(op)))
    other = _token(make_agent(op))
    fast, _slow = both(op, lambda fast: _post(_client(other), _result_url(tid), _result_body()))
    assert fast.status_code == 409
    assert fast.json() == {"detail": "This person is no longer assigned to you."}


@pytest.mark.parametrize("language", ["en", "fr", "pt"])
def test_a_refused_status_is_422_in_the_caller_s_language(org: Any, language: str) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    fast, _slow = both(
        op,
        lambda fast: _post(
            _client(token, **{"Accept-Language": language}),
            _result_url(tid),
            _result_body(status="no_such_status"),
        ),
    )
    assert fast.status_code == 422
    assert fast["Content-Language"] == language
    assert _served_fast(fast)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"[]",
        json.dumps({"status": "completed"}).encode(),
        json.dumps(
            {"status": "completed", "idempotency_key": "k", "callback": {"at": "x"}}
        ).encode(),
        json.dumps({"status": 3, "idempotency_key": "k"}).encode(),
    ],
)
def test_bodies_ninja_refuses_are_refused_the_same_way(org: Any, raw: bytes) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    fast, _slow = both(op, lambda fast: _post(_client(token), _result_url(tid), raw=raw))
    assert fast.status_code in (400, 422)


def test_a_callback_and_a_survey_version_are_recorded_the_same_way(org: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    at = (timezone.now() + dt.timedelta(hours=3)).replace(microsecond=0).isoformat()
    body = _result_body(status="callback", callback={"at": at, "personal": True})
    fast, _slow = both(op, lambda fast: _post(_client(token), _result_url(tid), body))
    assert fast.status_code in (201, 422)


@pytest.mark.parametrize("case", ["unknown_target", "other_org_target", "not_a_uuid"])
def test_results_for_targets_out_of_reach(org: Any, other_org: Any, case: str) -> None:
    op = make_operation(org, people=2)
    token = _token(make_agent(op))
    tid = _claimed(op, token)
    if case == "unknown_target":
        tid = str(uuid.uuid4())
    elif case == "other_org_target":
        other = make_operation(other_org, people=1)
        tid = _claimed(other, _token(make_agent(other)))
    elif case == "not_a_uuid":
        tid = "nope"
    fast, _slow = both(op, lambda fast: _post(_client(token), _result_url(tid), _result_body()))
    assert fast.status_code == (422 if case == "not_a_uuid" else 404)


def test_other_methods_and_paths_are_ninja_s(org: Any) -> None:
    op = make_operation(org, people=1)
    token = _token(make_agent(op))
    fast, _slow = both(op, lambda fast: _client(token).get(_claim_url(op)))
    assert fast.status_code == 405
    fast, _slow = both(op, lambda fast: _post(_client(token), _claim_url(op) + "/"))
    assert fast.status_code == 404


def test_a_browser_session_is_served_by_ninja(org: Any) -> None:
    from conftest import client_for

    op = make_operation(org, people=2)
    agent = make_agent(op)
    client = client_for(agent)
    response = _post(client, _claim_url(op))
    assert response.status_code == 200 and response.json()["target"]
    assert not _served_fast(response)

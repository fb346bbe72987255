"""Claims under real concurrency: threads, each with its own database connection."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from mobiliza.calling import services
from mobiliza.calling.dispenser import target_claim
from mobiliza.calling.models import CallAttempt, CallTarget
from mobiliza.calling.tests.factories import make_agent, make_operation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def test_concurrent_claims_never_hand_one_target_to_two_agents(org: Any) -> None:
    operation = make_operation(org, people=30)
    agents = [make_agent(operation) for _ in range(40)]
    barrier = threading.Barrier(len(agents))
    got: dict[int, int | None] = {}
    errors: list[BaseException] = []

    def work(agent: Any) -> None:
        try:
            barrier.wait()
            claim = target_claim(operation=operation, agent=agent)
            got[agent.id] = claim.target.pk if claim.target else None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    _run([threading.Thread(target=work, args=(a,)) for a in agents])
    assert not errors, errors
    held = [t for t in got.values() if t is not None]
    assert len(held) == 30 and len(set(held)) == 30  # everyone got a different one, none twice
    assert sum(1 for t in got.values() if t is None) == 10
    assert CallTarget.objects.filter(operation=operation, held_by__isnull=False).count() == 30


def test_claim_result_cycles_lose_nothing_and_never_double_hold(org: Any) -> None:
    operation = make_operation(org, people=60)
    agents = [make_agent(operation) for _ in range(12)]
    recorded: Counter[int] = Counter()
    active: dict[int, int] = {}
    violations: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(agent: Any) -> None:
        try:
            while True:
                claim = target_claim(operation=operation, agent=agent)
                if claim.target is None:
                    return
                pk = claim.target.pk
                with lock:
                    if pk in active and active[pk] != agent.id:
                        violations.append(f"{pk} held by {active[pk]} and {agent.id}")
                    active[pk] = agent.id
                key = uuid.uuid4().hex
                with lock:
                    active.pop(pk, None)
                # a doubled submit with the same key records once
                services.call_result_record(
                    target=claim.target, agent=agent, status_key="completed", idempotency_key=key
                )
                services.call_result_record(
                    target=claim.target, agent=agent, status_key="completed", idempotency_key=key
                )
                with lock:
                    recorded[pk] += 1
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connections.close_all()

    _run([threading.Thread(target=work, args=(a,)) for a in agents])
    assert not errors, errors
    assert not violations
    assert sum(recorded.values()) == 60 and set(recorded.values()) == {1}
    assert CallAttempt.objects.filter(operation=operation).count() == 60
    assert CallTarget.objects.filter(operation=operation, state="done").count() == 60


def test_concurrent_claims_by_one_agent_hold_one_target(org: Any) -> None:
    operation = make_operation(org, people=10)
    agent = make_agent(operation)
    barrier = threading.Barrier(8)
    got: list[int] = []

    def work() -> None:
        try:
            barrier.wait()
            claim = target_claim(operation=operation, agent=agent)
            if claim.target:
                got.append(claim.target.pk)
        finally:
            connections.close_all()

    _run([threading.Thread(target=work) for _ in range(8)])
    assert len(set(got)) == 1
    assert CallTarget.objects.filter(operation=operation, held_by=agent).count() == 1


def test_expired_leases_come_back_under_concurrency(org: Any) -> None:
    operation = make_operation(org, people=5)
    first = [make_agent(operation) for _ in range(5)]
    now = timezone.now()
    for agent in first:
        assert target_claim(operation=operation, agent=agent, now=now).target is not None
    later = now + dt.timedelta(minutes=operation.lease_minutes + 1)
    second = [make_agent(operation) for _ in range(8)]
    got: list[int] = []
    barrier = threading.Barrier(len(second))

    def work(agent: Any) -> None:
        try:
            barrier.wait()
            claim = target_claim(operation=operation, agent=agent, now=later)
            if claim.target:
                got.append(claim.target.pk)
        finally:
            connections.close_all()

    _run([threading.Thread(target=work, args=(a,)) for a in second])
    assert len(got) == 5 and len(set(got)) == 5

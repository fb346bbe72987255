"""Merging two people keeps every call attempt (the attempt log is append-only)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.calling import services
from mobiliza.calling.dispenser import list_build
from mobiliza.calling.models import CallAttempt, CallTarget
from mobiliza.calling.tests.factories import make_agent, make_operation, make_person
from mobiliza.core.models import AuditEvent
from mobiliza.people.services import person_merge

pytestmark = pytest.mark.django_db
S = CallTarget.State


def _call(target: CallTarget, agent: Any, status: str, now: dt.datetime) -> None:
    """The agent holds `target` (as after a claim) and records `status`."""
    CallTarget.objects.filter(pk=target.pk).update(
        held_by=agent, lease_expires_at=now + dt.timedelta(minutes=15)
    )
    target.refresh_from_db()
    services.call_result_record(
        target=target,
        agent=agent,
        status_key=status,
        idempotency_key=uuid.uuid4().hex,
        now=now,
    )


def test_both_people_in_one_operation_keep_all_their_attempts(org: Any) -> None:
    keep, other = make_person(org), make_person(org)
    op = make_operation(org)
    agent = make_agent(op)
    t_keep = CallTarget.objects.get(operation=op, person=keep)
    t_other = CallTarget.objects.get(operation=op, person=other)
    now = timezone.now()
    _call(t_keep, agent, "no_answer", now - dt.timedelta(hours=2))
    _call(t_other, agent, "no_answer", now - dt.timedelta(hours=1))
    _call(t_other, agent, "completed", now)
    assert CallAttempt.objects.filter(operation=op).count() == 3

    person_merge(keep=keep, other=other, actor=None)

    attempts = CallAttempt.objects.filter(operation=op)
    assert attempts.count() == 3  # nothing cascaded away with the merged person
    assert set(attempts.values_list("target_id", flat=True)) == {t_keep.pk}
    assert set(attempts.values_list("person_id", flat=True)) == {keep.pk}
    assert not CallTarget.objects.filter(pk=t_other.pk).exists()
    t_keep.refresh_from_db()
    assert t_keep.attempts == 3
    assert t_keep.status_counts == {"no_answer": 2, "completed": 1}
    assert t_keep.last_status is not None and t_keep.last_status.key == "completed"
    assert t_keep.last_attempt_at == now
    # the merged person was reached: the kept one is not called again
    assert t_keep.state == S.DONE
    event = AuditEvent.objects.get(action=AuditEvent.Action.MERGE, object_id=str(keep.public_id))
    assert event.meta["moved"]["calling.calltarget.merged"] == 1
    assert event.meta["moved"]["calling.callattempt"] == 2  # the merged person's two calls


def test_a_target_held_by_an_agent_stays_in_their_hands(org: Any) -> None:
    keep, other = make_person(org), make_person(org)
    op = make_operation(org)
    agent = make_agent(op)
    t_other = CallTarget.objects.get(operation=op, person=other)
    _call(t_other, agent, "completed", timezone.now())
    CallTarget.objects.filter(operation=op, person=keep).update(held_by=agent)

    person_merge(keep=keep, other=other, actor=None)

    t_keep = CallTarget.objects.get(operation=op, person=keep)
    assert t_keep.state == S.READY and t_keep.held_by_id == agent.pk
    assert t_keep.attempts == 1
    assert CallAttempt.objects.get(operation=op).target_id == t_keep.pk


def test_a_target_only_the_merged_person_had_moves_with_its_attempts(org: Any) -> None:
    keep = make_person(org)
    op = make_operation(org)  # only `keep` is in it
    other = make_person(org)
    op2 = make_operation(org, build=False, name="Second")
    CallTarget.objects.filter(operation=op).delete()
    op2.is_draft = False
    op2.save()
    list_build(operation=op2)  # keep and other are both in op2
    CallTarget.objects.filter(operation=op2, person=keep).delete()
    agent = make_agent(op2)
    t_other = CallTarget.objects.get(operation=op2, person=other)
    _call(t_other, agent, "no_answer", timezone.now())

    person_merge(keep=keep, other=other, actor=None)

    t_other.refresh_from_db()
    assert t_other.person_id == keep.pk
    attempt = CallAttempt.objects.get(operation=op2)
    assert attempt.target_id == t_other.pk and attempt.person_id == keep.pk

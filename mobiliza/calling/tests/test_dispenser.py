from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.calling import services
from mobiliza.calling.dispenser import list_build, queue_explain, target_claim, target_heartbeat
from mobiliza.calling.models import CallAttempt, CallTarget, RecyclingRule
from mobiliza.calling.tests.factories import make_agent, make_operation, make_person
from mobiliza.people.models import Person, PersonPhone

pytestmark = pytest.mark.django_db


def _key() -> str:
    return uuid.uuid4().hex


def _result(target: CallTarget, agent: Any, status: str, **kw: Any) -> services.ResultOutcome:
    return services.call_result_record(
        target=target, agent=agent, status_key=status, idempotency_key=kw.pop("key", _key()), **kw
    )


def test_build_materializes_one_target_per_callable_person_and_reports_the_others(org: Any) -> None:
    operation = make_operation(org, people=3, build=False)
    make_person(org, phone=None)
    bad = make_person(org)
    PersonPhone.objects.filter(person=bad).update(is_valid=False)
    make_person(org, do_not_contact=True)
    make_person(org, list="electors")
    report = list_build(operation=operation)
    assert report["in_list"] == 6
    assert report["no_phone"] == 2
    assert report["targets"] == 4
    assert report["removed"] == 1
    assert CallTarget.objects.filter(operation=operation, state="ready").count() == 3
    # Rebuilding is idempotent.
    assert list_build(operation=operation)["targets"] == 4


def test_claim_returns_a_lease_and_the_same_target_on_reload(org: Any) -> None:
    operation = make_operation(org, people=2)
    agent = make_agent(operation)
    first = target_claim(operation=operation, agent=agent)
    assert first.target is not None
    again = target_claim(operation=operation, agent=agent)
    assert again.target is not None and again.target.pk == first.target.pk and again.reused
    other = target_claim(operation=operation, agent=make_agent(operation))
    assert other.target is not None and other.target.pk != first.target.pk


def test_lease_expires_and_the_target_comes_back(org: Any) -> None:
    operation = make_operation(org, people=1)
    a, b = make_agent(operation), make_agent(operation)
    now = timezone.now()
    claimed = target_claim(operation=operation, agent=a, now=now)
    assert claimed.target is not None
    assert target_claim(operation=operation, agent=b, now=now).target is None
    later = now + dt.timedelta(minutes=16)
    taken = target_claim(operation=operation, agent=b, now=later)
    assert taken.target is not None and taken.target.pk == claimed.target.pk
    # The first agent's result is refused now: someone else holds it.
    with pytest.raises(services.ResultConflictError):
        _result(claimed.target, a, "completed")


def test_heartbeat_extends_the_lease(org: Any) -> None:
    operation = make_operation(org, people=1)
    a, b = make_agent(operation), make_agent(operation)
    now = timezone.now()
    claimed = target_claim(operation=operation, agent=a, now=now)
    assert claimed.target is not None
    target_heartbeat(target=claimed.target, agent=a, now=now + dt.timedelta(minutes=14))
    assert (
        target_claim(operation=operation, agent=b, now=now + dt.timedelta(minutes=20)).target
        is None
    )


def test_result_is_recorded_once_per_key(org: Any) -> None:
    operation = make_operation(org, people=2)
    agent = make_agent(operation)
    target = target_claim(operation=operation, agent=agent).target
    assert target is not None
    key = _key()
    first = _result(target, agent, "completed", key=key, notes="hello")
    second = _result(target, agent, "completed", key=key, notes="hello")
    assert not first.replayed and second.replayed
    assert first.attempt.pk == second.attempt.pk
    assert CallAttempt.objects.filter(operation=operation).count() == 1
    target.refresh_from_db()
    assert target.state == "done" and target.attempts == 1 and target.held_by is None


def test_bad_result_changes_nothing(org: Any) -> None:
    operation = make_operation(org, people=1)
    agent = make_agent(operation)
    target = target_claim(operation=operation, agent=agent).target
    assert target is not None
    from django.core.exceptions import ValidationError

    for status, kw in [
        ("nope", {}),
        ("auto_busy", {}),
        ("completed", {"key": "short"}),
        ("completed", {"field_edits": {"voter_id": "X"}}),
        (
            "completed",
            {"callback": services.CallbackInput(at=timezone.now() - dt.timedelta(hours=1))},
        ),
    ]:
        with pytest.raises(ValidationError):
            _result(target, agent, status, **kw)
    target.refresh_from_db()
    assert target.held_by_id == agent.id and target.attempts == 0
    assert not CallAttempt.objects.exists()


# Recycling, table-driven over every group of statuses: (status, checked, max, expected outcomes)
RECYCLING_CASES = [
    # agent statuses with defaults
    ("no_answer", True, 2, ["recycled", "recycled", "done"]),
    ("not_home", True, 1, ["recycled", "done"]),
    ("call_back", True, 1, ["recycled", "done"]),
    ("line_busy", True, 0, ["done"]),
    ("voicemail", False, 3, ["done"]),
    ("wrong_number", False, 0, ["done"]),
    ("refused", False, 0, ["done"]),
    ("moved", False, 0, ["done"]),
    ("completed", False, 0, ["done"]),
    ("completed", True, 2, ["recycled", "recycled", "done"]),
    # removal and do-not-call flags win over recycling
    ("remove", True, 3, ["removed"]),
    ("deceased", True, 3, ["removed"]),
    ("do_not_call", True, 3, ["removed"]),
]


@pytest.mark.parametrize(("status", "checked", "max_calls", "expected"), RECYCLING_CASES)
def test_recycling_table(
    org: Any, status: str, checked: bool, max_calls: int, expected: list[str]
) -> None:
    operation = make_operation(org, people=1)
    RecyclingRule.objects.filter(operation=operation, status__key=status).update(
        enabled=checked, max_further_calls=max_calls, interval_minutes=30
    )
    agent = make_agent(operation)
    now = timezone.now()
    outcomes = []
    for i in range(len(expected)):
        at = now + dt.timedelta(minutes=31 * i)
        claim = target_claim(operation=operation, agent=agent, now=at)
        assert claim.target is not None, (i, claim.reasons)
        # before the interval passes nothing is handed out
        outcome = _result(claim.target, agent, status, now=at).attempt.outcome
        outcomes.append(outcome)
        if outcome == "recycled":
            early = target_claim(operation=operation, agent=agent, now=at + dt.timedelta(minutes=5))
            assert early.target is None
            assert early.reasons["waiting_recycling_interval"] == 1
    assert outcomes == expected
    target = CallTarget.objects.get(operation=operation)
    assert target.state == expected[-1] if expected[-1] != "recycled" else "ready"
    if status in {"deceased", "do_not_call"}:
        assert Person.objects.get(pk=target.person_id).do_not_contact


def test_auto_detected_statuses_are_recycled_by_the_same_rules(org: Any) -> None:
    from mobiliza.calling.models import CallStatus
    from mobiliza.calling.services import _apply_status

    operation = make_operation(org, people=1)
    agent = make_agent(operation)
    for key in ["auto_error", "auto_no_answer", "auto_canceled", "auto_busy", "auto_voicemail"]:
        rule = RecyclingRule.objects.get(operation=operation, status__key=key)
        target = CallTarget.objects.get(operation=operation)
        target.status_counts = {}
        target.state = "ready"
        status = CallStatus.objects.get(organization=org, key=key)
        person = Person.objects.get(pk=target.person_id)
        outcome = _apply_status(
            target=target,
            operation=operation,
            status=status,
            callback=None,
            agent=agent,
            now=timezone.now(),
            person=person,
        )
        assert outcome == ("recycled" if rule.enabled and rule.max_further_calls else "done")
    status = CallStatus.objects.get(organization=org, key="auto_invalid_number")
    target.status_counts = {}
    outcome = _apply_status(
        target=target,
        operation=operation,
        status=status,
        callback=None,
        agent=agent,
        now=timezone.now(),
        person=person,
    )
    assert outcome == "done"


def test_callbacks_personal_then_open(org: Any) -> None:
    operation = make_operation(org, people=2, callback_open_after_minutes=30)
    a, b = make_agent(operation), make_agent(operation)
    now = timezone.now()
    target = target_claim(operation=operation, agent=a, now=now).target
    assert target is not None
    at = now + dt.timedelta(hours=1)
    _result(target, a, "call_back", callback=services.CallbackInput(at=at, personal=True), now=now)
    # b gets the other person, then nothing; a gets their callback once due, first.
    other = target_claim(operation=operation, agent=b, now=now).target
    assert other is not None and other.pk != target.pk
    _result(other, b, "completed", now=now)
    empty = target_claim(operation=operation, agent=b, now=at + dt.timedelta(minutes=1))
    assert empty.target is None and empty.reasons["callbacks_not_yet_due"] == 1
    opened = target_claim(operation=operation, agent=b, now=at + dt.timedelta(minutes=31))
    assert opened.target is not None and opened.target.pk == target.pk


def test_personal_callback_comes_first_for_its_agent(org: Any) -> None:
    operation = make_operation(org, people=3)
    a = make_agent(operation)
    now = timezone.now()
    target = target_claim(operation=operation, agent=a, now=now).target
    assert target is not None
    _result(
        target,
        a,
        "call_back",
        callback=services.CallbackInput(at=now + dt.timedelta(minutes=10)),
        now=now,
    )
    again = target_claim(operation=operation, agent=a, now=now + dt.timedelta(minutes=11)).target
    assert again is not None and again.pk == target.pk


def test_order_open_callback_then_recycled_then_fresh(org: Any) -> None:
    operation = make_operation(org, people=3)
    a = make_agent(operation)
    now = timezone.now()
    t1 = target_claim(operation=operation, agent=a, now=now).target
    assert t1 is not None
    _result(t1, a, "no_answer", now=now)  # recycled in 90 minutes
    t2 = target_claim(operation=operation, agent=a, now=now).target
    assert t2 is not None
    _result(
        t2,
        a,
        "call_back",
        callback=services.CallbackInput(at=now + dt.timedelta(minutes=60), personal=False),
        now=now,
    )
    later = now + dt.timedelta(minutes=120)
    order = []
    for _ in range(3):
        t = target_claim(operation=operation, agent=a, now=later).target
        assert t is not None
        order.append(t.pk)
        _result(t, a, "completed", now=later)
    assert order[0] == t2.pk and order[1] == t1.pk


def test_paused_and_out_of_dates_hand_out_nothing(org: Any) -> None:
    operation = make_operation(org, people=1)
    a = make_agent(operation)
    operation.paused = True
    assert target_claim(operation=operation, agent=a).message == "paused"
    operation.paused = False
    operation.ends_at = timezone.now() - dt.timedelta(minutes=1)
    assert target_claim(operation=operation, agent=a).message == "ended"
    operation.ends_at = timezone.now() + dt.timedelta(days=3)
    operation.starts_on = timezone.localdate() + dt.timedelta(days=1)
    assert target_claim(operation=operation, agent=a).message == "not_started"


def test_why_nothing_counts_and_next_time(org: Any) -> None:
    operation = make_operation(org, people=0, build=False)
    make_person(org, time_zone="Pacific/Kiritimati")  # UTC+14
    make_person(org, time_zone="Pacific/Pago_Pago")  # UTC-11
    operation.window_start = dt.time(9)
    operation.window_end = dt.time(17)
    operation.is_draft = False
    operation.save()
    list_build(operation=operation)
    a = make_agent(operation)
    # 20:00 UTC = 10:00 next day in Kiritimati, 09:00 in Pago Pago: both open
    base = dt.datetime(2030, 1, 8, 20, 0, tzinfo=dt.UTC)
    operation.starts_on = dt.date(2030, 1, 1)
    operation.ends_at = dt.datetime(2030, 2, 1, tzinfo=dt.UTC)
    reasons, _n = queue_explain(operation=operation, agent=a, now=base)
    assert reasons["ready_now"] == 2
    # 04:00 UTC: 18:00 Kiritimati (closed), 17:00 Pago Pago (closed)
    closed = dt.datetime(2030, 1, 9, 4, 0, tzinfo=dt.UTC)
    claim = target_claim(operation=operation, agent=a, now=closed)
    assert claim.target is None
    assert claim.reasons["outside_calling_hours"] == 2
    # Kiritimati opens at 09:00 local = 19:00 UTC
    assert claim.next_available_at == dt.datetime(2030, 1, 9, 19, 0, tzinfo=dt.UTC)


def test_unknown_time_zone_is_never_called(org: Any) -> None:
    operation = make_operation(org, people=0, build=False)
    make_person(org, time_zone="Mars/Olympus")
    operation.is_draft = False
    operation.save()
    report = list_build(operation=operation)
    assert report["unknown_time_zones"] == ["Mars/Olympus"]
    claim = target_claim(operation=operation, agent=make_agent(operation))
    assert claim.target is None and claim.reasons["outside_calling_hours"] == 1


def test_person_without_time_zone_uses_the_organization_zone(org: Any) -> None:
    operation = make_operation(org, people=0, build=False)
    make_person(org, time_zone="")
    operation.is_draft = False
    operation.save()
    list_build(operation=operation)
    assert CallTarget.objects.get(operation=operation).time_zone == org.time_zone


def test_rule_changes_reach_the_hot_path_at_once(org: Any) -> None:
    """The per-process rules cache is keyed by the operation's updated_at: a saved rule counts."""
    operation = make_operation(org, people=2)
    agent = make_agent(operation)
    first = target_claim(operation=operation, agent=agent).target
    assert first is not None
    assert _result(first, agent, "no_answer").attempt.outcome == "recycled"
    rule = RecyclingRule.objects.get(operation=operation, status__key="no_answer")
    services.recycling_save(
        operation=operation,
        rows=[services.RecyclingInput(rule.status_id, False, 0, 60)],
    )
    second = target_claim(operation=operation, agent=agent).target
    assert second is not None and second.pk != first.pk
    second.operation = operation
    assert _result(second, agent, "no_answer").attempt.outcome == "done"

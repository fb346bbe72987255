"""The full simulated flow (claim → dial → the simulator's signed callbacks through the real
webhook endpoint → bridged call or auto-detected result), recycling, costs and the spending cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.calling.dispenser import target_claim
from mobiliza.calling.models import CallAttempt, CallTarget
from mobiliza.calling.services import call_result_record
from mobiliza.providers.models import WebhookEvent
from mobiliza.providers.services import simulator_tick
from mobiliza.telephony.models import PlacedCall
from mobiliza.telephony.services import DialRefusedError, call_dial, call_hang_up
from mobiliza.telephony.tests.factories import (
    held_target,
    make_software_operation,
    make_voice_account,
    verified_agent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _commit_hooks(django_capture_on_commit_callbacks: Any) -> None:
    """Tests run in a transaction: run what services queue with on_commit (a hang-up after
    voicemail, a reprocess of early callbacks) when each tick ends, as a real commit would."""
    global _capture
    _capture = django_capture_on_commit_callbacks


_capture: Any = None


def tick(seconds: float) -> int:
    with _capture(execute=True):
        return simulator_tick(now=timezone.now() + dt.timedelta(seconds=seconds))


def run_all(seconds: float = 600) -> None:
    """Deliver every simulated callback due within `seconds` (the hang-up ones included)."""
    for _ in range(5):
        if not tick(seconds):
            break


def setup(org: Any, *, outcome: str, people: int = 2, **settings: Any) -> tuple[Any, Any, Any]:
    make_voice_account(org, voice_mix={outcome: 1})
    operation = make_software_operation(org, people=people, **settings)
    agent = verified_agent(operation)
    return operation, agent, held_target(operation, agent)


def test_bridged_call_reaches_connected_then_the_agent_saves_the_result(org: Any) -> None:
    _operation, agent, target = setup(org, outcome="human")
    call = call_dial(target=target, agent=agent)
    assert call.stage == PlacedCall.Stage.CALLING_AGENT and call.agent_call_id.startswith("CA")
    # Step through the carrier's timeline: the agent picks up, the person's phone rings, answers.
    tick(4)
    call.refresh_from_db()
    assert call.stage in (PlacedCall.Stage.DIALING, PlacedCall.Stage.RINGING)
    tick(15)
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.CONNECTED and call.answered_at is not None
    run_all()
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.auto_status == ""
    assert not call.result_recorded  # a human answered: the agent chooses the status
    assert call.person_duration_seconds >= 20 and call.price > 0
    assert call.price_source == PlacedCall.PriceSource.RATE
    outcome = call_result_record(
        target=target, agent=agent, status_key="completed", idempotency_key="k" * 16
    )
    assert outcome.attempt.status.key == "completed"
    assert not WebhookEvent.objects.exclude(outcome="processed").exists()


@pytest.mark.parametrize(
    ("outcome", "status", "target_outcome"),
    [
        ("busy", "auto_busy", "recycled"),
        ("no_answer", "auto_no_answer", "recycled"),
        ("voicemail", "auto_voicemail", "recycled"),
        ("invalid", "auto_invalid_number", "done"),
        ("failed", "auto_error", "recycled"),
    ],
)
def test_calls_without_a_human_are_recorded_and_recycled_automatically(
    org: Any, outcome: str, status: str, target_outcome: str
) -> None:
    operation, agent, target = setup(org, outcome=outcome)
    call = call_dial(target=target, agent=agent)
    run_all()
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED
    assert call.auto_status == status and call.result_recorded
    attempt = CallAttempt.objects.get(target=target)
    assert attempt.status.key == status and attempt.agent == agent
    assert attempt.outcome == target_outcome
    assert attempt.idempotency_key == f"call-{call.person_call_id}"
    target.refresh_from_db()
    assert target.held_by is None
    if target_outcome == "recycled":
        assert target.state == CallTarget.State.READY
        assert target.priority == CallTarget.Priority.RECYCLED
        assert target.available_at > timezone.now()
    else:
        assert target.state == CallTarget.State.DONE
    # The agent's screen moves on: the next claim gives someone else.
    nxt = target_claim(operation=operation, agent=agent)
    assert nxt.target is not None and nxt.target.pk != target.pk


def test_voicemail_without_detection_is_left_to_the_agent(org: Any) -> None:
    _operation, agent, target = setup(org, outcome="voicemail", machine_detection=False)
    call = call_dial(target=target, agent=agent)
    run_all()
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.auto_status == ""
    assert not CallAttempt.objects.exists()


def test_voicemail_detection_hangs_up_before_the_message_ends(org: Any) -> None:
    _operation, agent, target = setup(org, outcome="voicemail")
    call = call_dial(target=target, agent=agent)
    # Deliver up to the AMD callback only: the handler hangs up (simulator drops the rest).
    tick(20)
    run_all(seconds=5 * 60)
    call.refresh_from_db()
    assert call.answered_by == "machine_end_beep"
    assert call.auto_status == "auto_voicemail" and call.result_recorded
    assert call.person_duration_seconds < 15  # hung up, not left to play to the end


def test_auto_status_is_recorded_once_when_callbacks_are_redelivered(org: Any) -> None:
    from mobiliza.providers.models import SimulatedEvent

    _operation, agent, target = setup(org, outcome="busy")
    call_dial(target=target, agent=agent)
    run_all()
    # The carrier retries every callback twice more.
    for event in list(SimulatedEvent.objects.all()):
        for _ in range(2):
            SimulatedEvent.objects.create(
                account=event.account, path=event.path, params=event.params, due_at=timezone.now()
            )
    run_all()
    assert CallAttempt.objects.filter(target=target).count() == 1
    assert WebhookEvent.objects.filter(deliveries=3).count() == WebhookEvent.objects.count()


def test_agent_who_does_not_pick_up_keeps_the_person(org: Any) -> None:
    from mobiliza.providers.models import SimulatedEvent

    _operation, agent, target = setup(org, outcome="human")
    call = call_dial(target=target, agent=agent)
    # Replace the timeline: the agent's phone rings out.
    first = SimulatedEvent.objects.order_by("due_at").first()
    assert first is not None
    SimulatedEvent.objects.all().delete()
    params = {**first.params, "CallStatus": "no-answer"}
    SimulatedEvent.objects.create(
        account=first.account, path=first.path, params=params, due_at=timezone.now()
    )
    run_all()
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.end_reason == "agent_unreachable"
    assert not CallAttempt.objects.exists()
    target.refresh_from_db()
    assert target.held_by == agent
    # ... and may dial again.
    assert call_dial(target=target, agent=agent).pk != call.pk


def test_hang_up_ends_both_legs(org: Any) -> None:
    _operation, agent, target = setup(org, outcome="human")
    call = call_dial(target=target, agent=agent)
    tick(15)
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.CONNECTED
    call_hang_up(call=call, agent=agent)
    run_all(seconds=2)
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.end_reason == "completed"


def test_dial_refusals(org: Any) -> None:
    from mobiliza.calling.tests.factories import make_agent

    operation, agent, target = setup(org, outcome="human")
    stranger = make_agent(operation)
    with pytest.raises(DialRefusedError) as exc:
        call_dial(target=target, agent=stranger)
    assert exc.value.code == "not_held"
    other_target = held_target(operation, stranger)
    with pytest.raises(DialRefusedError) as exc:
        call_dial(target=other_target, agent=stranger)
    assert exc.value.code == "phone_not_verified"
    call_dial(target=target, agent=agent)
    with pytest.raises(DialRefusedError) as exc:
        call_dial(target=target, agent=agent)
    assert exc.value.code == "busy"


def test_spending_cap_stops_new_calls_and_says_why(org: Any) -> None:
    from mobiliza.telephony.services import voice_settings_update

    voice_settings_update(
        organization=org,
        actor=None,
        rate_per_minute="0.50",
        currency="EUR",
        use_provider_price=True,
    )
    operation, agent, target = setup(org, outcome="busy", people=3, spending_cap="0.50")
    call = call_dial(target=target, agent=agent)
    run_all()
    call.refresh_from_db()
    # The agent's leg was up for a few seconds: one started minute at 0.50 reaches the cap.
    assert call.price == Decimal("0.5000")
    claim = target_claim(operation=operation, agent=agent)
    assert claim.target is None and claim.message == "spending_cap"
    target2 = CallTarget.objects.filter(operation=operation, state="ready").exclude(pk=target.pk)
    nxt = target2.first()
    assert nxt is not None
    nxt.held_by, nxt.lease_expires_at = agent, timezone.now() + dt.timedelta(minutes=5)
    nxt.save()
    with pytest.raises(DialRefusedError) as exc:
        call_dial(target=nxt, agent=agent)
    assert exc.value.code == "spending_cap" and "spending cap" in exc.value.message


def test_own_phone_operations_are_untouched(org: Any) -> None:
    from mobiliza.calling.tests.factories import make_agent, make_operation

    operation = make_operation(org, people=1)
    agent = make_agent(operation)
    target = held_target(operation, agent)
    with pytest.raises(DialRefusedError) as exc:
        call_dial(target=target, agent=agent)
    assert exc.value.code == "own_phone"


def test_a_call_whose_callbacks_were_lost_can_be_ended_by_the_agent(org: Any) -> None:
    from mobiliza.providers.models import SimulatedEvent

    _operation, agent, target = setup(org, outcome="human")
    call = call_dial(target=target, agent=agent)
    SimulatedEvent.objects.all().delete()  # the carrier never calls back
    PlacedCall.objects.filter(pk=call.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=6)
    )
    call.refresh_from_db()
    call_hang_up(call=call, agent=agent)
    call.refresh_from_db()
    assert call.stage == PlacedCall.Stage.ENDED and call.end_reason == "no_callbacks"
    assert call_dial(target=target, agent=agent).pk != call.pk


def test_demo_organization_gets_a_software_operation_on_the_simulator(
    org: Any, admin_member: Any
) -> None:
    from mobiliza.calling.models import CallOperation
    from mobiliza.web.demo import demo_seeders

    for seeder in demo_seeders():
        seeder(org, admin_member.user)
    software = CallOperation.objects.get(organization=org, call_method="software")
    assert software.state == "running" and software.method_settings["machine_detection"]
    assert CallTarget.objects.filter(operation=software).exists()
    from mobiliza.providers.models import ProviderAccount

    assert ProviderAccount.objects.get(organization=org, is_default=True).kind == "simulator"

"""Builders for telephony tests: a software-placed operation on a (quiet) simulator account, an
agent with a verified phone holding a target. Registers the isolation maker for placed calls."""

from __future__ import annotations

from typing import Any

from mobiliza.core.testing.isolation import register_isolation_maker

AGENT_PHONE = "+351910000099"


def make_voice_account(organization: Any, **voice_options: Any) -> Any:
    """The organization's default simulator account; `voice_mix={"busy": 1}` forces an outcome."""
    from mobiliza.providers.tests.factories import make_account

    return make_account(organization, **voice_options)


def make_software_operation(organization: Any, *, people: int = 3, **settings: Any) -> Any:
    from mobiliza.calling.tests.factories import make_operation

    method_settings = {"caller_id": "", "machine_detection": True, "spending_cap": ""}
    method_settings.update(settings)
    return make_operation(
        organization, people=people, call_method="software", method_settings=method_settings
    )


def verified_agent(operation: Any) -> Any:
    """An agent of the operation whose calling phone is verified."""
    from mobiliza.calling.tests.factories import make_agent
    from mobiliza.telephony.models import AgentPhone
    from mobiliza.telephony.services import agent_phone_start, agent_phone_verify

    agent = make_agent(operation)
    agent_phone_start(membership=agent, number=AGENT_PHONE)
    code = AgentPhone.objects.get(membership=agent).simulator_code
    agent_phone_verify(membership=agent, code=code)
    return agent


def held_target(operation: Any, agent: Any) -> Any:
    from mobiliza.calling.dispenser import target_claim

    claim = target_claim(operation=operation, agent=agent)
    assert claim.target is not None, claim
    return claim.target


def make_placed_call(organization: Any, **voice_options: Any) -> Any:
    from mobiliza.providers.models import ProviderAccount
    from mobiliza.telephony.services import call_dial

    if not ProviderAccount.objects.filter(organization=organization).exists():
        make_voice_account(organization, **voice_options)
    operation = make_software_operation(organization, people=1)
    agent = verified_agent(operation)
    call = call_dial(target=held_target(operation, agent), agent=agent)
    call.isolation_owner = agent  # type: ignore[attr-defined]
    return call


register_isolation_maker("telephony.placedcall", make_placed_call)

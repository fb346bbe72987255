"""Texting test data, built through the services. Registers isolation makers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mobiliza.core.testing.isolation import register_isolation_maker

ALL_DAY = {"hours_start": dt.time(0, 0), "hours_end": dt.time(23, 59, 59, 999999)}


def make_people(organization: Any, count: int, *, start: int = 0, **fields: Any) -> list[Any]:
    from mobiliza.people.models import Person, PersonPhone

    people = []
    for i in range(start, start + count):
        person = Person.objects.create(
            organization=organization,
            first_name=fields.get("first_name", f"Ana{i}"),
            last_name="Silva",
            time_zone=fields.get("time_zone", ""),
        )
        PersonPhone.objects.create(
            organization=organization,
            person=person,
            raw=f"+3519120{i:05d}",
            e164=f"+3519120{i:05d}",
            kind="mobile",
        )
        people.append(person)
    return people


def make_segment(organization: Any, people: list[Any]) -> Any:
    from mobiliza.people.models import Segment, SegmentMember

    segment = Segment.objects.create(
        organization=organization, name="Texting list", kind=Segment.Kind.STATIC
    )
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, person=p) for p in people])
    return segment


def make_campaign(
    organization: Any,
    *,
    people: int = 3,
    active: bool = True,
    account_options: dict[str, Any] | None = None,
    **values: Any,
) -> Any:
    from mobiliza.providers.models import ProviderAccount, SenderNumber
    from mobiliza.providers.tests.factories import make_account, make_sender
    from mobiliza.texting.services import campaign_create, campaign_set_status

    account = ProviderAccount.objects.filter(organization=organization, is_default=True).first()
    if account is None:
        account = make_account(organization, **(account_options or {}))
    if not SenderNumber.objects.filter(organization=organization).exists():
        make_sender(organization, "+351910000001", account=account)
    crowd = make_people(organization, people)
    values.setdefault("name", "GOTV texting")
    values.setdefault("first_message", "Hi {first_name}, it's {agent_first_name}. Will you vote?")
    for key, value in ALL_DAY.items():
        values.setdefault(key, value)
    campaign = campaign_create(
        organization=organization, actor=None, segment=make_segment(organization, crowd), **values
    )
    if active:
        campaign_set_status(campaign=campaign, actor=None, status="active")
    return campaign


def make_texter(campaign: Any, role: str = "volunteer") -> Any:
    from mobiliza.accounts.tests.factories import make_member
    from mobiliza.texting.services import texter_add

    membership = make_member(campaign.organization, role)
    texter_add(campaign=campaign, membership=membership, actor=None)
    return membership


def make_conversation(organization: Any) -> Any:
    """An assigned conversation; its texter is the isolation owner."""
    from mobiliza.texting.services import assignment_request

    campaign = make_campaign(organization, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter, count=1)
    conversation = campaign.conversations.get()
    conversation.isolation_owner = texter
    return conversation


def _make_campaign(organization: Any) -> Any:
    return make_campaign(organization, people=1)


def _make_canned(organization: Any) -> Any:
    from mobiliza.texting.services import canned_response_create

    campaign = make_campaign(organization, people=1)
    return canned_response_create(campaign=campaign, actor=None, title="Thanks", text="Thank you!")


def _make_unmatched(organization: Any) -> Any:
    from mobiliza.texting.models import Message

    return Message.objects.create(
        organization=organization,
        direction=Message.Direction.INBOUND,
        body="Who is this?",
        from_e164="+351912999999",
        to_e164="+351910000001",
        status=Message.Status.RECEIVED,
    )


def _make_optout(organization: Any) -> Any:
    from mobiliza.texting.services import opt_out_record

    optout, _created = opt_out_record(
        organization=organization, phone_e164="+351912888888", source="admin", actor=None
    )
    return optout


register_isolation_maker("texting.textcampaign", _make_campaign)
register_isolation_maker("texting.conversation", make_conversation)
register_isolation_maker("texting.cannedresponse", _make_canned)
register_isolation_maker("texting.message", _make_unmatched)
register_isolation_maker("texting.optout", _make_optout)

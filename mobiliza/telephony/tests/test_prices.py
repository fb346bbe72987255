"""The periodic price pass: ended Twilio calls take the price Twilio reports, once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from mobiliza.calling.models import CallTarget
from mobiliza.providers import twilio as twilio_module
from mobiliza.providers.tests.factories import make_twilio_account
from mobiliza.providers.tests.test_twilio import FakeTwilioHttp
from mobiliza.telephony.models import PlacedCall
from mobiliza.telephony.services import placed_call_prices_refresh
from mobiliza.telephony.tests.factories import make_software_operation
from mobiliza.telephony.tests.test_providers import CALL, CHILD, call_json

pytestmark = pytest.mark.django_db


def _ended_call(org: Any, account: Any, *, minutes_ago: float, **extra: Any) -> PlacedCall:
    operation = make_software_operation(org, people=1)
    fields: dict[str, Any] = {
        "organization": org,
        "operation": operation,
        "target": CallTarget.objects.filter(operation=operation).first(),
        "account": account,
        "agent_call_id": CALL,
        "person_call_id": CHILD,
        "agent_e164": "+351910000099",
        "to_e164": "+351912000000",
        "stage": PlacedCall.Stage.ENDED,
        "ended_at": timezone.now() - dt.timedelta(minutes=minutes_ago),
        "price": Decimal("0.0800"),
        "price_source": PlacedCall.PriceSource.RATE,
    }
    fields.update(extra)
    return PlacedCall.objects.create(**fields)


def test_ended_calls_take_the_price_the_provider_reports(org: Any, monkeypatch: Any) -> None:
    account = make_twilio_account(org)
    settled = _ended_call(org, account, minutes_ago=10)
    just_ended = _ended_call(org, account, minutes_ago=0.5)
    already = _ended_call(
        org, account, minutes_ago=10, price=Decimal("0.5"), price_source="provider"
    )
    fake = FakeTwilioHttp(
        (200, call_json("completed", duration="61", price="-0.0340")),
        (200, call_json("completed", duration="40", price="-0.0120")),
    )
    monkeypatch.setattr(twilio_module, "http_client_factory", lambda: fake)

    assert placed_call_prices_refresh() == 1

    settled.refresh_from_db()
    assert settled.price == Decimal("0.0460") and settled.price_source == "provider"
    assert [r["uri"].rsplit("/", 1)[-1] for r in fake.requests] == [f"{CALL}.json", f"{CHILD}.json"]
    just_ended.refresh_from_db()
    already.refresh_from_db()
    assert just_ended.price_source == "rate" and already.price == Decimal("0.5")
    # Nothing left to price: no request at all the second time.
    assert placed_call_prices_refresh() == 0 and len(fake.requests) == 2


def test_a_price_not_known_yet_keeps_the_rate(org: Any, monkeypatch: Any) -> None:
    account = make_twilio_account(org)
    call = _ended_call(org, account, minutes_ago=10)
    fake = FakeTwilioHttp((200, call_json("completed", duration="61", price=None)))
    monkeypatch.setattr(twilio_module, "http_client_factory", lambda: fake)

    assert placed_call_prices_refresh() == 0

    call.refresh_from_db()
    assert call.price == Decimal("0.0800") and call.price_source == "rate"

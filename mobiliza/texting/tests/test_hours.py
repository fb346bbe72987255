"""Texting hours in each person's own time zone, across zones and DST changes."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mobiliza.texting.hours import person_zone, within_hours, zone_for_number
from mobiliza.texting.models import Conversation
from mobiliza.texting.services import SendRefusedError, assignment_request, send_check
from mobiliza.texting.tests.factories import make_campaign, make_texter

UTC = dt.UTC
NINE, NINE_PM = dt.time(9, 0), dt.time(21, 0)


@pytest.mark.parametrize(
    ("zone", "utc", "allowed"),
    [
        ("Europe/Lisbon", dt.datetime(2026, 1, 15, 8, 59, tzinfo=UTC), False),  # 08:59 WET
        ("Europe/Lisbon", dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC), True),
        ("Europe/Lisbon", dt.datetime(2026, 7, 15, 8, 30, tzinfo=UTC), True),  # 09:30 WEST
        ("Europe/Lisbon", dt.datetime(2026, 7, 15, 20, 0, tzinfo=UTC), False),  # 21:00 WEST
        ("Europe/Paris", dt.datetime(2026, 1, 15, 8, 0, tzinfo=UTC), True),  # 09:00 CET
        ("America/New_York", dt.datetime(2026, 1, 15, 13, 59, tzinfo=UTC), False),  # 08:59 EST
        ("America/New_York", dt.datetime(2026, 7, 15, 13, 0, tzinfo=UTC), True),  # 09:00 EDT
        ("America/Sao_Paulo", dt.datetime(2026, 1, 16, 0, 30, tzinfo=UTC), False),  # 21:30
        ("Asia/Kolkata", dt.datetime(2026, 1, 15, 3, 30, tzinfo=UTC), True),  # 09:00 IST (+5:30)
    ],
)
def test_window_in_the_person_zone(zone: str, utc: dt.datetime, allowed: bool) -> None:
    assert within_hours(start=NINE, end=NINE_PM, zone=ZoneInfo(zone), now=utc).allowed is allowed


def test_dst_spring_forward_and_fall_back() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    # 29 March 2026, 01:00 UTC clocks jump 01:00 -> 02:00 local. 08:30 UTC is 09:30 local (WEST).
    assert within_hours(
        start=NINE, end=NINE_PM, zone=lisbon, now=dt.datetime(2026, 3, 29, 8, 30, tzinfo=UTC)
    ).allowed
    # The day before, 08:30 UTC was 08:30 local: too early.
    assert not within_hours(
        start=NINE, end=NINE_PM, zone=lisbon, now=dt.datetime(2026, 3, 28, 8, 30, tzinfo=UTC)
    ).allowed
    # New York falls back on 1 November 2026: 13:30 UTC is 08:30 EST (too early) but was 09:30
    # EDT the day before.
    ny = ZoneInfo("America/New_York")
    assert within_hours(
        start=NINE, end=NINE_PM, zone=ny, now=dt.datetime(2026, 10, 31, 13, 30, tzinfo=UTC)
    ).allowed
    assert not within_hours(
        start=NINE, end=NINE_PM, zone=ny, now=dt.datetime(2026, 11, 1, 13, 30, tzinfo=UTC)
    ).allowed


def test_window_wrapping_midnight() -> None:
    zone = ZoneInfo("UTC")
    start, end = dt.time(22, 0), dt.time(2, 0)
    assert within_hours(
        start=start, end=end, zone=zone, now=dt.datetime(2026, 1, 1, 23, tzinfo=UTC)
    ).allowed
    assert within_hours(
        start=start, end=end, zone=zone, now=dt.datetime(2026, 1, 1, 1, tzinfo=UTC)
    ).allowed
    assert not within_hours(
        start=start, end=end, zone=zone, now=dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    ).allowed


def test_zone_comes_from_person_then_number_then_organization() -> None:
    assert zone_for_number("+33612345678") == "Europe/Paris"
    assert zone_for_number("+351912345678") == ""  # mainland or Azores: ambiguous
    assert zone_for_number("+12125550123") == "America/New_York"
    assert (
        person_zone(person_time_zone="Asia/Tokyo", phone_e164="+351912345678", fallback="UTC").key
        == "Asia/Tokyo"
    )
    assert (
        person_zone(person_time_zone="", phone_e164="+33612345678", fallback="UTC").key
        == "Europe/Paris"
    )
    assert (
        person_zone(person_time_zone="Not/AZone", phone_e164="", fallback="Europe/Paris").key
        == "Europe/Paris"
    )


@pytest.mark.django_db
def test_send_is_refused_outside_the_person_hours_on_the_server(org: Any) -> None:
    campaign = make_campaign(org, people=2, hours_start=NINE, hours_end=NINE_PM)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    tokyo, lisbon = campaign.conversations.select_related("person", "campaign").order_by("id")
    tokyo.person.time_zone = "Asia/Tokyo"
    tokyo.person.save()
    # 10:00 UTC in January: 10:00 in Lisbon (allowed), 19:00 in Tokyo (allowed)
    at = dt.datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    send_check(conversation=tokyo, now=at)
    send_check(conversation=lisbon, now=at)
    # 13:00 UTC: 22:00 in Tokyo (refused), 13:00 in Lisbon (allowed)
    at = dt.datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    with pytest.raises(SendRefusedError) as refused:
        send_check(conversation=tokyo, now=at)
    assert refused.value.code == "hours"
    assert "22:00" in refused.value.messages[0] and "Asia/Tokyo" in refused.value.messages[0]
    send_check(conversation=lisbon, now=at)
    assert Conversation.objects.filter(status="new").count() == 2

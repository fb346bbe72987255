"""Texting hours, applied in each person's own time zone (DST included, via zoneinfo)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def zone_for_number(e164: str) -> str:
    """The time zone of a number when the numbering plan tells exactly one, else ""."""
    try:
        zones = phone_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ""
    real = [z for z in zones if z != "Etc/Unknown"]
    return real[0] if len(real) == 1 else ""


def person_zone(*, person_time_zone: str, phone_e164: str, fallback: str) -> ZoneInfo:
    """The person's own zone: their record, else their number's, else the organization's."""
    for name in (person_time_zone, zone_for_number(phone_e164), fallback, "UTC"):
        if name and (zone := _zone(name)) is not None:
            return zone
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class HoursCheck:
    allowed: bool
    local_time: dt.datetime


def within_hours(*, start: dt.time, end: dt.time, zone: ZoneInfo, now: dt.datetime) -> HoursCheck:
    """True when `now`, read in `zone`, is in [start, end). A window may wrap past midnight."""
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    allowed = start <= t < end if start <= end else (t >= start or t < end)
    return HoursCheck(allowed=allowed, local_time=local)

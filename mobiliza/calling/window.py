"""The daily calling window, applied in each person's own time zone.

Targets carry their IANA time zone (resolved once when the list is built). At claim time the
dispenser asks which of the operation's zones are *now* inside the window and filters the queue
with `time_zone IN (...)`: one small computation per distinct zone (an operation has a handful),
never one per person, so the claim stays set-based. A zone name that cannot be read is never
inside the window: a person whose local time we cannot know is not called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Window:
    start: dt.time
    end: dt.time
    days: frozenset[int]  # Monday = 0 ... Sunday = 6, in the person's local calendar

    def contains_local(self, local: dt.datetime) -> bool:
        if local.weekday() not in self.days:
            return False
        t = local.time().replace(tzinfo=None)
        return self.start <= t < self.end


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def is_valid_zone(name: str) -> bool:
    return zone(name) is not None


def inside(window: Window, zone_name: str, now: dt.datetime) -> bool:
    tz = zone(zone_name)
    if tz is None:
        return False
    return window.contains_local(now.astimezone(tz))


def zones_inside(window: Window, zone_names: Iterable[str], now: dt.datetime) -> list[str]:
    """The zones whose local time at `now` is inside the window."""
    return sorted({name for name in zone_names if inside(window, name, now)})


def next_opening(window: Window, zone_name: str, now: dt.datetime) -> dt.datetime | None:
    """The next instant (UTC-aware) at or after `now` when `zone_name` enters the window.

    Walks local days (up to 8) and converts the local start time back to an instant; a start time
    skipped by a DST jump is resolved by zoneinfo's fold rules and then checked.
    """
    tz = zone(zone_name)
    if tz is None or not window.days or window.start >= window.end:
        return None
    if inside(window, zone_name, now):
        return now
    local_now = now.astimezone(tz)
    for offset in range(0, 9):
        day = local_now.date() + dt.timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        # A local start time skipped by a DST jump (or repeated by a fall back) has two readings:
        # try both, then walk minute by minute to the first instant that is really inside.
        readings = sorted(
            {
                dt.datetime.combine(day, window.start, tzinfo=tz)
                .replace(fold=fold)
                .astimezone(dt.UTC)
                for fold in (0, 1)
            }
        )
        for reading in readings:
            probe = max(reading, now)
            if inside(window, zone_name, probe):
                return probe
            # Window edges are whole minutes: walk on the minute grid.
            probe = probe.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
            for _ in range(181):
                if inside(window, zone_name, probe):
                    return probe
                probe += dt.timedelta(minutes=1)
    return None

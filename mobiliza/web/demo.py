"""Demo data for `make run`. Apps register a seeder that fills a fresh demo organization.

Seeders run once, when the demo organization is created, so running `make run` again is fast and
never duplicates anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

DemoSeeder = Callable[["Organization", "User"], None]
_SEEDERS: list[tuple[int, DemoSeeder]] = []


def register_demo_seeder(seeder: DemoSeeder, order: int = 100) -> DemoSeeder:
    if all(existing is not seeder for _o, existing in _SEEDERS):
        _SEEDERS.append((order, seeder))
    return seeder


def demo_seeders() -> list[DemoSeeder]:
    return [seeder for _o, seeder in sorted(_SEEDERS, key=lambda item: item[0])]

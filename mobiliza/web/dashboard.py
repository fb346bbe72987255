"""The home dashboard is assembled from cards that each app registers.

An app calls `register_card(fn)` in its AppConfig.ready(); `fn(membership)` returns a Card or None
(None when the role should not see it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


@dataclass(frozen=True)
class Card:
    title: str
    value: str
    url: str = ""
    detail: str = ""
    order: int = 100


CardSource = Callable[["Membership"], "Card | None"]
_SOURCES: list[CardSource] = []


def register_card(source: CardSource) -> CardSource:
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def dashboard_cards(membership: Membership) -> list[Card]:
    cards = [card for source in _SOURCES if (card := source(membership)) is not None]
    return sorted(cards, key=lambda c: c.order)

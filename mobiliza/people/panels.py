"""Sections that other apps add to the person page (survey answers, calls, texts...).

An app registers `fn(person, membership) -> Panel | None` in its AppConfig.ready(). The person
page renders each returned panel's template with its context, in `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership
    from mobiliza.people.models import Person


@dataclass(frozen=True)
class Panel:
    title: str
    template_name: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


PanelSource = Callable[["Person", "Membership"], "Panel | None"]
_SOURCES: list[PanelSource] = []


def register_person_panel(source: PanelSource) -> PanelSource:
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def person_panels(person: Person, membership: Membership) -> list[Panel]:
    panels = [p for source in _SOURCES if (p := source(person, membership)) is not None]
    return sorted(panels, key=lambda p: p.order)

"""Merge fields in message templates: {first_name}, {agent_first_name}, custom fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
BUILTIN = {
    "first_name": _("the person's first name"),
    "last_name": _("the person's last name"),
    "city": _("the person's city"),
    "agent_first_name": _("the texter's first name"),
    "polling_place": _("the person's polling place"),
}


def merge_values(*, person: Any, agent_first_name: str) -> dict[str, str]:
    custom: Mapping[str, Any] = getattr(person, "custom_fields", None) or {}
    values = {str(k): "" if v is None else str(v) for k, v in custom.items()}
    values.update(
        first_name=person.first_name or "",
        last_name=person.last_name or "",
        city=person.city or "",
        polling_place=person.polling_place or "",
        agent_first_name=agent_first_name,
    )
    return values


def render_message(template: str, values: Mapping[str, str]) -> str:
    """Replace known fields; an unknown or empty field becomes "" and spaces are tidied."""
    text = FIELD.sub(lambda m: values.get(m.group(1), ""), template)
    text = re.sub(r"[ \t]+([,.!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def unknown_fields(template: str, known: set[str]) -> list[str]:
    return sorted({m.group(1) for m in FIELD.finditer(template)} - known)

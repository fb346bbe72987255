"""`{% operation_costs op as costs %}`: spend of a software-placed operation for calling pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def operation_costs(operation: Any) -> dict[str, Any] | None:
    if getattr(operation, "call_method", "") != "software":
        return None
    from mobiliza.telephony.selectors import operation_costs as costs

    return costs(operation=operation)

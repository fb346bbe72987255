"""The filter registry behind segments.

A segment definition is a JSON tree::

    {"op": "and", "children": [
        {"filter": "tag", "params": {"tag": "volunteer"}},
        {"op": "not", "children": [{"filter": "support_level", "params": {"min": 4}}]},
        {"op": "or", "children": [...]}
    ]}

Leaves name a registered filter and its parameters; inner nodes are "and", "or" or "not" (one
child). Each filter turns its parameters into a `Q` over `Person` (use `Exists(...)` subqueries
for related tables, never joins that multiply rows). Other apps register their own filters in
their `AppConfig.ready()` (surveys: answers; calling: call results; texting: replies) without
touching this app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from mobiliza.accounts.models import Organization


@dataclass(frozen=True)
class FilterParam:
    name: str
    label: str | _StrPromise
    type: str  # text, number, date, choice, bool, tag, election, question, choices (multi)
    required: bool = True
    choices: tuple[tuple[str, str | _StrPromise], ...] = ()
    help: str | _StrPromise = ""
    #: Choices that depend on the organization's data (its surveys, questions...), for the
    #: builder's select; `(organization) -> [(value, label), ...]`.
    options: Callable[[Organization], list[tuple[str, str]]] | None = field(
        default=None, compare=False
    )


BuildQ = Callable[["Organization", Mapping[str, Any]], Q]


@dataclass(frozen=True)
class FilterSpec:
    key: str
    label: str | _StrPromise
    group: str | _StrPromise
    build: BuildQ
    params: tuple[FilterParam, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, FilterSpec] = {}


def register_filter(spec: FilterSpec) -> FilterSpec:
    """Add a filter; registering the same key twice replaces it (module reloads in tests)."""
    _REGISTRY[spec.key] = spec
    return spec


def get_filter(key: str) -> FilterSpec:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValidationError(_("Unknown filter “%(key)s”.") % {"key": key}) from None


def registered_filters() -> list[FilterSpec]:
    return sorted(_REGISTRY.values(), key=lambda s: (str(s.group), str(s.label)))


MAX_DEPTH = 12


def definition_to_q(organization: Organization, node: Mapping[str, Any], depth: int = 0) -> Q:
    """Compile a definition tree into one `Q` over Person. Raises ValidationError on bad input."""
    if depth > MAX_DEPTH:
        raise ValidationError(_("The filter is nested too deeply."))
    if not isinstance(node, Mapping):
        raise ValidationError(_("A filter must be an object."))
    if not node:
        return Q()
    if "filter" in node:
        spec = get_filter(str(node["filter"]))
        params = node.get("params") or {}
        if not isinstance(params, Mapping):
            raise ValidationError(_("Filter parameters must be an object."))
        for param in spec.params:
            if param.required and params.get(param.name) in (None, "", []):
                raise ValidationError(
                    _("“%(filter)s” needs a value for “%(param)s”.")
                    % {"filter": spec.label, "param": param.label}
                )
        return spec.build(organization, params)
    op = node.get("op")
    children = node.get("children") or []
    if op not in {"and", "or", "not"} or not isinstance(children, list):
        raise ValidationError(_("Unknown filter group “%(op)s”.") % {"op": op})
    parts = [definition_to_q(organization, child, depth + 1) for child in children]
    if op == "not":
        if len(parts) != 1:
            raise ValidationError(_("NOT takes exactly one condition."))
        # An empty condition matches everyone, so its negation matches no one (`~Q()` would
        # be everyone again).
        return ~parts[0] if parts[0] else Q(pk__in=[])
    # An empty Q means "everyone" (true): it is neutral in AND and absorbs an OR.
    if op == "or" and any(not part for part in parts):
        return Q()
    parts = [part for part in parts if part]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if op == "and" else (combined | part)
    return combined

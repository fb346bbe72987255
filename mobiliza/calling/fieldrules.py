"""Field rules: what agents of an operation see of a person, and what they may edit.

The only way person data reaches an agent is `agent_card` (pages and API both use it): it reads
the operation's rules and returns highlighted fields, then visible ones, in the chosen order. A
hidden field is never read. Edits go through `validate_field_edits`, which refuses any field that
is not editable in this operation or that the people catalogue marks as never agent-editable.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mobiliza.calling.models import CallOperation, FieldRule
from mobiliza.people.fields import (
    BUILTIN_FIELDS,
    CUSTOM_PREFIX,
    NEVER_AGENT_EDITABLE,
    FieldType,
    PersonField,
    person_field_catalog,
    person_field_value,
)

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User
    from mobiliza.people.models import Person

V = FieldRule.Visibility

# Sensible defaults for a new operation: (visibility, highlight). Everything else starts hidden:
# the number being called is always shown on the Call button, and tags may be sensitive.
DEFAULT_RULES: dict[str, tuple[str, bool]] = {
    "first_name": (V.VISIBLE, True),
    "last_name": (V.VISIBLE, True),
    "city": (V.VISIBLE, False),
    "language": (V.EDITABLE, False),
    "email": (V.EDITABLE, False),
    "support_level": (V.EDITABLE, True),
    "birth_year": (V.VISIBLE, False),
    "notes": (V.VISIBLE, False),
}
# Types an agent can edit inline as one value (phones and tags have their own flows).
SCALAR_TYPES = {
    FieldType.TEXT,
    FieldType.LONG_TEXT,
    FieldType.EMAIL,
    FieldType.NUMBER,
    FieldType.CHOICE,
    FieldType.BOOLEAN,
    FieldType.DATE,
}
# Fields whose value is a list read through a relation: prefetch them only when visible.
PREFETCH_FOR = {"phones": "phones", "tags": "tags", "voting_history": "votes__election"}


def can_be_editable(field: PersonField) -> bool:
    return (
        field.agent_editable
        and field.key not in NEVER_AGENT_EDITABLE
        and field.type in SCALAR_TYPES
    )


@dataclass(frozen=True)
class RuleRow:
    field: PersonField
    visibility: str
    highlight: bool
    position: int

    @property
    def can_edit(self) -> bool:
        return can_be_editable(self.field)


def field_rules_table(*, operation: CallOperation) -> list[RuleRow]:
    """Every catalogue field with its rule (defaults where none is stored), in display order."""
    catalog = person_field_catalog(organization=operation.organization)
    stored = {r.field_key: r for r in operation.field_rules.all()}
    rows = []
    for index, field in enumerate(catalog):
        rule = stored.get(field.key)
        if rule is not None:
            vis, hl, pos = rule.visibility, rule.highlight, rule.position
        elif stored:
            vis, hl, pos = V.HIDDEN, False, 1000 + index
        else:
            vis, hl = DEFAULT_RULES.get(field.key, (V.HIDDEN, False))
            pos = index
        if vis == V.EDITABLE and not can_be_editable(field):
            vis = V.VISIBLE
        rows.append(RuleRow(field=field, visibility=vis, highlight=hl, position=pos))
    rows.sort(key=lambda r: r.position)
    return rows


def field_rules_default(*, operation: CallOperation) -> None:
    """Store the default rules (used when an operation is created)."""
    rows = field_rules_table(operation=operation)
    FieldRule.objects.bulk_create(
        [
            FieldRule(
                operation=operation,
                field_key=row.field.key,
                visibility=row.visibility,
                highlight=row.highlight,
                position=pos,
            )
            for pos, row in enumerate(rows)
        ],
        ignore_conflicts=True,
    )


def shown_rules(operation: CallOperation) -> list[FieldRule]:
    """The visible/editable rules: highlighted first, then the others, each in the chosen order."""
    from mobiliza.calling.config import operation_config

    rules = [r for r in operation_config(operation).field_rules if r.visibility != V.HIDDEN]
    return sorted(rules, key=lambda r: (not r.highlight, r.position, r.id))


def prefetches_for(rules: list[FieldRule]) -> list[str]:
    return [PREFETCH_FOR[r.field_key] for r in rules if r.field_key in PREFETCH_FOR]


def _display(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _catalog_for(operation: CallOperation, rules: list[FieldRule]) -> dict[str, PersonField]:
    """Built-in fields, plus the custom ones only when a rule shows one (saves a query per call)."""
    if any(r.field_key.startswith(CUSTOM_PREFIX) for r in rules):
        return {f.key: f for f in person_field_catalog(organization=operation.organization)}
    return {f.key: f for f in BUILTIN_FIELDS}


def agent_card(
    *, operation: CallOperation, person: Person, rules: list[FieldRule]
) -> list[dict[str, Any]]:
    """The fields an agent may see of `person`, as JSON-ready dicts. Hidden fields are not read."""
    catalog = _catalog_for(operation, rules)
    card = []
    for rule in rules:
        field = catalog.get(rule.field_key)
        if field is None or rule.visibility == V.HIDDEN:
            continue
        editable = rule.visibility == V.EDITABLE and can_be_editable(field)
        card.append(
            {
                "key": field.key,
                "label": str(field.label),
                "type": field.type,
                "value": _display(person_field_value(person, field.key)),
                "editable": editable,
                "highlight": rule.highlight,
                "choices": [[k, str(v)] for k, v in field.choices] if editable else [],
            }
        )
    return card


MERGE_RE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


def script_render(
    *,
    operation: CallOperation,
    person: Person | None,
    agent_user: User | None,
    rules: list[FieldRule] | None = None,
) -> str:
    """The script with merge fields filled. A field hidden from agents renders as "…"."""
    rules = rules if rules is not None else list(operation.field_rules.all())
    visible = {r.field_key for r in rules if r.visibility != V.HIDDEN}

    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "agent_first_name":
            return agent_user.first_name if agent_user is not None else ""
        field_key = key
        if key not in visible and f"custom.{key}" in visible:
            field_key = f"custom.{key}"
        if field_key not in visible:
            return "…"
        if person is None:
            return match.group(0)
        value = person_field_value(person, field_key)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    return MERGE_RE.sub(repl, operation.script or "")


def merge_fields(*, organization: Organization) -> list[tuple[str, str]]:
    """(placeholder, label) pairs offered in the script editor."""
    fields = [("{agent_first_name}", _("Agent's first name"))]
    for field in person_field_catalog(organization=organization):
        if field.type in SCALAR_TYPES or field.type == FieldType.DECIMAL:
            fields.append(("{" + field.key + "}", str(field.label)))
    return fields


def validate_field_edits(
    *, operation: CallOperation, edits: dict[str, Any], rules: list[FieldRule]
) -> dict[str, Any]:
    """The edits cleaned to typed values; a ValidationError names every refused field."""
    if not isinstance(edits, dict):
        raise ValidationError(_("Field edits must be an object."))
    catalog = _catalog_for(operation, rules)
    editable = {r.field_key for r in rules if r.visibility == V.EDITABLE}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, raw in edits.items():
        field = catalog.get(key)
        if field is None or key not in editable or not can_be_editable(field):
            errors[key] = _("Agents may not edit this field in this operation.")
            continue
        try:
            cleaned[key] = _clean(field, raw)
        except (ValueError, TypeError, decimal.InvalidOperation):
            errors[key] = _("“%(value)s” is not a valid value for %(field)s.") % {
                "value": str(raw)[:40],
                "field": field.label,
            }
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean(field: PersonField, raw: Any) -> Any:
    if raw is None or raw == "":
        return None if field.type in {FieldType.NUMBER, FieldType.DATE, FieldType.BOOLEAN} else ""
    if field.type == FieldType.NUMBER:
        return int(raw)
    if field.type == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise ValueError(raw)
    if field.type == FieldType.DATE:
        return dt.date.fromisoformat(str(raw)).isoformat()
    if field.type == FieldType.CHOICE and field.choices:
        value = str(raw)
        if value not in {k for k, _label in field.choices}:
            raise ValueError(raw)
        return value
    text = str(raw).strip()
    if len(text) > 2000:
        raise ValueError(raw)
    return text

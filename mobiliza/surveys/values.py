"""Checking one answer against its question type (shared by the service, the runners and the API)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from mobiliza.surveys.graph import CHOICE_TYPE_NAMES, QuestionDesc, normalize_choice_value

SHORT_TEXT_MAX = 255
LONG_TEXT_MAX = 5000
NUMBER_MAX = decimal.Decimal("1e12")


@dataclass(frozen=True)
class CleanAnswer:
    value: Any  # JSON value stored on Answer.value
    text: str  # readable rendering (Answer.value_text)
    choice_keys: tuple[str, ...]  # chosen choices, in the question's order


def _is_empty(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return all(_is_empty(v) for v in raw)
    return False


def _error(question: QuestionDesc, message: str) -> ValidationError:
    return ValidationError(
        _("“%(question)s”: %(problem)s") % {"question": question["label"], "problem": message},
        code=question["key"],
    )


def clean_answer(question: QuestionDesc, raw: Any) -> CleanAnswer | None:
    """The stored form of `raw`, None when empty (skipped). ValidationError names the question."""
    if _is_empty(raw):
        return None
    kind = question["type"]
    if kind in CHOICE_TYPE_NAMES:
        values = list(raw) if isinstance(raw, list | tuple) else [raw]
        values = [v for v in values if not _is_empty(v)]
        if kind != "multiple" and len(values) > 1:
            raise _error(question, _("choose only one answer."))
        keys = {c["key"]: c for c in question["choices"]}
        wanted = []
        for value in values:
            key = normalize_choice_value(question, value)
            if key not in keys:
                raise _error(
                    question, _("“%(value)s” is not one of the choices.") % {"value": value}
                )
            wanted.append(key)
        ordered = tuple(c["key"] for c in question["choices"] if c["key"] in set(wanted))
        text = ", ".join(keys[k]["label"] for k in ordered)
        stored: Any = list(ordered) if kind == "multiple" else ordered[0]
        return CleanAnswer(stored, text, ordered)
    if kind == "number":
        try:
            number = decimal.Decimal(str(raw).strip().replace(",", "."))
        except (decimal.InvalidOperation, ValueError):
            raise _error(question, _("enter a number.")) from None
        if not number.is_finite() or abs(number) >= NUMBER_MAX:
            raise _error(question, _("enter a number.")) from None
        as_number: int | float = (
            int(number) if number == number.to_integral_value() else float(number)
        )
        if isinstance(as_number, float) and not math.isfinite(as_number):
            raise _error(question, _("enter a number."))
        return CleanAnswer(as_number, str(as_number), ())
    if kind in ("short_text", "long_text"):
        if not isinstance(raw, str):
            raise _error(question, _("enter a text."))
        text = raw.strip()
        limit = SHORT_TEXT_MAX if kind == "short_text" else LONG_TEXT_MAX
        if len(text) > limit:
            raise _error(
                question,
                _("keep it under %(limit)s characters (this one has %(n)s).")
                % {"limit": limit, "n": len(text)},
            )
        return CleanAnswer(text, text, ())
    if kind == "date":
        if isinstance(raw, dt.datetime):
            day = raw.date()
        elif isinstance(raw, dt.date):
            day = raw
        else:
            try:
                day = dt.date.fromisoformat(str(raw).strip())
            except ValueError:
                raise _error(question, _("enter a date as YYYY-MM-DD.")) from None
        if not 1900 <= day.year <= 2100:
            raise _error(question, _("enter a date between 1900 and 2100."))
        return CleanAnswer(day.isoformat(), day.isoformat(), ())
    raise _error(question, _("unknown question type."))

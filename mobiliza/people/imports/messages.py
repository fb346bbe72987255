"""Translated messages for the problem codes that worker processes report per row."""

from __future__ import annotations

import functools
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _

_MESSAGES: dict[str, Promise] = {
    "ragged": _("This row has %(found)d fields; the header has %(expected)d."),
    "too_long": _(
        "This value is %(length)d characters long; the limit is %(max)d. Row not imported."
    ),
    "no_identity": _("This row has no name, id, phone or email. Row not imported."),
    "bad_email": _("“%(value)s” is not an email address; left empty."),
    "bad_phone": _("“%(value)s” is not a valid phone number; kept as written, flagged invalid."),
    "bad_country": _("“%(value)s” is not a country (use a two-letter code like PT); left empty."),
    "bad_coordinate": _("“%(value)s” is not a coordinate; left empty."),
    "bad_date": _("“%(value)s” is not a date (use YYYY-MM-DD); left empty."),
    "bad_year": _("“%(value)s” is not a year; left empty."),
    "bad_gender": _("“%(value)s” is not a gender (M, F or X); left empty."),
    "bad_support": _("“%(value)s” is not a support level from 1 to 5; left empty."),
    "bad_amount": _("“%(value)s” is not an amount; left empty."),
    "bad_bool": _("“%(value)s” is not yes or no; left empty."),
    "vote_incomplete": _("This row has no voter id or no election. Row not imported."),
    "duplicate": _("A later row in the file has the same %(key)s; this row was replaced by it."),
    "no_person": _("No person has the voter id “%(value)s”. Row not imported."),
    "file_changed": _("The file changed while it was being read. Upload it again."),
    "bad_encoding": _(
        "The file is not valid %(encoding)s here. Choose another encoding "
        "(latin-1 or cp1252), or save the file as UTF-8."
    ),
}


@functools.lru_cache(maxsize=512)
def _template(code: str, language: str | None) -> str:
    with override(language):
        return str(_MESSAGES[code])


def problem_message(code: str, params: dict[str, Any], language: str | None = None) -> str:
    """The message of a problem in the active language (a big file reports tens of thousands:
    each message is looked up once per language; a caller with many may pass the language)."""
    if code not in _MESSAGES:
        return code
    return _template(code, language or get_language()) % params

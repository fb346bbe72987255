"""Translated messages for the problem codes that worker processes report per row."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


def problem_message(code: str, params: dict[str, Any]) -> str:
    if code == "ragged":
        return _("This row has %(found)d fields; the header has %(expected)d.") % params
    if code == "too_long":
        return (
            _("This value is %(length)d characters long; the limit is %(max)d. Row not imported.")
            % params
        )
    if code == "unreadable":
        return _("This row can't be read (%(detail)s). Row not imported.") % params
    if code == "no_identity":
        return _("This row has no name, id, phone or email. Row not imported.")
    if code == "bad_email":
        return _("“%(value)s” is not an email address; left empty.") % params
    if code == "bad_phone":
        return _("“%(value)s” is not a valid phone number; kept as written, flagged invalid.") % (
            params
        )
    if code == "bad_country":
        return _("“%(value)s” is not a country (use a two-letter code like PT); left empty.") % (
            params
        )
    if code == "bad_coordinate":
        return _("“%(value)s” is not a coordinate; left empty.") % params
    if code == "bad_date":
        return _("“%(value)s” is not a date (use YYYY-MM-DD); left empty.") % params
    if code == "bad_year":
        return _("“%(value)s” is not a year; left empty.") % params
    if code == "bad_gender":
        return _("“%(value)s” is not a gender (M, F or X); left empty.") % params
    if code == "bad_support":
        return _("“%(value)s” is not a support level from 1 to 5; left empty.") % params
    if code == "bad_amount":
        return _("“%(value)s” is not an amount; left empty.") % params
    if code == "bad_bool":
        return _("“%(value)s” is not yes or no; left empty.") % params
    if code == "vote_incomplete":
        return _("This row has no voter id or no election. Row not imported.")
    if code == "duplicate":
        return _("A later row in the file has the same %(key)s; this row was replaced by it.") % (
            params
        )
    if code == "no_person":
        return _("No person has the voter id “%(value)s”. Row not imported.") % params
    if code == "bad_encoding":
        return (
            _(
                "The file is not valid %(encoding)s here. Choose another encoding "
                "(latin-1 or cp1252), or save the file as UTF-8."
            )
            % params
        )
    return code

"""French and Portuguese are complete, and the compiled catalogues match their sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _entries(lang: str) -> list[dict[str, str]]:
    """A small .po reader: msgctxt / msgid / msgid_plural / msgstr, fuzzy flag."""
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in (
        (LOCALE / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8").splitlines()
    ):
        line = raw.strip()
        if not line:
            if current:
                entries.append(current)
            current, key = {}, ""
            continue
        if line.startswith("#,") and "fuzzy" in line:
            current["fuzzy"] = "1"
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
        else:
            key, _, rest = line.partition(" ")
            current[key] = ast.literal_eval(rest)
    if current:
        entries.append(current)
    return [e for e in entries if e.get("msgid")]


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_every_string_is_translated(lang: str) -> None:
    entries = _entries(lang)
    assert len(entries) > 500
    missing = [
        e["msgid"] for e in entries if e.get("fuzzy") or not (e.get("msgstr") or e.get("msgstr[0]"))
    ]
    assert missing == [], f"{len(missing)} untranslated in {lang}: run `make messages`"


@pytest.mark.parametrize("lang", ["fr", "pt"])
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    simple = [e for e in _entries(lang) if "msgid_plural" not in e and "msgctxt" not in e]
    with translation.override(lang):
        stale = [e["msgid"] for e in simple if translation.gettext(e["msgid"]) != e["msgstr"]]
    assert stale == [], f"{len(stale)} stale in {lang}.mo: run compilemessages"

"""Opt-out keywords in English, French and Portuguese, and the one confirmation reply.

A message opts its sender out when, once normalized (case, accents, punctuation, emoji and extra
spaces removed), it is one of the keywords, optionally with a polite word around it ("stop
please", "PARAR por favor", "arrêt merci"). Longer sentences that merely contain "stop" ("don't
stop the good work") are left to the texter, who has an "opt out" button.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils import translation
from django.utils.translation import gettext as _

KEYWORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "unsub",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt out",
        "revoke",
        "remove me",
        "stop texting",
        "stop texting me",
    ),
    "fr": (
        "arret",
        "stop sms",
        "desabonner",
        "desabonnement",
        "desinscrire",
        "desinscription",
        "annuler",
        "fin",
        "arreter",
        "arretez",
        "stop merci",
    ),
    "pt": (
        "parar",
        "pare",
        "cancelar",
        "sair",
        "remover",
        "descadastrar",
        "nao quero",
        "stop por favor",
    ),
}
POLITE = frozenset(
    {
        "please",
        "pls",
        "plz",
        "thanks",
        "thank you",
        "now",
        "svp",
        "stp",
        "merci",
        "por favor",
        "obrigado",
        "obrigada",
        "ja",
        "agora",
    }
)
_KEYWORD_LANGUAGE = {kw: lang for lang, kws in KEYWORDS.items() for kw in kws}
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Lower case, accents removed, everything but letters and digits turned into one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped).strip()


def _strip_polite(words: str) -> str:
    changed = True
    while changed and words:
        changed = False
        for polite in POLITE:
            if words.endswith(" " + polite):
                words, changed = words[: -len(polite) - 1].strip(), True
            elif words.startswith(polite + " "):
                words, changed = words[len(polite) + 1 :].strip(), True
    return words


def opt_out_language(text: str) -> str | None:
    """The language of the opt-out keyword this message is, or None when it is not one."""
    words = normalize(text)
    if not words or len(words) > 40:
        return None
    if words in _KEYWORD_LANGUAGE:
        return _KEYWORD_LANGUAGE[words]
    core = _strip_polite(words)
    return _KEYWORD_LANGUAGE.get(core)


def is_opt_out(text: str) -> bool:
    return opt_out_language(text) is not None


def confirmation_text(*, language: str, organization_name: str) -> str:
    with translation.override(language if language in {"en", "fr", "pt"} else "en"):
        return _(
            "You are unsubscribed from %(organization)s texts. You will not receive any more "
            "messages from us."
        ) % {"organization": organization_name}

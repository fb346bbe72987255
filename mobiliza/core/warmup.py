"""Work a server process does once at start instead of in its first requests.

A worker that has just started pays, in its first requests, for building the URL resolver (every
app's patterns and the API's operations), loading the translation catalogues and importing the
modules that views import lazily. When 500 agents reach a freshly restarted server at once, those
first requests queue behind that work. `warm_up()` is called by `config/wsgi.py` when the
application is loaded (in each worker). It doesn't touch the database.
"""

from __future__ import annotations

import importlib
import logging

from django.conf import settings
from django.urls import get_resolver
from django.utils import translation

logger = logging.getLogger(__name__)

# Modules the hot paths import inside functions (to keep app loading light for manage.py).
HOT_MODULES = (
    "mobiliza.calling.fastpath",
    "mobiliza.calling.services",
    "mobiliza.calling.dispenser",
    "mobiliza.texting.services",
    "mobiliza.texting.selectors",
    "mobiliza.providers.services",
    "mobiliza.providers.webhooks",
    "mobiliza.telephony.services",
    "mobiliza.accounts.request_auth",
)


def warm_up() -> None:
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports every URLconf and the API's routers
    resolver._populate()  # the reverse() and namespace tables, built once
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Call operations")  # loads the catalogue of that language
    for name in HOT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - a module renamed: warm-up is best effort
            logger.warning("warm-up could not import %s", name)

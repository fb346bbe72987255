"""The server's start-up warm-up: it must not need the database (it runs when the WSGI app is
loaded, possibly before the database answers) and must leave the resolver and modules ready."""

from __future__ import annotations

import sys

from django.urls import get_resolver, reverse

from mobiliza.core.warmup import HOT_MODULES, warm_up


def test_warm_up_needs_no_database_and_prepares_the_hot_paths() -> None:
    # No django_db mark: any query here fails the test ("Database access not allowed").
    warm_up()
    assert get_resolver()._populated
    assert reverse("healthz") == "/healthz"
    for name in HOT_MODULES:
        assert name in sys.modules, name


def test_the_wsgi_application_loads_with_its_warm_up() -> None:
    import config.wsgi

    assert callable(config.wsgi.application)

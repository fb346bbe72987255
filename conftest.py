"""Shared pytest fixtures: organizations and members of each role, logged-in clients, API clients,
a blocked network (loopback only), and a real Chromium for browser tests."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

import mobiliza

# Every app's factories register their isolation makers on import.
for _mod in pkgutil.iter_modules(mobiliza.__path__):
    try:
        importlib.import_module(f"mobiliza.{_mod.name}.tests.factories")
    except ModuleNotFoundError as exc:
        if exc.name not in {f"mobiliza.{_mod.name}.tests", f"mobiliza.{_mod.name}.tests.factories"}:
            raise

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host.startswith("127.") or host in {"::1", "localhost"}):
            raise RuntimeError(f"Network access is blocked in tests (tried {address!r}).")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language. Django leaves the language a request
    activated on the thread (LocaleMiddleware activates, nothing deactivates), so a test that
    sends `Accept-Language: pt` would otherwise change the words later tests on the same
    worker see (an import run right after, say)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def org(db: None) -> Any:
    from mobiliza.accounts.tests.factories import OrganizationFactory

    return OrganizationFactory()


@pytest.fixture
def other_org(db: None) -> Any:
    from mobiliza.accounts.tests.factories import OrganizationFactory

    return OrganizationFactory()


def _member(org: Any, role: str) -> Any:
    from mobiliza.accounts.tests.factories import make_member

    return make_member(org, role)


@pytest.fixture
def admin_member(org: Any) -> Any:
    return _member(org, "admin")


@pytest.fixture
def organizer_member(org: Any) -> Any:
    return _member(org, "organizer")


@pytest.fixture
def volunteer_member(org: Any) -> Any:
    return _member(org, "volunteer")


def client_for(membership: Any) -> Client:
    """A test client logged in as the member, acting for the member's organization."""
    from mobiliza.core.tenancy import SESSION_KEY

    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[SESSION_KEY] = str(membership.organization.public_id)
    session.save()
    return client


def api_client_for(membership: Any) -> Client:
    """A client that calls the API with a bearer token of this membership."""
    from mobiliza.accounts.services import api_token_create

    _token, raw = api_token_create(membership=membership, name="test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def admin_client(admin_member: Any) -> Client:
    return client_for(admin_member)


@pytest.fixture
def organizer_client(organizer_member: Any) -> Client:
    return client_for(organizer_member)


@pytest.fixture
def volunteer_client(volunteer_member: Any) -> Client:
    return client_for(volunteer_member)


@pytest.fixture
def admin_api(admin_member: Any) -> Client:
    return api_client_for(admin_member)


# --- browser tests --------------------------------------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = (
            f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) "
            "or set CHROMIUM_PATH. CI installs it."
        )
        if os.environ.get("MOBILIZA_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield instance
        instance.close()


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A page in a 360×740 phone viewport with touch."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()

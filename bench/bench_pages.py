"""Authenticated page throughput over HTTP against PostgreSQL.

Measures requests/s of the members page (login session, organization lookup, permission check,
a list query, template rendering) against `/healthz` (a trivial view doing one `SELECT 1`) served
by the same app server on the same machine in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys

from bench.common import (
    BENCH_SECRET_KEY,
    ROOT,
    emit,
    migrate,
    postgres_available,
    postgres_database,
)
from bench.http import app_server, hammer, login_cookies

SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
PAGE = "/accounts/members/"


def _seed(url: str) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECRET_KEY=BENCH_SECRET_KEY,
    )
    code = (
        "import django; django.setup();"
        "from mobiliza.accounts.models import User;"
        "from mobiliza.accounts.services import organization_create, membership_add;"
        "u = User.objects.create_user('bench@example.org', 'bench-password-123', full_name='Bench');"
        "o = organization_create(name='Bench', creator=u);"
        "[membership_add(organization=o, user=User.objects.create_user(f'm{i}@example.org', None,"
        " full_name=f'Member {i}'), role='volunteer', actor=u) for i in range(50)]"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
    )


def main() -> None:
    if not postgres_available():
        emit(
            "pages.authenticated_rps",
            0,
            "req/s",
            ">= 0.5x reference",
            None,
            False,
            error="PostgreSQL not reachable",
        )
        return
    with postgres_database() as url:
        migrate(url)
        _seed(url)
        with app_server(url) as port:
            cookie = login_cookies(port, "bench@example.org", "bench-password-123")
            hammer(port, "/healthz", clients=CLIENTS, seconds=1)  # warm up workers
            reference = hammer(port, "/healthz", clients=CLIENTS, seconds=SECONDS)
            headers = {"Cookie": cookie}
            home = hammer(port, "/", clients=CLIENTS, seconds=SECONDS, headers=headers)
            members = hammer(port, PAGE, clients=CLIENTS, seconds=SECONDS, headers=headers)
    emit(
        "pages.home_rps",
        home.rate,
        "req/s",
        ">= 100 req/s",
        reference.rate,
        home.rate >= 100 and home.errors == 0,
        p95_ms=round(home.p95_ms, 1),
        reference_p95_ms=round(reference.p95_ms, 1),
        errors=home.errors,
        clients=CLIENTS,
    )
    emit(
        "pages.members_list_rps",
        members.rate,
        "req/s",
        ">= 50 req/s (50 members listed)",
        reference.rate,
        members.rate >= 50 and members.errors == 0,
        p95_ms=round(members.p95_ms, 1),
        errors=members.errors,
        page=PAGE,
        clients=CLIENTS,
    )

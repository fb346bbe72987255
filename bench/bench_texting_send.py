"""The send path over HTTP on PostgreSQL: texters in parallel press "send" on their first-message
screen (the real htmx POST, session + CSRF, the next card rendered in the answer), each press goes
through the outbox to the simulator (the simulator accepts inside the click's transaction: the
SID is stored before the response). Every message must be handed over exactly once.

The texters are `bench/loadgen.py` (asyncio, raw keep-alive sockets, its own process). Beside the
rate, the CPU the app server workers and the PostgreSQL backends spent per click is printed: a busy
machine stretches the wall clock, not these.

Reference: the same number of single-row INSERT + COMMIT into a table of the same width, from
the same number of parallel connections, in the same run.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
)
from bench.http import app_server, login_cookies, server_marker
from bench.loadgen import cpu_calibration_ms, cpu_seconds, post_request, run_load

TEXTERS = int(os.environ.get("BENCH_TEXTERS_PARALLEL", "16"))
PER_TEXTER = int(os.environ.get("BENCH_SENDS_PER_TEXTER", "150"))
PASSWORD = "bench-password-123"


def _seed() -> tuple[list[str], dict[str, list[str]]]:
    import datetime as dt

    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.people.models import Person
    from mobiliza.providers.services import default_account, sender_number_add
    from mobiliza.texting.models import Conversation, TextCampaign, Texter

    org = Organization.objects.create(name="Bench", slug="bench", default_country="PT")
    account = default_account(organization=org)
    sender_number_add(account=account, actor=None, number="+351910000001")
    campaign = TextCampaign.objects.create(
        organization=org,
        name="Bench",
        first_message="Hi {first_name}, it's {agent_first_name}. Can we count on you Saturday?",
        opt_out_sentence="Reply STOP to stop.",
        status=TextCampaign.Status.ACTIVE,
        hours_start=dt.time(0, 0),
        hours_end=dt.time(23, 59, 59),
        max_per_texter=PER_TEXTER,
    )
    emails: list[str] = []
    plan: dict[str, list[str]] = {}
    for t in range(TEXTERS):
        user = User.objects.create_user(f"texter{t}@example.org", PASSWORD, full_name=f"Texter {t}")
        member = Membership.objects.create(organization=org, user=user, role="volunteer")
        Texter.objects.create(organization=org, campaign=campaign, membership=member)
        people = Person.objects.bulk_create(
            [Person(organization=org, first_name=f"Ana{t}-{i}") for i in range(PER_TEXTER)]
        )
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    organization=org,
                    campaign=campaign,
                    person=p,
                    phone_e164=f"+35191{t:02d}{i:05d}",
                    assigned_to=member,
                )
                for i, p in enumerate(people)
            ]
        )
        emails.append(user.email)
        plan[user.email] = [str(c.public_id) for c in conversations]
    return emails, plan


def _csrf(cookie: str) -> str:
    for part in cookie.split("; "):
        if part.startswith("csrftoken="):
            return part.split("=", 1)[1]
    return ""


def main() -> None:
    if not postgres_available():
        emit("texting.send_rate", 0, "msg/s", ">= 200 msg/s", None, False, error="no PostgreSQL")
        return
    os.environ["SIMULATOR_AUTODELIVER"] = "0"  # measure the send path, not the carrier's callbacks
    with postgres_database("mobiliza_bench_send") as url:
        migrate(url)
        django_setup(url)
        from django.db import connection

        emails, plan = _seed()
        connection.close()
        errors: list[str] = []
        with app_server(url) as port:
            cookies = {email: login_cookies(port, email, PASSWORD) for email in emails}

            chunks = []
            for email in emails:
                cookie = cookies[email]
                headers = {"Cookie": cookie, "X-CSRFToken": _csrf(cookie), "HX-Request": "true"}
                chunks.append(
                    [
                        post_request(
                            port,
                            f"/texting/conversations/{conversation}/send/",
                            {"first": "1", "idempotency_key": f"{email}-{i}"},
                            headers,
                        )
                        for i, conversation in enumerate(plan[email])
                    ]
                )
            db_name = url.rsplit("/", 1)[1]
            server_cpu, db_cpu = cpu_seconds(server_marker(port)), cpu_seconds(db_name)
            load = run_load(port, chunks)
            server_cpu = cpu_seconds(server_marker(port)) - server_cpu
            db_cpu = cpu_seconds(db_name) - db_cpu
            seconds = load.seconds
            errors = [str(k) for k, n in load.statuses.items() if k != 200 for _ in range(n)]

        from mobiliza.texting.models import Message

        total = TEXTERS * PER_TEXTER
        handed = Message.objects.filter(provider_message_id__isnull=False).count()
        rows = Message.objects.count()
        per_conversation = Message.objects.values("conversation").distinct().count()

        # Reference: raw single-row INSERT + COMMIT of the same number of rows, same parallelism.
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_raw (id bigserial primary key, conversation uuid, body text,"
                " status varchar(12), created_at timestamptz default now())"
            )
        connection.close()
        import psycopg

        def raw(n: int) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                for i in range(n):
                    conn.execute(
                        "INSERT INTO bench_raw (conversation, body, status)"
                        " VALUES (gen_random_uuid(), %s, 'queued')",
                        [f"Hi Ana {i}, it's Texter. Can we count on you Saturday?"],
                    )

        threads = [threading.Thread(target=raw, args=(PER_TEXTER,)) for _ in range(TEXTERS)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reference_seconds = time.perf_counter() - start
    rate = total / seconds
    ok = not errors and handed == rows == total == per_conversation
    emit(
        "texting.send_rate",
        rate,
        "msg/s",
        ">= 200 msg/s",
        total / reference_seconds,
        rate >= 200 and ok,
        texters=TEXTERS,
        messages=total,
        handed_to_provider=handed,
        message_rows=rows,
        http_errors=len(errors),
        p95_ms=round(sorted(load.latencies_ms)[int(len(load.latencies_ms) * 0.95)], 1),
        cpu_calibration_ms=round(cpu_calibration_ms(), 1),
        server_cpu_ms_per_click=round(server_cpu * 1000 / total, 3),
        db_cpu_ms_per_click=round(db_cpu * 1000 / total, 3),
        client_cpu_ms_per_click=round(load.client_cpu_s * 1000 / total, 3),
        all_checks_ok=ok,
        seconds=round(seconds, 2),
    )


__all__: list[Any] = ["main"]

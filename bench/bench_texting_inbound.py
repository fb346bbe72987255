"""Inbound SMS webhook ingestion over HTTP on PostgreSQL: signed (Twilio RequestValidator) reply
webhooks from the simulator's payload format, posted by parallel keep-alive clients to the app server.
A tenth of them are redeliveries of an earlier one (same MessageSid). Every message must be
recorded exactly once, then matched to its conversation.

Two phases, as in production with a worker: the webhook requests verify the signature and store
the event raw, deduplicated (WEBHOOK_PROCESS_INLINE=0); then the stored events are processed
(matched, message recorded, stop words applied) by workers draining them in batches
(`webhook_process_pending`, SKIP LOCKED). The headline figure is the HTTP ingestion rate;
processing and end-to-end rates are printed beside it.

The clients are `bench/loadgen.py` (asyncio, raw keep-alive sockets, its own process), so the
load generator takes little of the two cores. Beside the rates, the CPU seconds the app server
workers and the PostgreSQL backends spent per request are printed: a busy machine stretches the
wall clock, not these.

Reference: the same number of single-row INSERT + COMMIT of the raw payload (JSON) into a table,
from the same number of parallel connections, in the same run.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from typing import Any

from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
    raw_webhook_insert_seconds,
)
from bench.http import app_server, server_marker
from bench.loadgen import cpu_calibration_ms, cpu_seconds, post_request, run_load

MESSAGES = int(os.environ.get("BENCH_INBOUND_MESSAGES", "20000"))
CONVERSATIONS = int(os.environ.get("BENCH_INBOUND_CONVERSATIONS", "5000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
DUPLICATES = 0.10
SENDER = "+351910000001"
BODIES = ["Yes, count me in!", "Who is this?", "Maybe", "Sim, contem comigo!", "Oui !", "STOP"]


def _seed() -> tuple[Any, list[str]]:
    import datetime as dt

    from django.utils import timezone

    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.people.models import Person
    from mobiliza.providers.services import default_account, sender_number_add
    from mobiliza.texting.models import Conversation, TextCampaign

    org = Organization.objects.create(name="Bench", slug="bench", default_country="PT")
    account = default_account(organization=org)
    sender_number_add(account=account, actor=None, number=SENDER)
    user = User.objects.create_user("texter@example.org", None, full_name="Texter")
    member = Membership.objects.create(organization=org, user=user, role="volunteer")
    campaign = TextCampaign.objects.create(
        organization=org,
        name="Bench",
        first_message="Hi",
        status=TextCampaign.Status.ACTIVE,
        hours_start=dt.time(0, 0),
        hours_end=dt.time(23, 59, 59),
    )
    people = Person.objects.bulk_create(
        [Person(organization=org, first_name=f"P{i}") for i in range(CONVERSATIONS)],
        batch_size=5000,
    )
    now = timezone.now()
    phones = [f"+35191{i:07d}" for i in range(CONVERSATIONS)]
    Conversation.objects.bulk_create(
        [
            Conversation(
                organization=org,
                campaign=campaign,
                person=p,
                phone_e164=phones[i],
                sender_e164=SENDER,
                assigned_to=member,
                status=Conversation.Status.WAITING,
                last_outbound_at=now,
            )
            for i, p in enumerate(people)
        ],
        batch_size=5000,
    )
    return account, phones


def main() -> None:
    if not postgres_available():
        emit("texting.inbound_rate", 0, "msg/s", ">= 500 msg/s", None, False, error="no PostgreSQL")
        return
    os.environ["SIMULATOR_AUTODELIVER"] = "0"
    os.environ["WEBHOOK_PROCESS_INLINE"] = "0"
    rng = random.Random(7)
    with postgres_database("mobiliza_bench_inbound") as url:
        migrate(url)
        django_setup(url)
        from django.db import connection
        from django.urls import reverse
        from twilio.request_validator import RequestValidator

        from mobiliza.providers.crypto import decrypt

        account, phones = _seed()
        token = decrypt(account.auth_token_encrypted)
        path = reverse("providers:sms_inbound", kwargs={"token": account.webhook_token})
        connection.close()
        with app_server(url) as port:
            validator = RequestValidator(token)
            signed_url = f"http://127.0.0.1:{port}{path}"
            unique: list[tuple[str, dict[str, str]]] = []
            for _ in range(MESSAGES):
                sid = "SM" + uuid.uuid4().hex
                body = rng.choices(BODIES, weights=[30, 20, 20, 15, 14, 1])[0]
                params = {
                    "AccountSid": account.account_sid,
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "From": rng.choice(phones),
                    "To": SENDER,
                    "Body": body,
                    "NumMedia": "0",
                    "SmsStatus": "received",
                    "ApiVersion": "2010-04-01",
                }
                unique.append((validator.compute_signature(signed_url, params), params))
            requests = list(unique)
            requests += rng.sample(unique, int(MESSAGES * DUPLICATES))
            rng.shuffle(requests)
            wire = [
                post_request(port, path, params, {"X-Twilio-Signature": signature})
                for signature, params in requests
            ]
            chunks = [wire[i::CLIENTS] for i in range(CLIENTS)]
            server_cpu = cpu_seconds(server_marker(port))
            db_name = url.rsplit("/", 1)[1]
            db_cpu = cpu_seconds(db_name)
            load = run_load(port, chunks)
            server_cpu = cpu_seconds(server_marker(port)) - server_cpu
            db_cpu = cpu_seconds(db_name) - db_cpu
            seconds = load.seconds
            errors = load.errors

        from django.db.models import Sum

        from mobiliza.providers.models import WebhookEvent
        from mobiliza.providers.services import webhook_process_pending
        from mobiliza.texting.models import Message

        stored = WebhookEvent.objects.count()
        connection.close()
        workers = int(os.environ.get("BENCH_PROCESS_THREADS", "2"))

        def process() -> None:
            from django.db import connections

            try:
                while webhook_process_pending(limit=10_000, batch=200):
                    pass
            finally:
                connections.close_all()

        threads = [threading.Thread(target=process) for _ in range(workers)]
        start = time.perf_counter()
        cpu = time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        process_seconds = time.perf_counter() - start
        process_cpu = time.process_time() - cpu

        inbound = Message.objects.filter(direction="in")
        recorded = inbound.count()
        matched = inbound.filter(conversation__isnull=False).count()
        events = WebhookEvent.objects.count()
        deliveries = WebhookEvent.objects.aggregate(n=Sum("deliveries"))["n"] or 0
        processed = WebhookEvent.objects.filter(outcome="processed").count()

        connection.close()
        reference_seconds = raw_webhook_insert_seconds(
            url, unique, id_key="MessageSid", clients=CLIENTS
        )
    rate = MESSAGES / seconds
    ok = (
        errors == 0
        and stored == MESSAGES
        and recorded == MESSAGES
        and events == MESSAGES
        and processed == MESSAGES
        and deliveries == len(requests)
        and matched == MESSAGES
    )
    emit(
        "texting.inbound_rate",
        rate,
        "msg/s",
        ">= 500 msg/s",
        MESSAGES / reference_seconds,
        rate >= 500 and ok,
        messages=MESSAGES,
        requests=len(requests),
        redeliveries=len(requests) - MESSAGES,
        recorded_once=recorded == MESSAGES,
        matched=matched,
        http_errors=errors,
        http_statuses=load.statuses,
        p95_ms=round(sorted(load.latencies_ms)[int(len(load.latencies_ms) * 0.95)], 1),
        cpu_calibration_ms=round(cpu_calibration_ms(), 1),
        server_cpu_ms_per_request=round(server_cpu * 1000 / len(requests), 3),
        db_cpu_ms_per_request=round(db_cpu * 1000 / len(requests), 3),
        client_cpu_ms_per_request=round(load.client_cpu_s * 1000 / len(requests), 3),
        clients=CLIENTS,
        all_checks_ok=ok,
        seconds=round(seconds, 2),
        requests_per_s=round(len(requests) / seconds, 1),
        processing_rate=round(MESSAGES / process_seconds, 1),
        processing_threads=workers,
        processing_cpu_ms_per_message=round(process_cpu * 1000 / MESSAGES, 3),
        end_to_end_rate=round(MESSAGES / (seconds + process_seconds), 1),
    )

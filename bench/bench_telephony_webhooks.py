"""Call webhook ingestion over HTTP on PostgreSQL: the simulator's Twilio-shaped, Twilio-signed
status callbacks (both legs of click-to-call bridges, AMD callbacks included) posted by parallel
keep-alive clients to the app server. A tenth are redeliveries of an earlier one. Every event must be
stored exactly once, then processed once: every call ends, and the calls that met a busy line or
a voicemail get exactly one auto-detected result (through `call_result_record`).

Two phases, as in production with a worker (the texting inbound benchmark's shape): the webhook
requests verify the signature and store the event raw, deduplicated (WEBHOOK_PROCESS_INLINE=0);
then worker threads process the stored events. The headline figure is the HTTP ingestion rate;
processing and end-to-end rates are printed beside it. BENCH_TEL_INLINE=1 processes each event
inside its request instead (one phase; the headline is then the end-to-end rate).

Reference: the same number of single-row INSERT + COMMIT of the raw payload (JSON) into a table,
from the same number of parallel connections, in the same run.
"""

from __future__ import annotations

import http.client
import os
import random
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
    raw_webhook_insert_seconds,
)
from bench.http import app_server

CALLS = int(os.environ.get("BENCH_TEL_CALLS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
INLINE = os.environ.get("BENCH_TEL_INLINE", "0") == "1"
DUPLICATES = 0.10
AGENT_PHONE = "+351910000099"
CALLER = "+351910000001"


def _seed() -> tuple[Any, Any, list[Any]]:
    import datetime as dt

    from django.utils import timezone

    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.calling.dispenser import list_build
    from mobiliza.calling.models import CallTarget, OperationUser
    from mobiliza.calling.services import operation_create
    from mobiliza.people.models import Person, PersonPhone
    from mobiliza.providers.services import default_account
    from mobiliza.telephony.models import PlacedCall

    org = Organization.objects.create(name="Bench", slug="bench", default_country="PT")
    account = default_account(organization=org)
    user = User.objects.create_user("caller@example.org", None, full_name="Caller")
    agent = Membership.objects.create(organization=org, user=user, role="organizer")
    people = Person.objects.bulk_create(
        [
            Person(organization=org, first_name=f"P{i}", time_zone="Europe/Lisbon")
            for i in range(CALLS)
        ],
        batch_size=5000,
    )
    PersonPhone.objects.bulk_create(
        [
            PersonPhone(organization=org, person=p, raw=f"+35191{i:07d}", e164=f"+35191{i:07d}")
            for i, p in enumerate(people)
        ],
        batch_size=5000,
    )
    operation = operation_create(organization=org, creator=agent)
    operation.name = "Bench"
    operation.call_method = "software"
    operation.method_settings = {"machine_detection": True, "spending_cap": ""}
    operation.is_draft = False
    operation.window_start, operation.window_end = (
        operation.window_start.replace(hour=0, minute=0),
        operation.window_end.replace(hour=23, minute=59),
    )
    operation.starts_on = timezone.localdate() - dt.timedelta(days=1)
    operation.ends_at = timezone.now() + dt.timedelta(days=30)
    operation.save()
    OperationUser.objects.get_or_create(
        operation=operation, membership=agent, defaults={"organization": org}
    )
    list_build(operation=operation)
    lease = timezone.now() + dt.timedelta(hours=2)
    CallTarget.objects.filter(operation=operation).update(
        held_by=agent, lease_expires_at=lease, available_at=lease
    )
    targets = list(CallTarget.objects.filter(operation=operation).order_by("id"))
    calls = PlacedCall.objects.bulk_create(
        [
            PlacedCall(
                organization=org,
                operation=operation,
                target=t,
                agent=agent,
                account=account,
                agent_call_id="CA" + uuid.uuid4().hex,
                agent_e164=AGENT_PHONE,
                to_e164=t.phone_e164,
                machine_detection=True,
            )
            for t in targets
        ],
        batch_size=2000,
    )
    return account, operation, calls


def _leg(
    account: Any, to: str, sid: str, status: str, parent: str = "", **extra: str
) -> dict[str, str]:
    params = {
        "AccountSid": account.account_sid,
        "CallSid": sid,
        "CallStatus": status,
        "From": CALLER,
        "To": to,
        "Direction": "outbound-dial" if parent else "outbound-api",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    if parent:
        params["ParentCallSid"] = parent
    return params


def _events(
    account: Any, calls: list[Any], rng: random.Random
) -> tuple[list[dict[str, str]], int, dict[str, str]]:
    """Every callback of every call, as the simulator sends them.

    Returns (events, expected auto results, person leg id -> agent leg id).
    """
    out: list[dict[str, str]] = []
    auto = 0
    parents: dict[str, str] = {}
    for call in calls:
        a, p = call.agent_call_id, "CA" + uuid.uuid4().hex
        parents[p] = a
        outcome = rng.choices(["human", "busy", "voicemail"], weights=[70, 20, 10])[0]
        out += [_leg(account, AGENT_PHONE, a, s) for s in ("initiated", "ringing", "in-progress")]
        out += [_leg(account, call.to_e164, p, s, a) for s in ("initiated", "ringing")]
        if outcome == "busy":
            out.append(_leg(account, call.to_e164, p, "busy", a))
            auto += 1
        else:
            out.append(_leg(account, call.to_e164, p, "in-progress", a))
            if outcome == "voicemail":
                out.append(
                    {
                        "AccountSid": account.account_sid,
                        "CallSid": p,
                        "AnsweredBy": "machine_end_beep",
                        "MachineDetectionDuration": "2100",
                    }
                )
                auto += 1
            duration = str(rng.randint(5, 120))
            out.append(_leg(account, call.to_e164, p, "completed", a, CallDuration=duration))
        duration = str(rng.randint(10, 140))
        out.append(_leg(account, AGENT_PHONE, a, "completed", CallDuration=duration))
    return out, auto, parents


def main() -> None:
    if not postgres_available():
        emit(
            "telephony.webhook_rate", 0, "events/s", ">= 500 events/s", None, False,
            error="no PostgreSQL",
        )  # fmt: skip
        return
    os.environ["SIMULATOR_AUTODELIVER"] = "0"
    os.environ["WEBHOOK_PROCESS_INLINE"] = "1" if INLINE else "0"
    rng = random.Random(11)
    with postgres_database("mobiliza_bench_telephony") as url:
        migrate(url)
        django_setup(url)
        from django.db import connection
        from twilio.request_validator import RequestValidator

        from mobiliza.providers.crypto import decrypt
        from mobiliza.telephony.services import call_status_url

        account, operation, calls = _seed()
        token = decrypt(account.auth_token_encrypted)
        path = "/" + call_status_url(account=account).split("://", 1)[1].split("/", 1)[1]
        events, expected_auto, parents = _events(account, calls, rng)
        connection.close()
        with app_server(url) as port:
            validator = RequestValidator(token)
            signed_url = f"http://127.0.0.1:{port}{path}"
            # Each leg's callbacks are delivered in order by one client (as a carrier does per
            # call); legs and calls interleave freely across clients.
            per_call: dict[str, list[tuple[str, dict[str, str]]]] = {}
            for params in events:
                key = params.get("ParentCallSid") or parents.get(
                    params["CallSid"], params["CallSid"]
                )
                per_call.setdefault(key, []).append(
                    (validator.compute_signature(signed_url, params), params)
                )
            unique = [item for items in per_call.values() for item in items]
            groups = list(per_call.values())
            rng.shuffle(groups)
            chunks: list[list[tuple[str, dict[str, str]]]] = [[] for _ in range(CLIENTS)]
            for i, group in enumerate(groups):
                chunks[i % CLIENTS].extend(group)
            # A carrier retries a callback after delivering it: each client redelivers a tenth
            # of what it already sent (so a retry never overtakes the original).
            for chunk in chunks:
                chunk.extend(rng.sample(chunk, int(len(chunk) * DUPLICATES)))
            requests = sum(len(c) for c in chunks)
            errors: list[int] = []

            def client(chunk: list[tuple[str, dict[str, str]]]) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                for signature, params in chunk:
                    conn.request(
                        "POST",
                        path,
                        urlencode(params),
                        {
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": signature,
                        },
                    )
                    response = conn.getresponse()
                    response.read()
                    if response.status != 204:
                        errors.append(response.status)

            threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - start

        from django.db.models import Count, Sum

        from mobiliza.calling.models import CallAttempt
        from mobiliza.providers.models import WebhookEvent
        from mobiliza.providers.services import webhook_event_process
        from mobiliza.telephony.models import PlacedCall

        stored = WebhookEvent.objects.count()
        pending = list(
            WebhookEvent.objects.filter(outcome="pending")
            .order_by("id")
            .values_list("pk", flat=True)
        )
        connection.close()
        workers = int(os.environ.get("BENCH_PROCESS_THREADS", "4"))
        process_cpu = [0.0]

        def process(ids: list[int]) -> None:
            from django.db import connections

            cpu = time.thread_time()
            try:
                for pk in ids:
                    webhook_event_process(event_id=pk)
            finally:
                process_cpu[0] += time.thread_time() - cpu
                connections.close_all()

        # Events of one call go to one worker (in arrival order), as a per-call queue would.
        by_call: dict[str, list[int]] = {}
        for pk, payload in WebhookEvent.objects.filter(pk__in=pending).values_list("pk", "payload"):
            # AMD callbacks carry only the person leg's id: keep them with their call's worker.
            sid = payload["CallSid"]
            by_call.setdefault(payload.get("ParentCallSid") or parents.get(sid, sid), []).append(pk)
        shards: list[list[int]] = [[] for _ in range(workers)]
        for i, ids in enumerate(by_call.values()):
            shards[i % workers].extend(ids)
        for shard in shards:
            shard.sort()
        threads = [threading.Thread(target=process, args=(s,)) for s in shards]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        process_seconds = time.perf_counter() - start
        connection.close()

        events_n = WebhookEvent.objects.count()
        deliveries = WebhookEvent.objects.aggregate(n=Sum("deliveries"))["n"] or 0
        processed = WebhookEvent.objects.filter(outcome="processed").count()
        ended = PlacedCall.objects.filter(stage="ended").count()
        auto_recorded = PlacedCall.objects.filter(result_recorded=True).count()
        attempts = CallAttempt.objects.filter(operation=operation).count()
        unmatched = WebhookEvent.objects.filter(outcome="unmatched").count()
        failed_notes = list(
            PlacedCall.objects.exclude(auto_status="")
            .filter(result_recorded=False)
            .values_list("auto_status", "result_note")[:5]
        )
        outcomes = dict(
            WebhookEvent.objects.values_list("outcome").annotate(n=Count("id")).order_by()
        )

        connection.close()
        reference_seconds = raw_webhook_insert_seconds(
            url, unique, id_key="CallSid", clients=CLIENTS
        )
    n = len(unique)
    rate = n / seconds
    ok = (
        not errors
        and stored == n
        and events_n == n
        and processed == n
        and deliveries == requests
        and ended == len(calls)
        and auto_recorded == expected_auto
        and attempts == expected_auto
    )
    emit(
        "telephony.webhook_rate",
        rate,
        "events/s",
        ">= 500 events/s",
        n / reference_seconds,
        rate >= 500 and ok,
        mode="inline" if INLINE else "store-then-process",
        calls=len(calls),
        events=n,
        requests=requests,
        redeliveries=requests - n,
        recorded_once=events_n == n and deliveries == requests,
        calls_ended=ended,
        auto_results=attempts,
        auto_results_expected=expected_auto,
        unmatched=unmatched,
        outcomes=outcomes,
        not_recorded=failed_notes,
        http_errors=len(errors),
        clients=CLIENTS,
        all_checks_ok=ok,
        seconds=round(seconds, 2),
        requests_per_s=round(requests / seconds, 1),
        processing_rate=round(n / process_seconds, 1) if process_seconds else None,
        processing_cpu_ms_per_event=round(1000 * process_cpu[0] / max(1, len(pending)), 3),
        processing_threads=workers,
        end_to_end_rate=round(n / (seconds + process_seconds), 1),
    )

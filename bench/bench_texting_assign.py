"""Dynamic assignment at scale on PostgreSQL: 100,000 contacts handed out in batches of 200 to
500 texters asking at the same time (a pool of threads, each with its own connection).

Checks no contact is assigned twice and every texter stays within the maximum. Reference: the
same 500 UPDATEs of 200 rows each by primary-key range (no locking, no selection), same threads.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
)

CONTACTS = int(os.environ.get("BENCH_TEXT_CONTACTS", "100000"))
TEXTERS = int(os.environ.get("BENCH_TEXTERS", "500"))
BATCH = int(os.environ.get("BENCH_TEXT_BATCH", "200"))
THREADS = int(os.environ.get("BENCH_THREADS", "40"))


def _seed() -> tuple[Any, list[Any]]:
    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.people.models import Person
    from mobiliza.texting.models import Conversation, TextCampaign, Texter

    org = Organization.objects.create(name="Bench", slug="bench")
    campaign = TextCampaign.objects.create(
        organization=org,
        name="Bench",
        first_message="Hi {first_name}",
        status=TextCampaign.Status.ACTIVE,
        batch_size=BATCH,
        max_per_texter=BATCH,
    )
    people = Person.objects.bulk_create(
        [Person(organization=org, first_name=f"P{i}") for i in range(CONTACTS)], batch_size=5000
    )
    Conversation.objects.bulk_create(
        [
            Conversation(organization=org, campaign=campaign, person=p, phone_e164=f"+3519{i:08d}")
            for i, p in enumerate(people)
        ],
        batch_size=5000,
    )
    users = User.objects.bulk_create(
        [User(email=f"t{i}@example.org", full_name=f"Texter {i}") for i in range(TEXTERS)]
    )
    members = Membership.objects.bulk_create(
        [Membership(organization=org, user=u, role="volunteer") for u in users]
    )
    Texter.objects.bulk_create(
        [Texter(organization=org, campaign=campaign, membership=m) for m in members]
    )
    return campaign, members


def _pool_run(fn: Any, items: list[Any]) -> float:
    from django.db import connections

    opened: list[Any] = []
    lock = threading.Lock()

    def wrapped(item: Any) -> Any:
        # One connection per worker thread, kept for all its requests (like a server's pool).
        from django.db import connection

        with lock:
            opened.append(connection)
        return fn(item)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(wrapped, items))
    elapsed = time.perf_counter() - start
    for conn in opened:
        conn.close()
    connections.close_all()
    _pool_run.results = results  # type: ignore[attr-defined]
    return elapsed


def main() -> None:
    if not postgres_available():
        emit("texting.assign_seconds", 0, "s", "<= 20 s", None, False, error="no PostgreSQL")
        return
    with postgres_database("mobiliza_bench_assign") as url:
        migrate(url)
        django_setup(url)
        from django.db import connection
        from django.db.models import Count

        from mobiliza.texting.models import Conversation
        from mobiliza.texting.services import assignment_request

        campaign, members = _seed()
        connection.close()

        def ask(member: Any) -> int:
            return assignment_request(campaign=campaign, membership=member, count=BATCH)

        seconds = _pool_run(ask, members)
        got: list[int] = _pool_run.results  # type: ignore[attr-defined]
        assigned = Conversation.objects.filter(campaign=campaign, assigned_to__isnull=False).count()
        per_texter = (
            Conversation.objects.filter(campaign=campaign, assigned_to__isnull=False)
            .values("assigned_to")
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("n", flat=True)
            .first()
        )
        distinct_rows = Conversation.objects.filter(campaign=campaign).count()
        ok = sum(got) == assigned == min(CONTACTS, TEXTERS * BATCH) and (per_texter or 0) <= BATCH

        # Reference: the same number of 200-row UPDATEs by id range, no selection or locking.
        ids = list(
            Conversation.objects.filter(campaign=campaign)
            .order_by("id")
            .values_list("id", flat=True)
        )
        ranges = [(ids[i], ids[min(i + BATCH, len(ids)) - 1]) for i in range(0, len(ids), BATCH)]
        table = Conversation._meta.db_table

        def raw(bounds: tuple[int, int]) -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET updated_at = now() WHERE id BETWEEN %s AND %s",
                    list(bounds),
                )

        reference_seconds = _pool_run(raw, ranges)
    emit(
        "texting.assign_100k_seconds",
        seconds,
        "s",
        "<= 20 s",
        reference_seconds,
        seconds <= 20 and ok,
        contacts=CONTACTS,
        texters=TEXTERS,
        batch=BATCH,
        threads=THREADS,
        assigned=assigned,
        assigned_twice=distinct_rows - CONTACTS,
        max_per_texter_seen=per_texter,
        all_checks_ok=ok,
        contacts_per_s=round(assigned / seconds, 1) if seconds else None,
    )

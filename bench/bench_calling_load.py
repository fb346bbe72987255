"""HTTP load test of the agent flow against PostgreSQL (issue 5: 500 concurrent agents doing
claim -> result cycles: >= 200 cycles/s, p95 <= 250 ms, 0 double holds, 0 lost results).

gunicorn (gthread) serves the app on a loopback port; 500 client threads, each one agent with its
own API token and keep-alive connection, loop POST claim -> POST result (status "completed",
a fresh idempotency key; every 10th result is sent twice to exercise idempotency) -> a think time
(BENCH_THINK_MS, 2 s on average: the agent talking). At the end:

* double holds: for every target, the client-side [claim, result] intervals of different agents
  must not overlap, and the database must hold at most one attempt per target;
* lost results: every result the server acknowledged must be in the attempt log, once.

Reference in the same run: the raw SQL claim rate on the same database, K threads doing
`UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)` with psycopg, no HTTP and no Django.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from bench.common import emit, migrate, percentile, postgres_available, postgres_database

AGENTS = int(os.environ.get("BENCH_AGENTS", "500"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
TARGETS = int(os.environ.get("BENCH_LOAD_TARGETS", "60000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
RAW_THREADS = int(os.environ.get("BENCH_RAW_THREADS", "8"))
# Each simulated agent "talks" between save and the next claim. With no pause, 500 closed-loop
# clients make latency = 500 / throughput (2.5 s at 200 cycles/s): the p95 target only means
# something with a think time; 2 s lets 500 agents offer ~230 cycles/s.
THINK_SECONDS = float(os.environ.get("BENCH_THINK_MS", "2000")) / 1000


def _seed(url: str) -> dict[str, Any]:
    from bench.bench_calling_build import _insert_people
    from bench.common import django_setup

    django_setup(url)
    from django.db import connections

    from mobiliza.accounts.models import Membership, User
    from mobiliza.accounts.services import api_token_create, membership_add, organization_create
    from mobiliza.calling import services
    from mobiliza.calling.dispenser import list_build
    from mobiliza.calling.models import OperationUser

    owner = User.objects.create_user("owner@example.org", "bench-password-123", full_name="Owner")
    org = organization_create(name="Bench", creator=owner)
    _insert_people(org.id, TARGETS)
    membership = Membership.objects.get(organization=org, user=owner)

    def operation(name: str) -> Any:
        import datetime as dt

        from django.utils import timezone

        op = services.operation_create(organization=org, creator=membership)
        op.name = name
        op.window_start, op.window_end = dt.time(0, 0), dt.time(23, 59, 59)
        op.days_of_week = [0, 1, 2, 3, 4, 5, 6]
        op.starts_on = timezone.localdate() - dt.timedelta(days=1)
        op.ends_at = timezone.now() + dt.timedelta(days=2)
        op.is_draft = False
        op.save()
        list_build(operation=op)
        return op

    op = operation("Load")
    raw_op = operation("Raw reference")
    tokens = []
    users = User.objects.bulk_create(
        [User(email=f"agent{i}@example.org", full_name=f"Agent {i}") for i in range(AGENTS)]
    )
    for user in users:
        m = membership_add(organization=org, user=user, role="volunteer", actor=owner)
        OperationUser.objects.create(organization=org, operation=op, membership=m, role="agent")
        _token, raw = api_token_create(membership=m, name="bench")
        tokens.append(raw)
    info = {
        "operation": str(op.public_id),
        "operation_id": op.id,
        "raw_operation_id": raw_op.id,
        "agent_id": membership.id,
        "tokens": tokens,
    }
    connections.close_all()
    return info


def _raw_claim_rate(url: str, operation_id: int, agent_id: int, seconds: float = 5.0) -> float:
    """Claims/s of the bare SQL statement (psycopg, no HTTP, no Django)."""
    import psycopg

    stop = time.perf_counter() + seconds
    counts: list[int] = []
    lock = threading.Lock()
    sql = """
        UPDATE calling_calltarget t
           SET held_by_id = %s, lease_expires_at = now() + interval '15 minutes',
               available_at = now() + interval '15 minutes'
          FROM (SELECT id FROM calling_calltarget
                 WHERE operation_id = %s AND state = 'ready' AND available_at <= now()
                 ORDER BY priority, available_at, id
                 LIMIT 1 FOR UPDATE SKIP LOCKED) c
         WHERE t.id = c.id
        RETURNING t.id
    """

    def worker() -> None:
        n = 0
        with psycopg.connect(url, autocommit=True) as conn:
            while time.perf_counter() < stop:
                if conn.execute(sql, (agent_id, operation_id)).fetchone() is not None:
                    n += 1
        with lock:
            counts.append(n)

    threads = [threading.Thread(target=worker) for _ in range(RAW_THREADS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def _drive(port: int, info: dict[str, Any]) -> dict[str, Any]:
    claim_path = f"/api/v1/call-operations/{info['operation']}/claim"
    lock = threading.Lock()
    cycle_latencies: list[float] = []
    request_latencies: list[float] = []
    holds: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    acked: list[str] = []
    errors: dict[str, int] = defaultdict(int)
    empty = [0]
    start_barrier = threading.Barrier(len(info["tokens"]) + 1)
    stop_at = [0.0]

    def worker(index: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local_cycles: list[float] = []
        local_requests: list[float] = []
        local_holds: list[tuple[str, float, float]] = []
        local_acked: list[str] = []
        local_errors: dict[str, int] = defaultdict(int)

        def post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            nonlocal conn
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                local_errors["connection"] += 1
                return 0, {}
            local_requests.append(time.perf_counter() - t0)
            try:
                return resp.status, json.loads(data or b"{}")
            except ValueError:
                return resp.status, {}

        start_barrier.wait()
        n = 0
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            status, data = post(claim_path, {})
            if status != 200:
                local_errors[f"claim {status}"] += 1
                continue
            target = data.get("target")
            if not target:
                with lock:
                    empty[0] += 1
                time.sleep(0.2)
                continue
            claimed_at = time.perf_counter()
            key = uuid.uuid4().hex
            body = {"status": "completed", "idempotency_key": key, "notes": "bench"}
            status, data = post(f"/api/v1/call-targets/{target['id']}/result", body)
            if n % 10 == 0 and status in (200, 201):
                again, data2 = post(f"/api/v1/call-targets/{target['id']}/result", body)
                if again != 200 or not data2.get("replayed"):
                    local_errors["replay not recognised"] += 1
            n += 1
            done_at = time.perf_counter()
            if status in (200, 201):
                local_acked.append(key)
                local_holds.append((target["id"], claimed_at, done_at))
                local_cycles.append(done_at - t0)
            else:
                local_errors[f"result {status}"] += 1
            if THINK_SECONDS:
                time.sleep(THINK_SECONDS * (0.5 + random.random()))
        conn.close()
        with lock:
            cycle_latencies.extend(local_cycles)
            request_latencies.extend(local_requests)
            acked.extend(local_acked)
            for tid, a, b in local_holds:
                holds[tid].append((index, a, b))
            for k, v in local_errors.items():
                errors[k] += v

    threads = [
        threading.Thread(target=worker, args=(i, tok), daemon=True)
        for i, tok in enumerate(info["tokens"])
    ]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + SECONDS + 1e9  # set for real below, after the barrier
    start_barrier.wait()
    began = time.perf_counter()
    stop_at[0] = began + SECONDS
    for t in threads:
        t.join(timeout=SECONDS + 60)
    elapsed = time.perf_counter() - began
    double = 0
    for intervals in holds.values():
        if len(intervals) > 1:
            intervals.sort(key=lambda x: x[1])
            for (a1, _s1, e1), (a2, s2, _e2) in itertools.pairwise(intervals):
                if a1 != a2 and s2 < e1:
                    double += 1
    return {
        "cycles": len(cycle_latencies),
        "seconds": elapsed,
        "cycle_p95_ms": percentile(cycle_latencies, 95) * 1000,
        "request_p95_ms": percentile(request_latencies, 95) * 1000,
        "request_p50_ms": percentile(request_latencies, 50) * 1000,
        "acked": acked,
        "double_holds_client": double,
        "targets_handed_twice": sum(1 for v in holds.values() if len(v) > 1),
        "errors": dict(errors),
        "empty_claims": empty[0],
    }


def main() -> None:
    if not postgres_available():
        emit(
            "calling.load_cycles_per_s",
            0,
            "cycles/s",
            ">= 200",
            None,
            False,
            skipped="no PostgreSQL",
        )
        return
    from bench.http import gunicorn

    with postgres_database("mobiliza_bench_calling_load") as url:
        migrate(url)
        info = _seed(url)
        with gunicorn(url, workers=WORKERS, threads=THREADS) as port:
            result = _drive(port, info)
        reference = _raw_claim_rate(url, info["raw_operation_id"], info["agent_id"])
        from django.db import connection, connections

        from mobiliza.calling.models import CallAttempt

        keys = set(result["acked"])
        stored = set(
            CallAttempt.objects.filter(operation_id=info["operation_id"]).values_list(
                "idempotency_key", flat=True
            )
        )
        per_target_max = (
            CallAttempt.objects.filter(operation_id=info["operation_id"])
            .values("target_id")
            .order_by()
            .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
            .order_by("-n")
            .values_list("n", flat=True)
            .first()
        ) or 0
        lost = len(keys - stored)
        unacked_but_stored = len(stored - keys)
        connection.close()
        connections.close_all()
        rate = result["cycles"] / result["seconds"] if result["seconds"] else 0.0
        double = result["double_holds_client"] + (1 if per_target_max > 1 else 0)
        emit(
            "calling.load_cycles_per_s",
            rate,
            "cycles/s",
            ">= 200 cycles/s, p95 <= 250 ms, 0 double holds, 0 lost results",
            reference,
            rate >= 200 and result["request_p95_ms"] <= 250 and double == 0 and lost == 0,
            agents=AGENTS,
            seconds=round(result["seconds"], 1),
            cycles=result["cycles"],
            request_p50_ms=round(result["request_p50_ms"], 1),
            request_p95_ms=round(result["request_p95_ms"], 1),
            cycle_p95_ms=round(result["cycle_p95_ms"], 1),
            double_holds=double,
            max_attempts_per_target=per_target_max,
            lost_results=lost,
            stored_without_ack=unacked_but_stored,
            errors=result["errors"],
            empty_claims=result["empty_claims"],
            gunicorn=f"{WORKERS} workers x {THREADS} threads",
            think_ms=round(THINK_SECONDS * 1000),
            reference_note="raw SQL claims/s (UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)), "
            f"{RAW_THREADS} psycopg threads",
        )


if __name__ == "__main__":
    main()

"""Shared plumbing for benchmarks.

A benchmark is a module `bench/bench_<name>.py` with a `main() -> None` that prints its results with
`emit()`. Each runs in its own process (`python -m bench <name>`), so it may set DATABASE_URL and
then call `django_setup()`. Benchmarks are measurements, not tests: they print, they never fail CI.

Every result line is one JSON object:
    {"name", "value", "unit", "target", "reference", "passed", ...extra}
where `reference` is the raw rate of the same work on the same machine, measured in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET_KEY = "bench-only-secret-key-for-local-measurements-0123456789abcdefghijklmnop"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def emit(
    name: str,
    value: float,
    unit: str,
    target: str,
    reference: float | None,
    passed: bool,
    **extra: Any,
) -> dict[str, Any]:
    """Print one result line. `target` is human-readable, e.g. "<= 30 s" or ">= 200 /s"."""
    line = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "reference": None if reference is None else round(reference, 3),
        "passed": bool(passed),
        **extra,
    }
    print(json.dumps(line), flush=True)
    return line


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except Exception:
        return False
    return True


def create_postgres_database(prefix: str = "mobiliza_bench") -> str:
    """Create an empty PostgreSQL database and return its URL (dropped by `drop_postgres_database`)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(prefix: str = "mobiliza_bench") -> Iterator[str]:
    url = create_postgres_database(prefix)
    try:
        yield url
    finally:
        drop_postgres_database(url)


def settle_postgres() -> None:
    """CHECKPOINT: write out the dirty pages that seeding (or the benchmark before) left, so the
    measured period doesn't pay for another phase's writes. Needs a superuser (the admin URL)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def migrate(database_url: str | None, data_dir: str | None = None) -> None:
    """Apply migrations in a child process with the given DATABASE_URL (None: SQLite)."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    if data_dir:
        env["DATA_DIR"] = data_dir
    env["DEBUG"] = "0"
    env["SECURE_SSL_REDIRECT"] = "0"
    env.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def django_setup(database_url: str | None = None, data_dir: str | None = None) -> None:
    """Configure Django in this process against the given database (None: SQLite in DATA_DIR)."""
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if data_dir:
        os.environ["DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "0"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_webhook_insert_seconds(
    url: str, payloads: list[tuple[str, dict[str, str]]], *, id_key: str, clients: int
) -> float:
    """The raw reference of the webhook benchmarks: the same payloads inserted one row each
    (autocommit, `clients` psycopg connections in threads) into a bare table. Returns seconds."""
    import json
    import threading

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_raw (id bigserial primary key, provider_id varchar(64),"
            " payload jsonb, received_at timestamptz default now())"
        )

    def insert(chunk: list[tuple[str, dict[str, str]]]) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for _signature, params in chunk:
                conn.execute(
                    "INSERT INTO bench_raw (provider_id, payload) VALUES (%s, %s)",
                    [params[id_key], json.dumps(params)],
                )

    threads = [
        threading.Thread(target=insert, args=(payloads[i::clients],)) for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start

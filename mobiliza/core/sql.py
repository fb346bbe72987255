"""SQL helpers: a random UUID in SQL on either database (`random_uuid_sql`), and prepared
statements for the few fixed SQL statements of the hot paths (PostgreSQL).

Django opens its psycopg connections with prepared statements disabled (`prepare_threshold`
None): psycopg then ignores `prepare=True`, and every execution is parsed and planned again,
which for a short statement costs PostgreSQL more than running it. `prepared_fetchone` turns
preparation on for the statements that ask for it and for no others.

The hot paths run several of these per request, so the Python around them is kept short too: the
connection is looked up once (not through Django's per-attribute thread-local proxy) and each
psycopg connection keeps one cursor for them (a cursor costs more to create than to reuse).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.db.models import Model

# A version 4 (random) UUID as SQLite stores a UUIDField: 32 lower-case hex digits, from two
# random 64-bit integers: the first with its version digit (bits 12-15) set to 4, the second
# with its top two bits set to the variant 10. 122 random bits from SQLite's generator (the
# one `randomblob` uses), as `uuid.uuid4()` and PostgreSQL's `gen_random_uuid()` give. The
# format's percent signs are char(37): the SQL holds none, so it reads the same with or
# without parameters and in Django's debug log of the query. ~0.6 s of SQLite's time per 1M
# rows, against ~0.5 s for hex(randomblob(16)).
_SQLITE_UUID4 = (
    "printf(char(37) || '016x' || char(37) || '016x', (random() & -61441) | 16384, "
    "(random() & 4611686018427387903) | -9223372036854775808)"
)


def random_uuid_sql() -> str:
    """An SQL expression for a new random (version 4) UUID, evaluated per row, for the
    set-based inserts that give rows their public ids in the database."""
    return "gen_random_uuid()" if connection.vendor == "postgresql" else _SQLITE_UUID4


# A threshold no statement reaches: only `prepare=True` executions are prepared; the ORM's
# statements (client-side binding cursors) stay as they are.
_NEVER = 2**31 - 1
_CURSOR = "_mobiliza_hot_cursor"


def _fast_timestamps(cursor: psycopg.Cursor[Any], timezone_name: str, raw: Any) -> None:
    """Read `timestamptz` with psycopg's own (compiled) loader on the hot cursor when it gives
    exactly what Django's does: Django parses with a Python loader and then sets the tzinfo to the
    connection's time zone, which is UTC, as is the session's (`ensure_timezone`); psycopg's
    loader then returns the same aware UTC datetimes at a tenth of the cost (the hot rows carry
    a few dozen timestamps)."""
    if timezone_name != "UTC" or str(raw.info.timezone) != "UTC":
        return
    from psycopg import adapters, postgres
    from psycopg.pq import Format

    oid = postgres.types["timestamptz"].oid
    cursor.adapters.register_loader(oid, adapters.get_loader(oid, Format.TEXT))  # type: ignore[arg-type]


def prepared_fetchone(sql: str, params: Any, *, fetch: bool = True) -> tuple[Any, ...] | None:
    """Run `sql` and return its first row (None when there is none or `fetch` is False).

    On PostgreSQL through a server-side-binding psycopg cursor with `prepare=True`: the first
    execution on a connection prepares the statement, later ones skip parsing and planning.
    Placeholders are psycopg's (`%s`, `%(name)s`). Elsewhere, Django's cursor.

    Errors are raised as Django's (`django.db.IntegrityError`, `OperationalError`, …, with the
    driver's error as `__cause__`), as from the ORM, and mark the connection for Django's
    end-of-request check the same way.
    """
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor == "postgresql":
        with conn.wrap_database_errors:
            return _prepared_postgres(conn, sql, params, fetch)
    with conn.cursor() as django_cursor:
        django_cursor.execute(sql, params)
        return django_cursor.fetchone() if fetch else None


def _prepared_postgres(conn: Any, sql: str, params: Any, fetch: bool) -> tuple[Any, ...] | None:
    """The PostgreSQL side of `prepared_fetchone` (errors raised as the driver's)."""
    raw = conn.connection
    if raw is None:
        conn.ensure_connection()
        raw = conn.connection
    cursor: psycopg.Cursor[Any] | None = getattr(raw, _CURSOR, None)
    if cursor is None or cursor.closed:
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _NEVER
        cursor = psycopg.Cursor(raw)
        _fast_timestamps(cursor, conn.timezone_name, raw)
        setattr(raw, _CURSOR, cursor)
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchone() if fetch else None


def first_read(sql: str, params: Any) -> tuple[Any, ...] | None:
    """A request's first statement, read-only, in place of the connection's health check.

    With persistent connections Django checks a reused connection (`SELECT 1`) before the first
    ORM query of each request; prepared statements go round that check, and the next ORM use
    (a transaction's start) would pay it as one more round trip. Here the read itself is the
    check: when the connection died while idle, it is replaced and the read run again; once the
    read has worked the connection is known good for this request."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql" or conn.in_atomic_block:
        return prepared_fetchone(sql, params)
    try:
        row = prepared_fetchone(sql, params)
    except (OperationalError, InterfaceError):
        raw = conn.connection
        if raw is not None and not (raw.closed or raw.broken):
            raise
        conn.close()
        row = prepared_fetchone(sql, params)
    conn.health_check_done = True  # type: ignore[attr-defined]  # Django's per-request flag
    return row


# --- rows read by hand-written SQL, turned into model instances --------------------------------
# The ORM spends far more CPU compiling a query than PostgreSQL spends running it; the hot paths
# run a few fixed statements many times a second, so they read rows with SQL written once and
# turn them into model instances here (with the fields' own database converters).
_CONVERTERS: dict[tuple[str, type[Model]], tuple[list[Any], list[str]]] = {}


def model_columns(model: type[Model], alias: str) -> str:
    """`alias."col", …` for every concrete field of `model`, in `model_from_row` order."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def model_from_row(model: type[Model], values: tuple[Any, ...] | list[Any]) -> Any:
    """An instance of `model` from values in `model_columns` order, as the ORM would load it
    (the backend's and the fields' own converters applied)."""
    conn = connections[DEFAULT_DB_ALIAS]
    key = (conn.vendor, model)
    found = _CONVERTERS.get(key)
    if found is None:
        from django.db.models.expressions import Col

        converters = []
        for i, f in enumerate(model._meta.concrete_fields):
            col = Col(model._meta.db_table, f)
            funcs = conn.ops.get_db_converters(col) + f.get_db_converters(conn)
            if funcs:
                converters.append((i, funcs, col))
        found = (converters, [f.attname for f in model._meta.concrete_fields])
        _CONVERTERS[key] = found
    converters, names = found
    row = list(values)
    for i, funcs, col in converters:
        value = row[i]
        for func in funcs:
            value = func(value, col, conn)
        row[i] = value
    return model.from_db(conn.alias, names, row)

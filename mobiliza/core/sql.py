"""Prepared statements for the few fixed SQL statements of the hot paths (PostgreSQL).

Django opens its psycopg connections with prepared statements disabled (`prepare_threshold`
None): psycopg then ignores `prepare=True`, and every execution is parsed and planned again,
which for a short statement costs PostgreSQL more than running it. `prepared_fetchone` turns
preparation on for the statements that ask for it and for no others.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

# A threshold no statement reaches: only `prepare=True` executions are prepared; the ORM's
# statements (client-side binding cursors) stay as they are.
_NEVER = 2**31 - 1


def prepared_fetchone(sql: str, params: Any, *, fetch: bool = True) -> tuple[Any, ...] | None:
    """Run `sql` and return its first row (None when there is none or `fetch` is False).

    On PostgreSQL through a server-side-binding psycopg cursor with `prepare=True`: the first
    execution on a connection prepares the statement, later ones skip parsing and planning.
    Placeholders are psycopg's (`%s`, `%(name)s`). Elsewhere, Django's cursor.
    """
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _NEVER
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone() if fetch else None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if fetch else None

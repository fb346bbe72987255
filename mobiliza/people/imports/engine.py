"""The import pipeline: stream the file, parse and normalize rows on every core, load them into
staging tables, then apply them to people with a few set-based SQL statements.

    file ──► reader.iter_spans ──► worker processes (read their span; ──► staging tables
          (record boundaries)      rows.process_chunk: csv, phones,     (COPY / executemany)
                                   time zone, address key)
          (one process, small files: reader.iter_chunks ──► rows.process_chunk here)

    staging ──► one transaction: later-row-wins dedupe, matching (external id, phone, email),
                households, INSERT ... SELECT new people, UPDATE ... FROM matched people,
                phones, tags, custom fields ──► commit (or roll back: nothing half-applied)

Staging tables are ordinary UNLOGGED tables on PostgreSQL (so progress can be committed while
they fill) and ordinary tables on SQLite, named after the job and dropped at the end.
"""

# SQL here is built from our own table and column names; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import bisect
import csv
import functools
import io
import itertools
import multiprocessing
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from psycopg import sql

from mobiliza.core.sql import random_uuid_sql
from mobiliza.people.households import households_create_for_table, households_delete_empty
from mobiliza.people.imports import direct
from mobiliza.people.imports.messages import problem_message
from mobiliza.people.imports.reader import (
    CHUNK_BYTES,
    FileFormat,
    ImportFileError,
    iter_chunks,
    iter_spans,
)
from mobiliza.people.imports.rows import (
    PEOPLE_COLUMNS,
    PHONE_COLUMNS,
    TAG_COLUMNS,
    VOTE_COLUMNS,
    ChunkOut,
    ParseConfig,
    _escape_copy,
    _Plan,
    gc_paused,
    init_worker,
    process_chunk,
    process_span_in_worker,
)
from mobiliza.people.models import (
    CustomField,
    Election,
    Household,
    Person,
    PersonPhone,
    PersonTag,
    Tag,
    VoteRecord,
)

PARALLEL_MIN_BYTES = 8 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 200_000
NULL = "\\N"  # NULL in COPY text

ProgressCallback = Callable[[str, int, int | None], None]

_COLUMN_TYPES = {
    "row_num": "bigint",
    "latitude": "double precision",
    "longitude": "double precision",
    "birth_date": "date",
    "birth_year": "integer",
    "support_level": "integer",
    "donations_this_year": "numeric(12,2)",
    "consent_phone": "boolean",
    "consent_sms": "boolean",
    "consent_email": "boolean",
    "do_not_contact": "boolean",
    "is_valid": "boolean",
    "position": "integer",
    "election_date": "date",
    # Parsed while the workers are still reading (COPY), not in the single-threaded apply.
    "custom_fields": "jsonb",
}
# Targets whose value is a Person column of the same name.
_DIRECT = [
    c
    for c in PEOPLE_COLUMNS
    if c not in {"row_num", "dkey", "phone_key", "custom_fields", "time_zone", "address_key"}
]


class _Timer:
    """Wall time of each step of an import, kept in the job's options (the profile)."""

    def __init__(self, timings: dict[str, float] | None = None) -> None:
        self.timings = timings if timings is not None else {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self._last = now


class ImportAbortedError(Exception):
    """The import stopped; nothing was applied. The message is for the organizer."""


@dataclass
class RunResult:
    counts: dict[str, int] = field(default_factory=dict)
    problems: int = 0
    report_path: Path | None = None
    encoding: str = ""
    delimiter: str = ""
    timings: dict[str, float] = field(default_factory=dict)


class _Report:
    """The per-row error report: a CSV of (row, column, reason), written as problems arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh)
        self._writer.writerow([_("row"), _("column"), _("reason")])

    def add(self, line: int, column: str, code: str, params: dict[str, Any]) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED_PROBLEMS:
            self._writer.writerow([line, column, problem_message(code, params)])

    def add_many(self, problems: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        """A chunk's problems (line, column, code, params), in the active language."""
        room = max(MAX_REPORTED_PROBLEMS - self.count, 0)
        self.count += len(problems)
        if room:
            language = get_language()
            self._writer.writerows(
                [line, column, problem_message(code, params, language)]
                for line, column, code, params in problems[:room]
            )

    def close(self) -> None:
        if self.count > MAX_REPORTED_PROBLEMS:
            self._writer.writerow(
                [
                    "",
                    "",
                    _("… and %(n)d more problems not listed.")
                    % {"n": self.count - MAX_REPORTED_PROBLEMS},
                ]
            )
        self._fh.close()


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _ddl(name: str, columns: tuple[str, ...], extra: str = "") -> str:
    pg = _postgres()
    parts = []
    for col in columns:
        kind = _COLUMN_TYPES.get(col, "text")
        if not pg:
            kind = {"double precision": "real", "bigint": "integer", "jsonb": "text"}.get(
                kind, kind
            )
            if col == "row_num" and name.endswith("_m"):
                kind = "integer PRIMARY KEY"
        parts.append(f"{col} {kind}")
    unlogged = "UNLOGGED " if pg else ""
    return f"CREATE {unlogged}TABLE {name} ({', '.join(parts)}{extra})"


class _Stage:
    """The job's staging tables: `_m` (people or votes), `_ph` (phones), `_tg` (tags)."""

    def __init__(self, job_pk: int, kind: str) -> None:
        base = f"imp_stage_{int(job_pk)}"
        self.main, self.phones, self.tags = f"{base}_m", f"{base}_ph", f"{base}_tg"
        self.ids = f"{base}_ids"  # (row_num, person_id) of the new people, made in phase 2
        self.kind = kind

    def create(self) -> None:
        self.drop()
        with connection.cursor() as cur:
            if self.kind == "people":
                cur.execute(
                    _ddl(
                        self.main,
                        PEOPLE_COLUMNS,
                        ", action text, match_id bigint, person_id bigint",
                    )
                )
                cur.execute(_ddl(self.phones, PHONE_COLUMNS))
                cur.execute(_ddl(self.tags, TAG_COLUMNS))
            else:
                cur.execute(_ddl(self.main, VOTE_COLUMNS, ", person_id bigint"))

    def drop(self) -> None:
        with connection.cursor() as cur:
            for name in (self.main, self.phones, self.tags, self.ids):
                cur.execute(f"DROP TABLE IF EXISTS {name}")

    def write(self, out: ChunkOut) -> None:
        if self.kind == "people":
            targets = [
                (self.main, out.main_columns or PEOPLE_COLUMNS, out.main),
                (self.phones, PHONE_COLUMNS, out.phones),
                (self.tags, TAG_COLUMNS, out.tags),
            ]
        else:
            targets = [(self.main, VOTE_COLUMNS, out.main)]
        if _postgres():
            with connection.cursor() as cur:
                raw = cur.cursor
                for table, columns, payload in targets:
                    if payload:
                        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                            cp.write(payload)
        else:
            with transaction.atomic(), connection.cursor() as cur:
                for table, columns, payload in targets:
                    if payload:
                        marks = ", ".join(["%s"] * len(columns))
                        cur.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            payload,
                        )

    def analyze(self) -> None:
        with connection.cursor() as cur:
            if _postgres():
                for name in (self.main, self.phones, self.tags):
                    if self.kind == "people" or name == self.main:
                        cur.execute(f"ANALYZE {name}")
            else:
                column = "dkey" if self.kind == "people" else "external_id"
                cur.execute(f"CREATE INDEX {self.main}_k ON {self.main} ({column})")
                cur.execute(f"ANALYZE {self.main}")


def _chunk_results(
    path: Path,
    fmt: FileFormat,
    cfg: ParseConfig,
    workers: int,
    chunk_bytes: int,
    layout: direct.DirectLayout | None = None,
) -> Iterator[tuple[Any, int]]:
    """Yield (parsed chunk, bytes consumed so far) in file order, with bounded memory: a
    `ChunkOut`, or with a direct-load `layout` a `direct.DirectChunk`."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        # A daemonic process (a Celery prefork worker) may not start children: parse inline.
        daemon = multiprocessing.current_process().daemon
        if workers <= 1 or size < PARALLEL_MIN_BYTES or daemon:
            plan = _Plan(cfg)
            done = fmt.data_offset
            chunks = iter_chunks(
                fh, start=fmt.data_offset, quotechar=fmt.quotechar, chunk_bytes=chunk_bytes
            )
            for data, span in chunks:
                done += len(data)
                parsed = process_chunk(plan, data, span.first_line, (span.quotes, span.breaks))
                yield (parsed if layout is None else direct.to_direct(parsed, layout)), done
            return
        # The workers read their piece of the file themselves; here only where it is.
        spans = iter_spans(
            fh, start=fmt.data_offset, quotechar=fmt.quotechar, chunk_bytes=chunk_bytes
        )
        ctx = multiprocessing.get_context("spawn")
        if layout is None:
            pool = ctx.Pool(workers, initializer=init_worker, initargs=(cfg, str(path)))
            work: Callable[..., Any] = process_span_in_worker
        else:
            pool = ctx.Pool(
                workers, initializer=direct.init_worker, initargs=(cfg, str(path), layout)
            )
            work = direct.process_span_in_worker
        with pool:
            pending: deque[tuple[Any, int]] = deque()
            for span in spans:
                pending.append((pool.apply_async(work, span), span.offset + span.length))
                if len(pending) >= workers * 2:
                    result, upto = pending.popleft()
                    yield result.get(), upto
            while pending:
                result, upto = pending.popleft()
                yield result.get(), upto


def _fatal_message(fatal: tuple[int, str, dict[str, Any]]) -> str:
    line, code, params = fatal
    return _("Line %(line)d: %(message)s") % {
        "line": line,
        "message": problem_message(code, params),
    }


class _ParseTotals:
    """What the parse has found so far (counts, tag names, custom field keys), the chunk's
    problems written to the report, and the page's progress every half second."""

    def __init__(self, report: _Report, progress: ProgressCallback, size: int) -> None:
        self.counts: dict[str, Any] = {"rows": 0, "rejected": 0, "invalid_phones": 0}
        self.tag_names: set[str] = set()
        self.custom_keys: set[str] = set()
        self.report, self.progress, self.size = report, progress, size
        self.last = 0.0

    def add(self, out: ChunkOut, consumed: int) -> None:
        """Count a parsed chunk (`consumed`: bytes of the file read so far); a fatal problem
        stops the import."""
        if out.fatal is not None:
            raise ImportAbortedError(_fatal_message(out.fatal))
        self.counts["rows"] += out.rows
        self.counts["rejected"] += out.rejected
        self.counts["invalid_phones"] += out.invalid_phones
        self.tag_names |= out.tag_names
        self.custom_keys |= out.custom_keys
        self.report.add_many(out.problems)
        now = time.monotonic()
        if now - self.last > 0.5:
            self.last = now
            rows = self.counts["rows"]
            self.progress("reading", rows, int(rows * self.size / max(consumed, 1)))

    def result(self) -> dict[str, Any]:
        return {**self.counts, "tag_names": self.tag_names, "custom_keys": self.custom_keys}


def load_stage(
    *,
    stage: _Stage,
    path: Path,
    fmt: FileFormat,
    cfg: ParseConfig,
    report: _Report,
    progress: ProgressCallback,
    workers: int,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, Any]:
    """Phase 1: parse the file into the staging tables. Returns the parse counts."""
    totals = _ParseTotals(report, progress, path.stat().st_size)
    try:
        for out, consumed in _chunk_results(path, fmt, cfg, workers, chunk_bytes):
            totals.add(out, consumed)
            stage.write(out)
    except ImportFileError as exc:
        raise ImportAbortedError(str(exc)) from exc
    return totals.result()


# --- phase 2: set-based apply ----------------------------------------------------------------


def _now_param() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _uuid_time_ordered() -> str:
    """SQL for a UUID whose first 48 bits are the time in ms, then 76 random bits (the layout
    of UUIDv7): rows inserted together land at the end of the public id index instead of on
    random pages (far less WAL on a big import). Still unguessable."""
    if not _postgres():
        return random_uuid_sql()
    return (
        "(lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') || '7' "
        "|| substr(replace(gen_random_uuid()::text, '-', ''), 14, 19))::uuid"
    )


def _dedupe(
    cur: Any, table: str, partition: str, where: str
) -> list[tuple[int, str | None]] | None:
    """Later row wins: among the rows matching `where` that share a `partition` value, mark
    all but the last one (highest row_num) as duplicates. One hash aggregate over the keys
    finds the repeated ones; only their earlier rows are written.

    On PostgreSQL the marked rows come back (row_num, dkey) from the UPDATE itself, so the
    report needs no second scan of the staging table; None on SQLite (RETURNING there needs
    SQLite 3.35, newer than Django's minimum)."""
    returning = f" RETURNING {table}.row_num, {table}.dkey" if _postgres() else ""
    cur.execute(
        f"""
        UPDATE {table} SET action = 'duplicate'
        FROM (SELECT {partition} AS k, MAX(row_num) AS last_row FROM {table} WHERE {where}
              GROUP BY {partition} HAVING COUNT(*) > 1) d
        WHERE {table}.{partition} = d.k AND {table}.row_num < d.last_row AND {where}
        {returning}"""
    )
    if not returning:
        return None
    return [(int(row_num), dkey) for row_num, dkey in cur.fetchall()]


def _report_replaced(report: _Report, rows: list[tuple[int, str | None]]) -> None:
    """One report line per row a later row replaced: (row number, its key or the key's kind
    letter: x external id, p phone, e email), in row order."""
    labels = {"x": _("external id"), "p": _("phone"), "e": _("email")}
    for row_num, key in rows[:MAX_REPORTED_PROBLEMS]:
        kind = (key or "x")[0]
        report.add(row_num, "", "duplicate", {"key": labels.get(kind, kind)})


def _match(cur: Any, table: str, key: str, org_id: int, person_list: str) -> None:
    """Set match_id of unmatched rows to the person with the same external id / phone / email
    (the smallest id when several), in one hash join."""
    person_t, phone_t = Person._meta.db_table, PersonPhone._meta.db_table
    if key == "external_id":
        source = f"""SELECT p.external_id AS k, MIN(p.id) AS id FROM {person_t} p
                     WHERE p.organization_id = %s AND p.list = %s AND p.external_id <> ''
                     GROUP BY p.external_id"""
        column = "external_id"
    elif key == "phone":
        source = f"""SELECT ph.e164 AS k, MIN(p.id) AS id FROM {phone_t} ph
                     JOIN {person_t} p ON p.id = ph.person_id
                     WHERE ph.organization_id = %s AND p.list = %s AND ph.e164 <> ''
                     GROUP BY ph.e164"""
        column = "phone_key"
    else:
        source = f"""SELECT p.email AS k, MIN(p.id) AS id FROM {person_t} p
                     WHERE p.organization_id = %s AND p.list = %s AND p.email <> ''
                     GROUP BY p.email"""
        column = "email"
    cur.execute(
        f"""
        UPDATE {table} SET match_id = m.id
        FROM ({source}) m
        WHERE {table}.{column} = m.k AND {table}.action IS NULL AND {table}.match_id IS NULL
        """,
        [org_id, person_list],
    )


def _person_sources(
    org_id: int, person_list: str, org_tz: str, now: Any
) -> list[tuple[str, tuple[Any, ...]]]:
    """Where each column of a new person comes from, for both ways of writing people (the
    general path's INSERT, `_insert_columns`; the direct load's lines, `direct_layout`):
    ("id",) and ("household",) given by the load, ("uuid",) a new public id, ("const", value),
    ("stage", staging column, value of a NULL or None to keep it). Values are as the database
    takes them (`get_db_prep_save`). Nullable columns without a default are left out."""
    staged = set(_DIRECT)
    sources: list[tuple[str, tuple[Any, ...]]] = []
    for f in Person._meta.concrete_fields:
        col = str(f.column)
        default = f.get_default()
        source: tuple[Any, ...]
        if col == "id":
            source = ("id",)
        elif col == "household_id":
            source = ("household",)
        elif col == "public_id":
            source = ("uuid",)
        elif col in {"created_at", "updated_at"}:
            source = ("const", now)
        elif col == "organization_id":
            source = ("const", org_id)
        elif col == "list":
            source = ("const", person_list)
        elif col == "custom_fields":
            source = ("stage", col, "{}")
        elif col == "time_zone":
            source = ("stage", col, org_tz)
        elif col in staged:
            null = f.null and default is None
            source = ("stage", col, None if null else f.get_db_prep_save(default, connection))
        elif default is None and f.null:
            continue
        else:
            source = ("const", f.get_db_prep_save(default, connection))
        sources.append((col, source))
    return sources


def _insert_columns(
    org_id: int, person_list: str, org_tz: str, now: Any, *, bulk: bool = False
) -> tuple[list[str], list[str], list[Any]]:
    """Person columns, the SELECT expressions over staging alias `s` / new ids `i` / household
    `h`, params.
    In bulk mode the public id index is built afterwards by sorting: a plain random UUID (one
    function call) instead of the time-ordered one (eight)."""
    columns: list[str] = []
    exprs: list[str] = []
    params: list[Any] = []
    for col, source in _person_sources(org_id, person_list, org_tz, now):
        columns.append(col)
        kind = source[0]
        if kind == "id":
            exprs.append("i.person_id")
        elif kind == "household":
            exprs.append("h.id")
        elif kind == "uuid":
            exprs.append(random_uuid_sql() if bulk else _uuid_time_ordered())
        elif kind == "const":
            exprs.append("%s")
            params.append(source[1])
        elif col == "custom_fields":
            exprs.append(
                "COALESCE(s.custom_fields, '{}')::jsonb"
                if _postgres()
                else "COALESCE(s.custom_fields, '{}')"
            )
        elif source[2] is None:
            exprs.append(f"s.{col}")
        else:
            exprs.append(f"COALESCE(s.{col}, %s)")
            params.append(source[2])
    return columns, exprs, params


# A load at least this big, and at least BULK_MIN_RATIO of the people already stored (all
# organizations), is applied in bulk mode on PostgreSQL (see `_BulkMode`).
BULK_MIN_ROWS = 50_000
BULK_MIN_RATIO = 0.5
# The statistics target of the ANALYZE that ends a bulk load (PostgreSQL's default: 100).
BULK_STATISTICS_TARGET = 30


class _BulkMode:
    """PostgreSQL, big loads: drop the foreign keys, unique constraints and secondary indexes of
    people, phones and households for the time of the inserts, then build them again and check
    every foreign key once, set-based (ADD CONSTRAINT validates with one anti-join instead of
    the millions of per-row checks a deferred constraint queues for COMMIT). All of it runs in
    the import's transaction: a failure rolls the definitions back too.

    The price: from the first DROP to COMMIT the three tables and the organizations table are
    locked exclusively (other requests wait for those seconds). That's why it's only for a load
    that is large relative to what is stored (a first register load), see BULK_MIN_*."""

    def __init__(self, tables: list[str], keep: frozenset[str] = frozenset()) -> None:
        self.tables = tables
        self.keep = keep  # indexes (PostgreSQL) that stay: no row of the load goes in them
        self.rebuild: list[str] = []  # unique constraints and indexes first
        self.foreign_keys: list[str] = []

    @staticmethod
    def wanted(cur: Any, new_rows: int) -> bool:
        if not settings.IMPORT_BULK_MODE or new_rows < BULK_MIN_ROWS:
            return False
        if _postgres():
            cur.execute(
                "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                [Person._meta.db_table],
            )
        else:
            cur.execute(f"SELECT MAX(id) FROM {Person._meta.db_table}")  # no count(*) scan
        stored = int(cur.fetchone()[0] or 0)
        return new_rows >= BULK_MIN_RATIO * stored

    def suspend(self, cur: Any) -> None:
        if not _postgres():
            # SQLite checks foreign keys cheaply (a primary key lookup); its indexes are what
            # a big insert pays for. Indexes of UNIQUE columns (no SQL) stay.
            for table in self.tables:
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
                    [table],
                )
                for name, definition in cur.fetchall():
                    cur.execute(f'DROP INDEX "{name}"')
                    self.rebuild.append(definition)
            return
        _run_pending_checks(cur)
        cur.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
               FROM pg_constraint
               WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')
               ORDER BY contype, conname""",
            [self.tables],
        )
        for table, name, definition, kind in cur.fetchall():
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            target = self.foreign_keys if kind == "f" else self.rebuild
            target.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cur.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
               ORDER BY 1""",
            [self.tables],
        )
        for name, definition in cur.fetchall():
            if name in self.keep:
                continue
            cur.execute(f"DROP INDEX {name}")
            self.rebuild.append(definition)

    def restore(self, cur: Any) -> None:
        postgres = _postgres()
        if postgres:
            _run_pending_checks(cur)
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in self.rebuild:
            cur.execute(statement)
        if postgres:
            # Statistics for the plans of the first minutes, from a smaller sample (9,000
            # rows instead of 30,000: ~0.3 s instead of ~1.2 s for 1M people). The load's rows
            # count as changes after COMMIT, so autovacuum analyzes the tables again with the
            # full target soon after: a full ANALYZE here would be done twice.
            cur.execute(f"SET LOCAL default_statistics_target = {BULK_STATISTICS_TARGET}")
        for table in self.tables:
            cur.execute(f"ANALYZE {table}")
        if postgres:
            cur.execute("SET LOCAL default_statistics_target TO DEFAULT")
        # After the statistics: the planner of each check then knows the new rows (a column
        # the load left NULL everywhere, like the elector record, is checked through its empty
        # partial index instead of a scan of the table).
        for statement in self.foreign_keys:
            cur.execute(statement)


def _partial_indexes_left_empty(layout: direct.DirectLayout) -> frozenset[str]:
    """The person indexes with a condition that no line of this load meets: the load gives
    the columns of the condition one value on every line (the list, an email left empty, no
    coordinates, no elector record) and that value fails it. Such an index can stay during
    the load: PostgreSQL tests each row against the condition and adds none, where building
    the index again afterwards would read the whole table. (Were the answer wrong, the index
    would still be right, only fed row by row.)"""
    known = layout.constants  # (a new dict each time: the layout's property builds it)
    written = {"id", "household_id", *layout.columns}
    for person_field in Person._meta.concrete_fields:
        if person_field.column is not None and person_field.column not in written:
            known[person_field.column] = None  # not in the COPY: NULL
    return frozenset(
        index.name
        for index in Person._meta.indexes
        if index.condition is not None and _holds(index.condition, known) is False
    )


def _holds(node: Any, constants: dict[str, str | None]) -> bool | None:
    """Whether a condition (`Q`) holds on every line, fails on every line, or None: it can't
    be told from the constant columns (a column that varies, a lookup or a value it doesn't
    know, a comparison with NULL)."""
    if isinstance(node, Q):
        values = [_holds(child, constants) for child in node.children]
        if node.connector == Q.AND:
            result = False if False in values else (None if None in values else True)
        else:
            result = True if True in values else (None if None in values else False)
        return result if result is None or not node.negated else not result
    lookup, value = node
    name, _, op = lookup.partition("__")
    try:
        column = getattr(Person._meta.get_field(name), "column", None)
    except FieldDoesNotExist:
        return None
    if column is None or column not in constants:
        return None
    const = constants[column]  # COPY text, None for NULL
    if op == "isnull" and isinstance(value, bool):
        return (const is None) == value
    if op in {"", "exact"} and isinstance(value, str) and const is not None:
        return const == _escape_copy(value)
    return None


def _tune_transaction(cur: Any) -> None:
    """PostgreSQL settings for the import's transaction: memory for its hashes and sorts, and
    the durability of this one commit traded for speed (a crash right after it loses the import,
    never corrupts; the job then shows as interrupted and can run again)."""
    cur.execute("SET LOCAL work_mem = '256MB'")
    cur.execute("SET LOCAL synchronous_commit = off")
    # Its statements are few and big but simple: compiling them (JIT) costs more than it saves
    # (seen: a DELETE of the replaced rows' phones, 0.27 s, most of it compiling).
    cur.execute("SET LOCAL jit = off")


def _run_pending_checks(cur: Any) -> None:
    """Run the deferred foreign key checks the transaction has queued so far (they would run at
    COMMIT), then defer again: ALTER TABLE refuses a table with checks pending, which happens
    when the import runs in a transaction that wrote people before (or deleted some)."""
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute("SET CONSTRAINTS ALL DEFERRED")


def _assign_ids(cur: Any, stage: _Stage, person_t: str, *, file_order: bool) -> None:
    """Give the new people (rows neither duplicate nor matched) their ids, into the narrow
    table `stage.ids` (row_num, person_id): the wide staging rows are not written again.

    The ids follow the names (last, first, then file order) so that, when the indexes stay
    live, the primary key and the name index grow at their ends instead of on random pages.
    In bulk mode (`file_order`) the indexes are built afterwards anyway: the ids follow the
    file, like the staging rows, so the people are inserted without sorting the wide rows.
    Either way people of the same name get ids in file order."""
    t, ids = stage.main, stage.ids
    order = "row_num" if file_order else "last_name, first_name, row_num"
    new = f"SELECT row_num FROM {t} WHERE action IS NULL AND match_id IS NULL ORDER BY {order}"
    if _postgres():
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [person_t])
        sequence = cur.fetchone()[0]
        # nextval() runs over the sorted rows, in their order.
        cur.execute(
            f"""CREATE UNLOGGED TABLE {ids} AS
                SELECT x.row_num, nextval(%s::regclass) AS person_id FROM ({new}) x""",
            [sequence],
        )
        cur.execute(f"ANALYZE {ids}")
        return
    cur.execute(
        f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {person_t}), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
        [person_t],
    )
    base = int(cur.fetchone()[0] or 0)
    cur.execute(f"CREATE TABLE {ids} (row_num integer PRIMARY KEY, person_id integer)")
    cur.execute(
        f"""INSERT INTO {ids} (row_num, person_id)
            SELECT row_num, %s + ROW_NUMBER() OVER (ORDER BY {order})
            FROM {t} WHERE action IS NULL AND match_id IS NULL""",
        [base],
    )


def _addressed(mapped: set[str]) -> bool:
    """The mapping fills an address: people get households."""
    return bool(mapped & {"street", "postcode", "city"})


def _mapped_columns(mapping: dict[str, str], constants: dict[str, str]) -> set[str]:
    targets = {t for t in mapping.values() if t} | set(constants)
    cols = {t for t in targets if t in _DIRECT}
    if "full_name" in targets:
        cols |= {"first_name", "last_name"}
    return cols


def apply_people(
    *,
    stage: _Stage,
    organization_id: int,
    person_list: str,
    org_tz: str,
    mapping: dict[str, str],
    constants: dict[str, str],
    match: list[str],
    on_match: str,
    dry_run: bool,
    tag_names: set[str],
    custom_keys: dict[str, str],
    report: _Report,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Phase 2 for people. Must run inside a transaction."""
    timer = _Timer(timings)
    t = stage.main
    person_t = Person._meta.db_table
    household_t = Household._meta.db_table
    pg = _postgres()
    now = _now_param()
    counts: dict[str, int] = {}
    with connection.cursor() as cur:
        if pg:
            _tune_transaction(cur)
        duplicates = _dedupe(cur, t, "dkey", "dkey IS NOT NULL")
        timer.lap("dedupe")
        matched = Person.objects.filter(organization_id=organization_id, list=person_list).exists()
        if matched:
            for key in match:
                _match(cur, t, key, organization_id, person_list)
            if pg:
                # Fresh statistics after the matching: the planner then hashes instead of
                # looping over the matched rows.
                cur.execute(f"ANALYZE {t}")
            timer.lap("match")
            more = _dedupe(cur, t, "match_id", "match_id IS NOT NULL AND action IS NULL")
            if duplicates is not None and more is not None:
                duplicates.extend(more)
            timer.lap("dedupe")
        if matched or duplicates is None:
            # What each row does: the later-row-wins duplicates are marked, matched rows
            # carry match_id (update or skip by `on_match`), the others are new people.
            cur.execute(
                f"""SELECT CASE WHEN action IS NOT NULL THEN action
                                WHEN match_id IS NULL THEN 'create' ELSE %s END, COUNT(*)
                    FROM {t} GROUP BY 1""",
                [on_match],
            )
            for action, n in cur.fetchall():
                counts[
                    {"create": "created", "update": "updated", "skip": "skipped"}.get(
                        action, action
                    )
                ] = n
        else:
            # Nothing stored to match (a first load): every row not replaced is new.
            cur.execute(f"SELECT COUNT(*) FROM {t}")
            counts["duplicate"] = len(duplicates)
            counts["created"] = int(cur.fetchone()[0]) - len(duplicates)
        counts.setdefault("created", 0)
        counts.setdefault("updated", 0)
        counts.setdefault("skipped", 0)
        counts.setdefault("duplicate", 0)
        if counts["duplicate"]:
            if duplicates is None:
                cur.execute(
                    f"SELECT row_num, dkey FROM {t} WHERE action = 'duplicate' "
                    f"ORDER BY row_num LIMIT {MAX_REPORTED_PROBLEMS}"
                )
                duplicates = [(int(row_num), dkey) for row_num, dkey in cur.fetchall()]
            else:
                duplicates.sort()
            _report_replaced(report, duplicates)
        timer.lap("report_duplicates")
        if dry_run:
            return counts

        phone_t = PersonPhone._meta.db_table
        bulk: _BulkMode | None = None
        if _BulkMode.wanted(cur, counts["created"]):
            bulk = _BulkMode([person_t, phone_t, household_t])
        ids = stage.ids
        _assign_ids(cur, stage, person_t, file_order=bulk is not None)
        timer.lap("assign_ids")
        if bulk is not None:
            bulk.suspend(cur)
            timer.lap("bulk_suspend")
        mapped = _mapped_columns(mapping, constants)
        addressed = _addressed(mapped)
        # The rows that end up on a person: new people, and matched ones when updating.
        kept = "k.action IS NULL AND " + ("1=1" if on_match == "update" else "k.match_id IS NULL")
        if addressed:
            counts["households_created"] = households_create_for_table(
                organization_id=organization_id, table=t, condition=kept
            )
            if bulk is not None:
                # Without its index the join below is a hash join: it needs the new size.
                cur.execute(f"ANALYZE {household_t}")
            timer.lap("households")
        hh_join = (
            f"LEFT JOIN {household_t} h ON h.organization_id = %s AND h.address_key = s.address_key"
        )
        # New people. In bulk mode their ids follow the file, as the staging rows do: the
        # insert needs no sort and the primary key grows at its end; otherwise they are
        # inserted in id (name) order.
        columns, exprs, params = _insert_columns(
            organization_id, person_list, org_tz, now, bulk=bulk is not None
        )
        order = "ORDER BY i.person_id" if bulk is None or not pg else ""
        cur.execute(
            f"""INSERT INTO {person_t} ({", ".join(columns)})
                SELECT {", ".join(exprs)} FROM {t} s JOIN {ids} i ON i.row_num = s.row_num
                {hh_join}
                {order}""",
            [*params, organization_id],
        )
        timer.lap("insert_people")
        # Matched people: only the mapped columns; an empty cell keeps the stored value.
        update = on_match == "update" and counts["updated"] > 0
        if update:
            sets = [f"{c} = COALESCE(s.{c}, {person_t}.{c})" for c in sorted(mapped)]
            sets.append(f"time_zone = COALESCE(s.time_zone, {person_t}.time_zone)")
            sets.append(
                f"custom_fields = {person_t}.custom_fields || COALESCE(s.custom_fields, '{{}}')::jsonb"
                if pg
                else f"custom_fields = json_patch({person_t}.custom_fields, COALESCE(s.custom_fields, '{{}}'))"
            )
            if addressed:
                sets.append(
                    f"household_id = CASE WHEN s.address_key IS NULL OR s.address_key = '' "
                    f"THEN {person_t}.household_id ELSE h.id END"
                )
            sets.append("updated_at = %s")
            cur.execute(
                f"""UPDATE {person_t} SET {", ".join(sets)}
                    FROM {t} s {hh_join}
                    WHERE {person_t}.id = s.match_id AND s.action IS NULL""",
                [now, organization_id],
            )
            if addressed:
                households_delete_empty(organization_id=organization_id)
            timer.lap("update_people")
        # Phones: all the numbers of new people; new numbers only for updated people (an
        # update never drops a stored number). Two statements: the second is an anti-join.
        cur.execute(
            f"""INSERT INTO {phone_t} (organization_id, person_id, raw, e164, kind, is_valid,
                                       position)
                SELECT %s, i.person_id, ph.raw, ph.e164, ph.kind, ph.is_valid, ph.position
                FROM {stage.phones} ph JOIN {ids} i ON i.row_num = ph.row_num
                {"" if bulk is not None and pg else "ORDER BY i.person_id, ph.position"}""",
            [organization_id],
        )
        added = max(cur.rowcount, 0)
        if update:
            cur.execute(
                f"""INSERT INTO {phone_t} (organization_id, person_id, raw, e164, kind, is_valid,
                                           position)
                    SELECT %s, s.match_id, ph.raw, ph.e164, ph.kind, ph.is_valid, ph.position
                    FROM {stage.phones} ph JOIN {t} s ON s.row_num = ph.row_num
                    WHERE s.action IS NULL AND s.match_id IS NOT NULL AND NOT EXISTS (
                          SELECT 1 FROM {phone_t} x WHERE x.person_id = s.match_id
                            AND (x.raw = ph.raw OR (ph.e164 <> '' AND x.e164 = ph.e164)))""",
                [organization_id],
            )
            added += max(cur.rowcount, 0)
        counts["phones_added"] = added
        timer.lap("phones")
        if bulk is not None:
            bulk.restore(cur)
            timer.lap("bulk_restore")
        # Tags.
        if tag_names:
            _tags_define(organization_id, tag_names)
            tag_t, link_t = Tag._meta.db_table, PersonTag._meta.db_table
            cur.execute(
                f"""INSERT INTO {link_t} (person_id, tag_id, created_at)
                    SELECT DISTINCT COALESCE(i.person_id, k.match_id), tg.id, %s
                    FROM {stage.tags} st JOIN {t} k ON k.row_num = st.row_num
                    LEFT JOIN {ids} i ON i.row_num = st.row_num
                    JOIN {tag_t} tg ON tg.organization_id = %s AND tg.name = st.name
                    WHERE {kept}
                    ON CONFLICT DO NOTHING""",
                [now, organization_id],
            )
    counts["custom_fields_created"] = _custom_fields_define(organization_id, custom_keys)
    timer.lap("tags_and_fields")
    return counts


def _tags_define(organization_id: int, names: set[str]) -> None:
    """The organization's tags of these names (the ones it has are kept)."""
    Tag.objects.bulk_create(
        [Tag(organization_id=organization_id, name=n) for n in sorted(names)],
        ignore_conflicts=True,
        batch_size=500,
    )


def _custom_fields_define(organization_id: int, custom_keys: dict[str, str]) -> int:
    """Custom field definitions (text) for the keys the organization doesn't have yet."""
    existing = set(
        CustomField.objects.filter(organization_id=organization_id).values_list("key", flat=True)
    )
    new = [k for k in sorted(custom_keys) if k not in existing]
    CustomField.objects.bulk_create(
        [
            CustomField(
                organization_id=organization_id, key=k, label=custom_keys[k][:120], position=100
            )
            for k in new
        ],
        ignore_conflicts=True,
    )
    return len(new)


# --- direct load (PostgreSQL, first register load): see direct.py --------------------------------


def _copy_text_of(value: Any) -> str | None:
    if value is None:
        return None
    if value is True or value is False:
        return "t" if value else "f"
    return str(value)


def direct_layout(
    *,
    organization_id: int,
    person_list: str,
    org_tz: str,
    mapping: dict[str, str],
    constants: dict[str, str],
) -> direct.DirectLayout:
    """The person columns of a direct load and where each value comes from: the same values
    as the general path's INSERT (`_insert_columns`): staged value or the field's default.
    A staged column that the mapping doesn't fill holds its default on every line: it is a
    constant too."""
    mapped = _mapped_columns(mapping, constants)
    filled = mapped | {"custom_fields", "time_zone"}
    columns: list[str] = []
    sources: list[direct.Source] = []
    for col, source in _person_sources(organization_id, person_list, org_tz, _now_param()):
        if source[0] in {"id", "household"}:
            continue  # given by the main process, first on each line
        if source[0] == "const":
            source = ("const", _copy_text_of(source[1]))
        elif source[0] == "stage" and source[1] not in filled:
            source = ("const", _copy_text_of(source[2]))
        elif source[0] == "stage":
            source = ("stage", source[1], _copy_text_of(source[2]))
        columns.append(col)
        sources.append(source)
    return direct.DirectLayout(
        columns=tuple(columns),
        sources=tuple(sources),
        organization_id=organization_id,
        addressed=_addressed(mapped),
    )


def _estimated_rows(path: Path, fmt: FileFormat) -> int:
    """Rows in the file, estimated from the line length of its first megabyte of data."""
    size = path.stat().st_size - fmt.data_offset
    with path.open("rb") as fh:
        fh.seek(fmt.data_offset)
        sample = fh.read(1024 * 1024)
    lines = sample.count(b"\n")
    if not lines:
        return 1 if size > 0 else 0
    return int(size * lines / len(sample))


def direct_wanted(
    *, kind: str, dry_run: bool, organization_id: int, person_list: str, path: Path, fmt: FileFormat
) -> bool:
    """A direct load for a people import on PostgreSQL that would be a bulk load anyway (big,
    and big relative to the people stored) into a list that has no one yet (nothing to match).
    `load_direct` checks the list again under its locks."""
    if kind != "people" or dry_run or not _postgres():
        return False
    if Person.objects.filter(organization_id=organization_id, list=person_list).exists():
        return False
    with connection.cursor() as cur:
        return _BulkMode.wanted(cur, _estimated_rows(path, fmt))


def _reserve(raw: Any, sequence: str, n: int) -> list[int]:
    """`n` new values of `sequence`, in one step: the sequence moved past them by `setval`
    (no `nextval` per value). Only for the direct load, which holds its tables in SHARE ROW
    EXCLUSIVE mode: no one else can insert into them, so no one takes values of their
    sequences meanwhile (and if something did, the primary key, which stays during the load,
    would refuse the second row with the id, failing the import as a whole)."""
    raw.execute(
        "SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1)", [sequence, sequence, n]
    )
    high = int(raw.fetchone()[0])
    return list(range(high - n + 1, high + 1))


def _copy(
    raw: Any, table: str, columns: tuple[str, ...] | list[str], text: str, options: str = ""
) -> None:
    if text:
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN {options}") as cp:
            cp.write(text)


class _CopyWriter:
    """Runs the direct load's statements on the import's connection from a thread of its own,
    in order: the main process formats the next chunk while PostgreSQL reads the last one
    (psycopg waits on the socket without holding the GIL). `copy` queues a COPY, `submit` a
    statement whose result is wanted later (a Future). An error is raised in the main thread,
    and nothing queued after it runs."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="import-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    job()
            except BaseException as exc:
                self.error = exc
            finally:
                self.jobs.task_done()

    def copy(self, table: str, columns: tuple[str, ...], text: str) -> None:
        self._raise()
        self.jobs.put(functools.partial(_copy, self.raw, table, columns, text))

    def submit(self, work: Callable[[Any], Any]) -> Future[Any]:
        """Run `work(cursor)` after what is queued; its result or error in the Future."""
        self._raise()
        future: Future[Any] = Future()

        def job() -> None:
            try:
                future.set_result(work(self.raw))
            except BaseException as exc:
                future.set_exception(exc)
                raise

        self.jobs.put(job)
        return future

    def drain(self) -> None:
        self.jobs.join()
        self._raise()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class _Ids:
    """Ids of a sequence for the direct load: a block reserved at a time, the next one asked
    for (behind the queued COPYs) while a quarter of a block is still free, so that the main
    process rarely waits for it."""

    BLOCK = 200_000

    def __init__(self, sequence: str, writer: _CopyWriter) -> None:
        self.sequence, self.writer = sequence, writer
        self.free: list[int] = []
        self.next: Future[list[int]] | None = None

    def _ask(self, n: int) -> None:
        self.next = self.writer.submit(lambda raw: _reserve(raw, self.sequence, n))

    def take(self, n: int) -> list[int]:
        while len(self.free) < n:
            if self.next is None:
                self._ask(max(self.BLOCK, n))
            assert self.next is not None
            self.free.extend(self.next.result())
            self.next = None
        taken = self.free[:n]
        del self.free[:n]
        if len(self.free) < self.BLOCK // 4 and self.next is None:
            self._ask(self.BLOCK)
        return taken


class _TemporaryDefaults:
    """Column defaults for the time of a direct load: the columns that are the same on every
    line of a table are given as its defaults and left out of the COPY text (PostgreSQL then
    parses none of them: about a tenth of the load). `restore` puts the columns' own defaults
    back. Both are DDL of the load's transaction, under its exclusive locks: a failure rolls
    them back with everything else."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.saved: list[tuple[str, str, str | None]] = []  # (table, column, default SQL)

    def set(self, table: str, values: dict[str, str | None]) -> None:
        if not values:
            return
        self.cur.execute(
            """SELECT a.attname, pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = %s::regclass AND a.attname = ANY(%s)""",
            [table, list(values)],
        )
        self.saved.extend((table, column, default) for column, default in self.cur.fetchall())
        # DDL takes no parameters: the values as SQL literals, quoted by psycopg.
        raw = self.cur.cursor.connection
        clauses = [
            f"ALTER COLUMN {connection.ops.quote_name(column)} SET DEFAULT "
            + ("NULL" if value is None else sql.Literal(value).as_string(raw))
            for column, value in values.items()
        ]
        self.cur.execute(f"ALTER TABLE {table} {', '.join(clauses)}")

    def restore(self) -> None:
        by_table: dict[str, list[str]] = {}
        for table, column, default in self.saved:
            by_table.setdefault(table, []).append(
                f"ALTER COLUMN {connection.ops.quote_name(column)} "
                + ("DROP DEFAULT" if default is None else f"SET DEFAULT {default}")
            )
        for table, clauses in by_table.items():
            self.cur.execute(f"ALTER TABLE {table} {', '.join(clauses)}")
        self.saved = []


def _later_row_wins(
    seen: dict[str | None, int],
    replaced: list[tuple[int, str]],
    ids: list[int],
    row_nums: list[int],
    dkeys: list[str | None],
) -> None:
    """Record a chunk's people under their keys (`seen`: key -> id << 32 | row number of the
    row holding it so far); the ones they take the key from go to `replaced`, with the kind
    of key: the holder before this chunk, and within the chunk every row of a repeated key
    but its last. Set-wise: dict and set operations over the chunk, no statement per row."""
    packed = [pid << 32 | row_num for pid, row_num in zip(ids, row_nums, strict=True)]
    last = dict(zip(dkeys, range(len(dkeys)), strict=True))  # each key's last row here
    last.pop(None, None)
    held_before = seen.keys() & last.keys()  # (a C loop; mostly empty)
    if held_before:
        replaced.extend((seen[key], key[0]) for key in last if key in held_before)  # type: ignore[index]
    keyed = len(dkeys) - dkeys.count(None)
    if len(last) < keyed:  # a key repeats within the chunk
        kept = set(last.values())
        replaced.extend(
            (packed[k], key[0]) for k, key in enumerate(dkeys) if key is not None and k not in kept
        )
    seen.update(zip(last, map(packed.__getitem__, last.values()), strict=True))


@dataclass
class _Held:
    """A chunk of people held back from the COPY (see `_PeopleWriter`)."""

    ids: list[int]
    households: list[str]  # each person's household id as COPY text (NULL for none)
    lines: list[str]  # each person's COPY line
    phone_people: list[int]  # the person (index) of each phone line
    phone_lines: list[str]  # phone COPY lines without the ids, one per `phone_people`
    tags: list[tuple[int, str]]  # (person index, tag name)
    dropped: set[int] = field(default_factory=set)  # indexes of people replaced meanwhile


class _PeopleWriter:
    """The direct load's people on their way to the COPY, and the rule that a later row with the
    same key (external id / phone / email) replaces the earlier one.

    Each chunk's people are held back until `WINDOW` more chunks have come: a person replaced
    meanwhile (a repeated record mostly follows the first closely) is never written, nor are
    their phones and tags. One replaced after their chunk went out is deleted at the end (`gone`),
    which costs far more: the delete, and the foreign key checks of every table that refers to
    people."""

    WINDOW = 1

    def __init__(
        self,
        writer: _CopyWriter,
        tables: tuple[str, str, str],
        line_columns: tuple[str, ...],
        phone_ids: _Ids,
    ) -> None:
        self.writer, self.line_columns, self.phone_ids = writer, line_columns, phone_ids
        self.person_t, self.phone_t, self.tags_t = tables
        self.seen: dict[str | None, int] = {}  # key -> id << 32 | row number holding it
        self.replaced: list[tuple[int, str]] = []  # every replaced row: (id << 32 | row, kind)
        self.gone: list[int] = []  # ids of replaced people already written
        self.emptied: set[int] = set()  # households of people never written
        self.homes: list[list[str]] = []  # each written chunk's households (COPY text)
        self.held: deque[_Held] = deque()
        self.people = self.phones = 0  # written

    def add(self, held: _Held, row_nums: list[int], dkeys: list[str | None]) -> None:
        start = len(self.replaced)
        _later_row_wins(self.seen, self.replaced, held.ids, row_nums, dkeys)
        self.held.append(held)
        oldest = self.held[0].ids[0]  # ids grow from chunk to chunk
        for packed, _kind in self.replaced[start:]:
            pid = packed >> 32
            if pid < oldest:
                self.gone.append(pid)
                continue
            for chunk in reversed(self.held):
                if pid >= chunk.ids[0]:
                    k = bisect.bisect_left(chunk.ids, pid)  # a chunk's ids are ascending
                    chunk.dropped.add(k)
                    home = chunk.households[k]
                    if home != NULL:
                        self.emptied.add(int(home))
                    break
        while len(self.held) > self.WINDOW:
            self._write(self.held.popleft())

    def flush(self) -> None:
        while self.held:
            self._write(self.held.popleft())

    def members(self, households: set[str]) -> Counter[str]:
        """How many written people each of these households (COPY text ids) has: one pass
        over the written people's households, only these few counted."""
        return Counter(filter(households.__contains__, itertools.chain.from_iterable(self.homes)))

    def _write(self, held: _Held) -> None:
        dropped, ids, lines = held.dropped, held.ids, held.lines
        for k in sorted(dropped, reverse=True):  # a few per chunk
            del lines[k]
        self.writer.copy(self.person_t, self.line_columns, "\n".join(lines) + "\n")
        self.homes.append(
            [home for k, home in enumerate(held.households) if k not in dropped]
            if dropped
            else held.households
        )
        self.people += len(lines)
        owners, phone_lines = held.phone_people, held.phone_lines
        if dropped:
            kept = [j for j, k in enumerate(owners) if k not in dropped]
            owners = list(map(owners.__getitem__, kept))
            phone_lines = list(map(phone_lines.__getitem__, kept))
        if owners:
            # "id \t person id \t the worker's line", in one pass.
            phone_ids = self.phone_ids.take(len(owners))
            text = "\n".join(
                map("{}\t{}\t{}".format, phone_ids, map(ids.__getitem__, owners), phone_lines)
            )
            self.writer.copy(self.phone_t, _PHONE_COLUMNS, text + "\n")
            self.phones += len(owners)
        tags = "".join(
            f"{ids[k]}\t{_escape_copy(name)}\n" for k, name in held.tags if k not in dropped
        )
        if tags:
            self.writer.copy(self.tags_t, TAG_COLUMNS, tags)


_PHONE_COLUMNS = ("id", "person_id", "raw", "e164", "kind", "is_valid", "position")


def load_direct(
    *,
    stage: _Stage,
    path: Path,
    fmt: FileFormat,
    cfg: ParseConfig,
    layout: direct.DirectLayout,
    report: _Report,
    progress: ProgressCallback,
    workers: int,
    organization_id: int,
    person_list: str,
    custom_keys: dict[str, str],
    chunk_bytes: int = CHUNK_BYTES,
    timings: dict[str, float] | None = None,
) -> tuple[dict[str, Any], dict[str, int]] | None:
    """Parse the file and COPY its people, phones and households straight into their tables.
    Must run inside a transaction (PostgreSQL). Returns (parse totals, counts), or None without
    having changed anything when the list turns out not to be empty (then use the general
    path)."""
    timer = _Timer(timings)
    person_t, phone_t = Person._meta.db_table, PersonPhone._meta.db_table
    household_t, tag_t, link_t = (
        Household._meta.db_table,
        Tag._meta.db_table,
        PersonTag._meta.db_table,
    )
    with connection.cursor() as cur:
        # Writers wait from here; then the list is known to stay empty until COMMIT.
        cur.execute(f"LOCK TABLE {person_t}, {phone_t}, {household_t} IN SHARE ROW EXCLUSIVE MODE")
        if Person.objects.filter(organization_id=organization_id, list=person_list).exists():
            return None
        _tune_transaction(cur)
        bulk = _BulkMode([person_t, phone_t, household_t], keep=_partial_indexes_left_empty(layout))
        bulk.suspend(cur)
        cur.execute(
            f"SELECT address_key, id FROM {household_t} WHERE organization_id = %s",
            [organization_id],
        )
        # address key -> household id as COPY text ("" -> NULL: a person without an address).
        households: dict[str, str] = {key: str(hid) for key, hid in cur.fetchall() if key}
        stored_households = set(households.values())
        households[""] = NULL
        cur.execute(
            """SELECT pg_get_serial_sequence(%s, 'id'), pg_get_serial_sequence(%s, 'id'),
                      pg_get_serial_sequence(%s, 'id')""",
            [person_t, household_t, phone_t],
        )
        person_seq, household_seq, phone_seq = cur.fetchone()
        now = _copy_text_of(_now_param())
        defaults = _TemporaryDefaults(cur)
        defaults.set(person_t, layout.constants)
        defaults.set(phone_t, {"organization_id": str(organization_id)})
        defaults.set(
            household_t,
            {"created_at": now, "updated_at": now, "organization_id": str(organization_id)},
        )
        raw = cur.cursor
        timer.lap("direct_setup")

        totals = _ParseTotals(report, progress, path.stat().st_size)
        created_households = 0
        household_columns = ("id", "public_id", "address_key", "street", "postcode", "city")
        writer = _CopyWriter(raw)
        person_ids = _Ids(person_seq, writer)
        household_ids = _Ids(household_seq, writer)
        people = _PeopleWriter(
            writer,
            (person_t, phone_t, stage.tags),
            ("id", "household_id", *layout.line_columns),
            _Ids(phone_seq, writer),
        )
        with gc_paused():  # the chunks' objects build no reference cycles
            try:
                for chunk, consumed in _chunk_results(path, fmt, cfg, workers, chunk_bytes, layout):
                    totals.add(chunk.out, consumed)
                    n = len(chunk.row_nums)
                    if not n:
                        continue
                    ids = person_ids.take(n)
                    # The chunk's addresses (first row's order) that have no household yet.
                    new_keys = list(itertools.filterfalse(households.__contains__, chunk.addresses))
                    if new_keys:
                        hids = list(map(str, household_ids.take(len(new_keys))))
                        created_households += len(hids)
                        households.update(zip(new_keys, hids, strict=True))
                        fragments = map(chunk.addresses.__getitem__, new_keys)
                        text = "\n".join(map("\t".join, zip(hids, fragments, strict=True)))
                        writer.copy(household_t, household_columns, text + "\n")
                    homes = list(map(households.__getitem__, chunk.akeys))
                    held = _Held(
                        ids=ids,
                        households=homes,
                        lines=[
                            f"{pid}\t{home}\t{line}"
                            for pid, home, line in zip(ids, homes, chunk.people, strict=True)
                        ],
                        phone_people=chunk.phone_people,
                        # (the text ends with a line break)
                        phone_lines=chunk.phones[:-1].split("\n") if chunk.phone_people else [],
                        tags=chunk.tags,
                    )
                    people.add(held, chunk.row_nums, chunk.dkeys)
                people.flush()
                writer.drain()
            except ImportFileError as exc:
                raise ImportAbortedError(str(exc)) from exc
            finally:
                writer.close()
        del people.seen
        defaults.restore()
        timer.lap("read")
        parsed = totals.result()
        progress("saving", parsed["rows"], parsed["rows"])
        replaced = people.replaced
        counts: dict[str, int] = {"updated": 0, "skipped": 0, "duplicate": len(replaced)}
        emptied = people.emptied
        gone_phones = 0
        gone_homes: list[int] = []
        if people.gone:
            # Joined with the list as a table (a hash join), not `= ANY(array)`: that tests
            # the whole array for every phone.
            cur.execute(
                f"""DELETE FROM {phone_t} ph USING unnest(%s::bigint[]) AS g(id)
                    WHERE ph.person_id = g.id""",
                [people.gone],
            )
            gone_phones = max(cur.rowcount, 0)
            # By primary key (the statistics of the table just loaded are stale: joined
            # with the list, the planner chose a scan of all of it).
            cur.execute(
                f"DELETE FROM {person_t} WHERE id = ANY(%s::bigint[]) RETURNING household_id",
                [people.gone],
            )
            gone_homes = [hid for (hid,) in cur.fetchall() if hid is not None]
            emptied.update(gone_homes)
        # Households the load created that none of its people kept (the first rows of repeated
        # records had them): known from the counts, deleted by primary key. One stored before
        # may still have people of the other list: checked after the indexes are back.
        created = {str(hid) for hid in emptied} - stored_households
        members = people.members(created)
        members.subtract(map(str, gone_homes))
        created_empty = sorted(int(hid) for hid in created if members[hid] <= 0)
        emptied = {hid for hid in emptied if str(hid) in stored_households}
        if created_empty:
            cur.execute(f"DELETE FROM {household_t} WHERE id = ANY(%s::bigint[])", [created_empty])
        if replaced:
            _report_replaced(
                report, sorted((packed & 0xFFFFFFFF, kind) for packed, kind in replaced)
            )
        counts["created"] = people.people - len(people.gone)
        counts["phones_added"] = people.phones - gone_phones
        timer.lap("replace_duplicates")
        bulk.restore(cur)
        timer.lap("bulk_restore")
        if emptied:
            # Stored households that only the replaced rows had (a lookup each).
            cur.execute(
                f"""DELETE FROM {household_t} h USING unnest(%s::bigint[]) AS g(id)
                    WHERE h.id = g.id
                    AND NOT EXISTS (SELECT 1 FROM {person_t} p WHERE p.household_id = h.id)""",
                [sorted(emptied)],
            )
        if layout.addressed:
            counts["households_created"] = created_households - len(created_empty)
        if parsed["tag_names"]:
            _tags_define(organization_id, parsed["tag_names"])
            cur.execute(
                f"""INSERT INTO {link_t} (person_id, tag_id, created_at)
                    SELECT DISTINCT st.row_num, tg.id, %s
                    FROM {stage.tags} st JOIN {person_t} p ON p.id = st.row_num
                    JOIN {tag_t} tg ON tg.organization_id = %s AND tg.name = st.name
                    ON CONFLICT DO NOTHING""",
                [_now_param(), organization_id],
            )
    counts["custom_fields_created"] = _custom_fields_define(organization_id, custom_keys)
    timer.lap("tags_and_fields")
    return parsed, counts


def apply_votes(
    *, stage: _Stage, organization_id: int, dry_run: bool, report: _Report
) -> dict[str, int]:
    """Phase 2 for voting history. Must run inside a transaction."""
    t = stage.main
    person_t, election_t = Person._meta.db_table, Election._meta.db_table
    vote_t = VoteRecord._meta.db_table
    now = _now_param()
    counts: dict[str, int] = {}
    with connection.cursor() as cur:
        for extra in ("AND p.list = 'electors'", ""):
            cur.execute(
                f"""UPDATE {t} SET person_id = (
                        SELECT MIN(p.id) FROM {person_t} p
                        WHERE p.organization_id = %s AND p.external_id = {t}.external_id {extra})
                    WHERE person_id IS NULL""",
                [organization_id],
            )
        cur.execute(f"SELECT COUNT(*) FROM {t} WHERE person_id IS NULL")
        counts["unmatched"] = int(cur.fetchone()[0])
        if counts["unmatched"]:
            cur.execute(
                f"SELECT row_num, external_id FROM {t} WHERE person_id IS NULL "
                f"ORDER BY row_num LIMIT {MAX_REPORTED_PROBLEMS}"
            )
            for row_num, ext in cur.fetchall():
                report.add(int(row_num), "", "no_person", {"value": ext})
        cur.execute(
            f"""SELECT COUNT(DISTINCT election_label) FROM {t}
                WHERE NOT EXISTS (SELECT 1 FROM {election_t} e
                                  WHERE e.organization_id = %s AND e.label = {t}.election_label)""",
            [organization_id],
        )
        counts["elections_created"] = int(cur.fetchone()[0])
        # A voter's election repeated in the file: one vote, the later row's method (the
        # insert below); the earlier rows are counted and reported, so every row read is
        # accounted for. Votes and repeats from one pass over the matched rows.
        ranked = f"""SELECT row_num, ROW_NUMBER() OVER (PARTITION BY person_id, election_label
                                                        ORDER BY row_num DESC) AS rn
                     FROM {t} WHERE person_id IS NOT NULL"""
        cur.execute(
            f"""SELECT COUNT(*) FILTER (WHERE rn = 1), COUNT(*) FILTER (WHERE rn > 1)
                FROM ({ranked}) s"""
        )
        votes, repeated = cur.fetchone()
        counts["votes"], counts["duplicate"] = int(votes), int(repeated)
        if repeated:
            cur.execute(
                f"SELECT row_num FROM ({ranked}) s WHERE rn > 1 "
                f"ORDER BY row_num LIMIT {MAX_REPORTED_PROBLEMS}"
            )
            key = _("voter id and election")
            for (row_num,) in cur.fetchall():
                report.add(int(row_num), "", "duplicate", {"key": key})
        if dry_run:
            return counts
        cur.execute(
            f"""INSERT INTO {election_t} (public_id, created_at, updated_at, organization_id,
                                          label, description, date)
                SELECT {random_uuid_sql()}, %s, %s, %s, s.election_label, MAX(s.election_description),
                       MAX(s.election_date)
                FROM {t} s
                WHERE NOT EXISTS (SELECT 1 FROM {election_t} e
                                  WHERE e.organization_id = %s AND e.label = s.election_label)
                GROUP BY s.election_label""",
            [now, now, organization_id, organization_id],
        )
        cur.execute(
            f"""INSERT INTO {vote_t} (organization_id, person_id, election_id, voting_method)
                SELECT %s, s.person_id, e.id, s.voting_method FROM (
                    SELECT person_id, election_label, voting_method,
                           ROW_NUMBER() OVER (PARTITION BY person_id, election_label
                                              ORDER BY row_num DESC) AS rn
                    FROM {t} WHERE person_id IS NOT NULL) s
                JOIN {election_t} e ON e.organization_id = %s AND e.label = s.election_label
                WHERE s.rn = 1
                ON CONFLICT (election_id, person_id)
                DO UPDATE SET voting_method = excluded.voting_method""",
            [organization_id, organization_id],
        )
    return counts


# SQLite keeps 64 MB of pages per connection (settings). A big import reads and writes far more
# (a million people, their phones and households, then every index rebuilt), so its connection
# gets 256 MB for the run: 60.7 -> 56.5 s for the 1M-row benchmark file.
SQLITE_IMPORT_CACHE_KIB = 262_144


def sqlite_cache_grow() -> int | None:
    """SQLite: give this connection SQLITE_IMPORT_CACHE_KIB of page cache; return the setting
    to restore (None on PostgreSQL, which has nothing to change)."""
    if _postgres():
        return None
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        previous = int(cur.fetchone()[0])
        cur.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    return previous


def sqlite_cache_restore(previous: int | None) -> None:
    if previous is not None:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA cache_size = {int(previous)}")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def summary_line(counts: dict[str, int]) -> str:
    """One line of counts for the command and the job page."""
    keys = [
        ("created", _("created")),
        ("updated", _("updated")),
        ("skipped", _("skipped")),
        ("duplicate", _("replaced by a later row")),
        ("invalid_phones", _("invalid phones")),
        ("errors", _("errors")),
    ]
    return ", ".join(f"{label}: {counts.get(key, 0)}" for key, label in keys)


def csv_sample(text: str) -> list[list[str]]:  # pragma: no cover - debugging helper
    return list(csv.reader(io.StringIO(text)))

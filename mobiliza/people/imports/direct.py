"""Direct load: a first register load on PostgreSQL COPYs people straight into their table.

The general path (`engine.load_stage` + `engine.apply_people`) parses the file into staging
tables, then applies them with set-based SQL: matching, households, `INSERT … SELECT` of people
and phones. For the commonest big load, a register into a list that has no one in it yet, most of
that is work done twice: nothing can match, so every row is a new person. Here the workers turn
each row into its final `people_person` line; the main process gives it an id and a household
and COPYs it, while the workers parse the next chunks:

    workers: rows.process_chunk ──► to_direct (person CSV lines, phones, address fragments)
    main:    ids (nextval) · household by address key (dict) · later row wins (dict) ──► COPY

All of it runs in one transaction with the bulk mode's locks, dropped indexes and constraints
(`engine._BulkMode`): a failure anywhere leaves the database as it was. At the end the earlier
rows of a repeated key (external id / phone / email, the later row wins) are deleted with their
phones, households left empty are deleted, tags and custom field definitions are added, and the
indexes and constraints are built again.

Same result as the general path, checked by `tests/test_import_direct.py` on the same files,
except one detail: a household created by the load keeps the spelling of its address from the
first row that has it (the general path keeps the smallest spelling).
"""

from __future__ import annotations

import csv
import io
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mobiliza.people.imports import rows as rows_module
from mobiliza.people.imports.rows import (
    IDX,
    PEOPLE_COLUMNS,
    ChunkOut,
    _copy_line,
    _copy_lines,
)

# A source of one person column, in the worker: ("stage", staging column, default COPY text or
# None for NULL), ("const", COPY text), ("uuid",) a new random UUID.
Source = tuple[Any, ...]


@dataclass(frozen=True)
class DirectLayout:
    """What a worker needs to write `people_person` lines (picklable)."""

    columns: tuple[str, ...]  # Person columns after (id, household_id), in line order
    sources: tuple[Source, ...]
    organization_id: int
    addressed: bool  # the mapping fills an address: people get households
    # NOT NULL text columns whose default is "": an empty CSV field is "" there, not NULL
    # (COPY's FORCE_NOT_NULL), so the worker writes None as it is.
    empty_text: frozenset[str] = frozenset()


@dataclass
class DirectChunk:
    """One parsed chunk, ready for the main process."""

    out: ChunkOut  # counts, problems, tag names, custom keys (main/phones/tags emptied)
    # CSV lines (no line break) of the person columns after (id, household_id); `suffix`
    # (the columns that are the same on every line) goes at the end of each.
    people: list[str] = field(default_factory=list)
    suffix: str = ""
    columns: tuple[str, ...] = ()  # those columns, in line order
    row_nums: list[int] = field(default_factory=list)
    dkeys: list[str | None] = field(default_factory=list)
    akeys: list[str] = field(default_factory=list)  # address key per person, "" for none
    # address key -> COPY fragment "uuid\tkey\tstreet\tpostcode\tcity" (first row in the chunk)
    addresses: dict[str, str] = field(default_factory=dict)
    phones: str = ""  # COPY lines "organization\traw\te164\tkind\tis_valid\tposition"
    phone_people: list[int] = field(default_factory=list)  # person index of each phone line
    tags: list[tuple[int, str]] = field(default_factory=list)  # (person index, tag name)


def new_uuids(n: int) -> list[str]:
    """`n` random version-4 UUIDs as 32 hex digits, from one read of the OS's random source."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])
    text = raw.hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


@dataclass(frozen=True)
class _Compiled:
    """How a staging row becomes a person CSV line: the public id (appended to the row) and the
    staged columns are picked from the row in one C call; the constant columns are the same on
    every line (one piece of text)."""

    columns: tuple[str, ...]  # line order: public_id, the varying ones, then the constant ones
    pick: Callable[[Any], tuple[Any, ...]]
    # (staging position, value): a NULL there becomes that value first (the varying columns
    # whose default is neither NULL nor the empty text FORCE_NOT_NULL gives)
    fixes: tuple[tuple[int, Any], ...]
    suffix: str  # "," + the constant columns as CSV ("" when there are none)


_COMPILED: dict[DirectLayout, _Compiled] = {}


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()[:-1]


def _compiled(layout: DirectLayout) -> _Compiled:
    found = _COMPILED.get(layout)
    if found is not None:
        return found
    uuid_column = ""
    picks = [len(PEOPLE_COLUMNS)]  # the public id, appended to each row
    varying: list[str] = []
    fixes: list[tuple[int, Any]] = []
    constant: list[tuple[str, Any]] = []
    for column, source in zip(layout.columns, layout.sources, strict=True):
        if source[0] == "uuid":
            uuid_column = column
        elif source[0] == "stage":
            varying.append(column)
            picks.append(IDX[source[1]])
            default = source[2]
            if default is not None and not (default == "" and column in layout.empty_text):
                fixes.append((IDX[source[1]], default))
        else:
            constant.append((column, source[1]))
    compiled = _Compiled(
        columns=(uuid_column, *varying, *(c for c, _v in constant)),
        pick=operator.itemgetter(*picks),
        fixes=tuple(fixes),
        suffix="," + _csv_line([v for _c, v in constant]) if constant else "",
    )
    _COMPILED[layout] = compiled
    return compiled


def to_direct(out: ChunkOut, layout: DirectLayout) -> DirectChunk:
    """Turn a chunk parsed with output "direct" into person lines and the keys the main process
    needs. Runs in the worker."""
    chunk = DirectChunk(out=out)
    if out.fatal is not None or not out.main:
        out.main, out.phones, out.tags = [], [], []
        return chunk
    # Output "direct": full rows (lists) of every staging column, in PEOPLE_COLUMNS order.
    assert out.main_columns is None
    compiled = _compiled(layout)
    i_row, i_dkey, i_akey = IDX["row_num"], IDX["dkey"], IDX["address_key"]
    rows = out.main
    for row, public_id in zip(rows, new_uuids(len(rows)), strict=True):
        row.append(public_id)
    for at, default in compiled.fixes:
        for row in rows:
            if row[at] is None:
                row[at] = default
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(map(compiled.pick, rows))
    text = buffer.getvalue()
    if text.count("\n") == len(rows):
        chunk.people = text[:-1].split("\n")
    else:  # a value holds a line break (quoted): one line per row the slow way
        chunk.people = [_csv_line(list(compiled.pick(row))) for row in rows]
    chunk.suffix = compiled.suffix
    chunk.columns = compiled.columns
    chunk.row_nums = [row[i_row] for row in out.main]
    chunk.dkeys = [row[i_dkey] for row in out.main]
    if layout.addressed:
        chunk.akeys = [row[i_akey] or "" for row in out.main]
        address = operator.itemgetter(IDX["street"], IDX["postcode"], IDX["city"])
        first: dict[str, Any] = {}
        for row in out.main:
            akey = row[i_akey]
            if akey and akey not in first:
                first[akey] = row
        for akey, row, public_id in zip(first, first.values(), new_uuids(len(first)), strict=True):
            parts = ["" if part is None else part for part in address(row)]
            chunk.addresses[akey] = _copy_line([public_id, akey, *parts])
    else:
        chunk.akeys = [""] * len(out.main)
    index = {row_num: i for i, row_num in enumerate(chunk.row_nums)}
    org = layout.organization_id
    chunk.phone_people = [index[p[0]] for p in out.phones]
    chunk.phones = _copy_lines([(org, p[2], p[3], p[4], p[5], p[1]) for p in out.phones])
    chunk.tags = [(index[row_num], name) for row_num, name in out.tags]
    out.main, out.phones, out.tags = [], [], []
    return chunk


_LAYOUT: DirectLayout | None = None


def init_worker(cfg: rows_module.ParseConfig, layout: DirectLayout) -> None:
    """Pool initializer: the parser's plan and the person layout, once per process."""
    global _LAYOUT
    rows_module.init_worker(cfg)
    _LAYOUT = layout


def process_chunk_in_worker(data: bytes, first_line: int) -> DirectChunk:
    assert _LAYOUT is not None
    return to_direct(rows_module.process_chunk_in_worker(data, first_line), _LAYOUT)

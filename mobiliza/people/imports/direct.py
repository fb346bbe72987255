"""Direct load: a first register load on PostgreSQL COPYs people straight into their table.

The general path (`engine.load_stage` + `engine.apply_people`) parses the file into staging
tables, then applies them with set-based SQL: matching, households, `INSERT … SELECT` of people
and phones. For the commonest big load, a register into a list that has no one in it yet, most of
that is work done twice: nothing can match, so every row is a new person. Here the workers turn
each row into its final `people_person` line; the main process gives it an id and a household
and COPYs it, while the workers parse the next chunks:

    workers: rows.process_chunk ──► to_direct (person COPY text lines, phones, address fragments)
    main:    ids (nextval) · household by address key (dict) · later row wins (dict) ──► COPY

A line holds only the columns the mapping fills; the others are the same on every line and go
in as temporary column defaults (`engine._TemporaryDefaults`). All of it runs in one transaction
with the bulk mode's locks, dropped indexes and constraints (`engine._BulkMode`): a failure
anywhere leaves the database as it was. A person replaced by a later row with the same key
(external id / phone / email) is dropped before the COPY when the repeat is near
(`engine._PeopleWriter`), else deleted with their phones at the end; households left empty are
deleted, tags and custom field definitions are added, and the indexes and constraints are built
again.

Same result as the general path, checked by `tests/test_import_direct.py` on the same files,
except one detail: a household created by the load keeps the spelling of its address from the
first row that has it (the general path keeps the smallest spelling).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mobiliza.people.imports import rows as rows_module
from mobiliza.people.imports.presets import PERSON_TARGETS
from mobiliza.people.imports.rows import (
    IDX,
    ChunkOut,
    _copy_text,
    _escape_copy,
    copy_text_is_plain,
)

# A source of one person column, in the worker: ("stage", staging column, default COPY text or
# None for NULL), ("const", COPY text or None for NULL), ("uuid",) a new random UUID.
Source = tuple[Any, ...]

# Staging columns whose values are not text (numbers, yes / no): never escaped, but converted.
_NOT_TEXT = frozenset(
    target
    for target, (_label, kind) in PERSON_TARGETS.items()
    if kind in {"year", "support", "latitude", "longitude", "bool"}
)


@dataclass(frozen=True)
class DirectLayout:
    """What a worker needs to write `people_person` lines (picklable). The "const" columns are
    not in the lines: the load gives them as the table's defaults for its time."""

    columns: tuple[str, ...]  # Person columns after (id, household_id)
    sources: tuple[Source, ...]
    organization_id: int
    addressed: bool  # the mapping fills an address: people get households

    @property
    def constants(self) -> dict[str, str | None]:
        """The columns that are the same on every line: {column: COPY text, None for NULL}."""
        return {
            column: source[1]
            for column, source in zip(self.columns, self.sources, strict=True)
            if source[0] == "const"
        }

    @property
    def line_columns(self) -> tuple[str, ...]:
        """The columns of a person line (after id and household_id), in order."""
        uuid = [c for c, s in zip(self.columns, self.sources, strict=True) if s[0] == "uuid"]
        staged = [c for c, s in zip(self.columns, self.sources, strict=True) if s[0] == "stage"]
        return (*uuid, *staged)


@dataclass
class DirectChunk:
    """One parsed chunk, ready for the main process."""

    out: ChunkOut  # counts, problems, tag names, custom keys (main/phones/tags emptied)
    # COPY text lines (no line break) of `DirectLayout.line_columns`, one per person.
    people: list[str] = field(default_factory=list)
    row_nums: list[int] = field(default_factory=list)
    dkeys: list[str | None] = field(default_factory=list)
    akeys: list[str] = field(default_factory=list)  # address key per person, "" for none
    # address key -> COPY fragment "uuid\tkey\tstreet\tpostcode\tcity" (first row in the chunk)
    addresses: dict[str, str] = field(default_factory=dict)
    phones: str = ""  # COPY lines "raw\te164\tkind\tis_valid\tposition"
    phone_people: list[int] = field(default_factory=list)  # person index of each phone line
    tags: list[tuple[int, str]] = field(default_factory=list)  # (person index, tag name)


# The version (4) and variant (10) bits of a UUID's bytes 6 and 8, as byte translations.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_10 = bytes((b & 0x3F) | 0x80 for b in range(256))


def new_uuids(n: int) -> list[str]:
    """`n` random version-4 UUIDs as 32 hex digits, from one read of the OS's random source."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_10)
    # One space between UUIDs, then one split (not a slice per UUID).
    return raw.hex(" ", 16).split(" ") if n else []


def _texts(values: list[Any] | None, null: str, n: int, text: bool) -> list[str]:
    """A staging column as COPY text: `null` for None; values escaped only when some value of
    the column needs it (found in one pass over the joined text)."""
    if values is None:
        return [null] * n
    if not text:
        return [null if v is None else _copy_text(v) for v in values]
    joined = "".join(filter(None, values))
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [null if v is None else _escape_copy(v) for v in values]
    if None not in values:
        return values
    return [null if v is None else v for v in values]


def _text_lines(columns: Sequence[Sequence[str]]) -> list[str]:
    """COPY text lines of columns of text (no NULL): joined as they are, then the whole text
    checked at once (`rows.copy_text_is_plain`); escaped value by value only when some value
    needs it."""
    lines = list(map("\t".join, zip(*columns, strict=True)))
    if not copy_text_is_plain("\n".join(lines), len(lines), len(columns)):
        return ["\t".join(map(_escape_copy, values)) for values in zip(*columns, strict=True)]
    return lines


def to_direct(out: ChunkOut, layout: DirectLayout) -> DirectChunk:
    """Turn a chunk parsed with output "direct" (its staging columns) into person lines and
    the keys the main process needs. Runs in the worker."""
    chunk = DirectChunk(out=out)
    cols = out.main
    if out.fatal is not None or not cols:
        out.main, out.phones, out.tags = [], [], []
        return chunk
    n = len(cols[0])
    columns: list[list[str]] = []
    for source in layout.sources:
        if source[0] == "uuid":
            columns.insert(0, new_uuids(n))
        elif source[0] == "stage":
            null = "\\N" if source[2] is None else source[2]
            columns.append(_texts(cols[IDX[source[1]]], null, n, source[1] not in _NOT_TEXT))
    chunk.people = list(map("\t".join, zip(*columns, strict=True)))
    chunk.row_nums = cols[IDX["row_num"]]
    chunk.dkeys = cols[IDX["dkey"]]
    if layout.addressed:
        akeys = chunk.akeys = [akey or "" for akey in cols[IDX["address_key"]]]
        # Each address key's first person in the chunk (the reversed pairs: the first wins).
        first = dict(zip(reversed(akeys), range(n - 1, -1, -1), strict=True))
        first.pop("", None)
        rows_at = list(first.values())
        parts: list[list[str]] = [new_uuids(len(first)), list(first)]
        for name in ("street", "postcode", "city"):
            values = cols[IDX[name]]
            parts.append(
                [""] * len(first) if values is None else [values[k] or "" for k in rows_at]
            )
        chunk.addresses = dict(zip(first, _text_lines(parts), strict=True))
    else:
        chunk.akeys = [""] * n
    index = {row_num: k for k, row_num in enumerate(chunk.row_nums)}
    if out.phones:
        # (line, position, raw, e164, kind, is_valid) -> "raw\te164\tkind\tis_valid\tposition"
        lines, positions, raws, e164s, kinds, valid = zip(*out.phones, strict=True)
        chunk.phone_people = list(map(index.__getitem__, lines))
        phone_parts = [
            raws,
            e164s,
            kinds,
            ["t" if v else "f" for v in valid],
            list(map(str, positions)),
        ]
        chunk.phones = "\n".join(_text_lines(phone_parts)) + "\n"
    chunk.tags = [(index[row_num], name) for row_num, name in out.tags]
    out.main, out.phones, out.tags = [], [], []
    return chunk


_LAYOUT: DirectLayout | None = None


def init_worker(cfg: rows_module.ParseConfig, path: str, layout: DirectLayout) -> None:
    """Pool initializer: the parser's plan, the file and the person layout, once per process."""
    global _LAYOUT
    rows_module.init_worker(cfg, path)
    _LAYOUT = layout


def process_span_in_worker(*span: int) -> DirectChunk:
    """A piece of the file (`reader.Span`) parsed, as a direct-load chunk."""
    assert _LAYOUT is not None
    with rows_module.gc_paused():
        return to_direct(rows_module.process_span_in_worker(*span), _LAYOUT)

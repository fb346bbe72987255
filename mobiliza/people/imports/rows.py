"""Turning raw CSV records into staging rows. Runs in worker processes, so it imports no Django:
only the csv module, `presets` and `normalize`.

A chunk of bytes (ending at a record boundary) goes in; staging rows (as PostgreSQL COPY text or
as tuples for SQLite), per-row problems and counts come out. Problems are codes with parameters,
turned into translated messages by the main process (`messages.py`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import decimal
import functools
import gc
import io
import itertools
import json
import operator
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mobiliza.people.imports.presets import CUSTOM_PREFIX, PERSON_TARGETS, VOTE_TARGETS
from mobiliza.people.normalize import (
    address_key,
    country_time_zone,
    normalize_phone,
    phone_fields,
)

CSV_FIELD_LIMIT = 8 * 1024 * 1024
MAX_FIELD_CHARS = 10_000
csv.field_size_limit(CSV_FIELD_LIMIT)

# Staging columns for people, in order. Names equal Person's columns where they map directly.
PEOPLE_COLUMNS: tuple[str, ...] = (
    "row_num", "dkey", "external_id", "phone_key", "email", "first_name", "middle_name",
    "last_name", "street", "postcode", "city", "region", "country", "latitude", "longitude",
    "birth_date", "birth_year", "gender", "language", "nationality", "polling_place",
    "precinct", "voter_id", "registration_status", "support_level", "donations_this_year",
    "consent_phone", "consent_sms", "consent_email", "do_not_contact", "notes", "custom_fields",
    "time_zone", "address_key",
)  # fmt: skip
PHONE_COLUMNS: tuple[str, ...] = ("row_num", "position", "raw", "e164", "kind", "is_valid")
TAG_COLUMNS: tuple[str, ...] = ("row_num", "name")
VOTE_COLUMNS: tuple[str, ...] = (
    "row_num", "external_id", "election_label", "election_description", "election_date",
    "voting_method",
)  # fmt: skip

IDX = {name: i for i, name in enumerate(PEOPLE_COLUMNS)}
MAX_LEN: dict[str, int] = {
    "external_id": 64, "first_name": 100, "middle_name": 100, "last_name": 100, "email": 254,
    "street": 255, "postcode": 32, "city": 120, "region": 120, "language": 16,
    "nationality": 64, "polling_place": 200, "precinct": 100, "voter_id": 64,
    "registration_status": 32, "notes": 10_000, "election_label": 64,
    "election_description": 200, "voting_method": 64,
}  # fmt: skip

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_DATE_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_TRUE = {"1", "y", "yes", "true", "t", "sim", "s", "oui", "o", "x", "✓"}
_FALSE = {"0", "n", "no", "false", "f", "nao", "não", "non", ""}
_GENDER = {
    "m": "M", "male": "M", "h": "M", "homme": "M", "homem": "M", "masculino": "M",
    "masculin": "M", "f": "F", "female": "F", "femme": "F", "mulher": "F", "feminino": "F",
    "féminin": "F", "feminin": "F", "x": "X", "other": "X", "outro": "X", "autre": "X",
    "nb": "X", "u": "", "unknown": "", "": "",
}  # fmt: skip
_COUNTRIES = {
    "PORTUGAL": "PT", "FRANCE": "FR", "FRANCA": "FR", "FRANÇA": "FR", "SPAIN": "ES",
    "ESPANHA": "ES", "ESPAGNE": "ES", "ESPAÑA": "ES", "USA": "US", "UNITED STATES": "US",
    "ESTADOS UNIDOS": "US", "ETATS-UNIS": "US", "ÉTATS-UNIS": "US", "BRASIL": "BR",
    "BRAZIL": "BR", "BRÉSIL": "BR", "BELGIQUE": "BE", "BELGIUM": "BE", "BÉLGICA": "BE",
    "SUISSE": "CH", "SWITZERLAND": "CH", "SUÍÇA": "CH", "LUXEMBOURG": "LU", "LUXEMBURGO": "LU",
    "ALEMANHA": "DE", "ALLEMAGNE": "DE", "GERMANY": "DE", "UNITED KINGDOM": "GB", "UK": "GB",
    "REINO UNIDO": "GB", "ROYAUME-UNI": "GB", "ANGOLA": "AO", "MOÇAMBIQUE": "MZ",
    "MOZAMBIQUE": "MZ", "CABO VERDE": "CV", "CAP-VERT": "CV", "ITALIA": "IT", "ITALY": "IT",
    "ITALIE": "IT", "CANADA": "CA", "CANADÁ": "CA", "IRELAND": "IE", "IRLANDA": "IE",
}  # fmt: skip


@dataclass
class ParseConfig:
    """Everything a worker needs to turn records into staging rows (picklable)."""

    kind: str  # "people" or "voting_history"
    header: list[str]
    mapping: dict[str, str]
    encoding: str
    delimiter: str
    quotechar: str
    region: str  # the organization's default country, for phone numbers and time zones
    default_tz: str
    match: list[str] = field(default_factory=lambda: ["external_id", "phone", "email"])
    constants: dict[str, str] = field(default_factory=dict)
    date_format: str = "dmy"  # or "mdy" (US files)
    # "copy" (PostgreSQL COPY text), "rows" (tuples; people rows keep only the columns the
    # mapping fills, see `_Plan`) or "direct" (people rows as full lists of PEOPLE_COLUMNS, for
    # `direct.to_direct`)
    output: str = "rows"


@dataclass
class ChunkOut:
    main: Any  # people or votes: COPY text or list of tuples
    phones: Any
    tags: Any
    # The staging columns `main` holds, in order (people: only those with a value in the
    # chunk; the others stay NULL). None: all the columns of the kind.
    main_columns: tuple[str, ...] | None = None
    rows: int = 0
    rejected: int = 0
    invalid_phones: int = 0
    # (line, column, code, params)
    problems: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    fatal: tuple[int, str, dict[str, Any]] | None = None
    tag_names: set[str] = field(default_factory=set)
    custom_keys: set[str] = field(default_factory=set)


_ASCII = "".join(map(chr, range(128)))


class _Plan:
    """The mapping compiled to column indexes, once per worker."""

    def __init__(self, cfg: ParseConfig) -> None:
        self.cfg = cfg
        self.width = len(cfg.header)
        # Chunks are split on the delimiter without csv.reader while they can be (see
        # `_simple_lines`); False once a chunk's values held quotes.
        self.split_ok = True
        codec = codecs.lookup(cfg.encoding).name
        self.cp1252 = codec == "cp1252"
        # The counts of quote and line break bytes that the main process finds (see
        # `reader.Span`) are the counts of those characters in the text: an ASCII quote, and an
        # encoding whose bytes below 128 are always those characters (UTF-8, one byte each).
        self.byte_counts = (
            cfg.quotechar.isascii()
            and bytes(range(128)).decode(cfg.encoding, errors="replace") == _ASCII
            and (
                codec in {"utf-8", "utf-8-sig"}
                or len(bytes(range(256)).decode(cfg.encoding, errors="replace")) == 256
            )
        )
        targets = PERSON_TARGETS if cfg.kind == "people" else VOTE_TARGETS
        self.by_target: dict[str, list[int]] = {}
        self.custom: list[tuple[str, int]] = []
        for index, col in enumerate(cfg.header):
            target = cfg.mapping.get(col, "")
            if not target:
                continue
            if target.startswith(CUSTOM_PREFIX):
                self.custom.append((target[len(CUSTOM_PREFIX) :], index))
            elif target in targets:
                self.by_target.setdefault(target, []).append(index)
        # Custom fields as JSON: the key part pre-encoded (`, "key": `); a repeated key keeps
        # the last column's value, as a dict would. The keys go in the order jsonb keeps them
        # (shorter first, then by their bytes): PostgreSQL's sort of each object's keys then
        # finds them sorted.
        last_index = {key: i for key, i in self.custom}
        self.custom_encoded: list[tuple[str, int, str]] = [
            (key, i, ", " + json.dumps(key, ensure_ascii=False) + ": ")
            for key, i in sorted(
                self.custom, key=lambda pair: (len(pair[0].encode()), pair[0].encode())
            )
            if last_index[key] == i
        ]
        self.constants = {k: v for k, v in cfg.constants.items() if k in targets}
        # The staging columns a people row can fill with this mapping. For SQLite the others
        # are left out of the chunk's rows (they stay NULL): less to pickle to the main
        # process and to bind there, where the inserts are serial. (For COPY text the saving
        # in the workers is about what the projection costs.)
        written = {"row_num", "dkey", "phone_key", "custom_fields", "time_zone", "address_key"}
        written |= {t for t in [*self.by_target, *self.constants] if t in IDX}
        if "full_name" in self.by_target:
            written |= {"first_name", "last_name"}
        kept = [i for i, name in enumerate(PEOPLE_COLUMNS) if name in written]
        left = [i for i in range(len(PEOPLE_COLUMNS)) if i not in kept]
        self.written_columns = tuple(PEOPLE_COLUMNS[i] for i in kept)
        self.written = kept
        # (Only SQLite's rows leave out the columns the mapping can't fill.)
        self.unwritten: list[int] = []
        if cfg.kind == "people" and cfg.output == "rows" and len(left) >= 2:
            self.unwritten = left
        # A people row before its record: the constants in their columns.
        self.template: list[Any] = [None] * len(PEOPLE_COLUMNS)
        for target, value in self.constants.items():
            if target in IDX:
                self.template[IDX[target]] = value[: MAX_LEN.get(target, 255)]
        self.names = cfg.header
        # The common case compiled: one column into one text field (stage index, column, max).
        self.simple: list[tuple[int, int, int]] = []
        self.others: list[tuple[str, str, list[int]]] = []
        for target, indexes in self.by_target.items():
            kind = targets[target][1]
            if (
                cfg.kind == "people"
                and kind == "text"
                and target != "full_name"
                and len(indexes) == 1
            ):
                self.simple.append((IDX[target], indexes[0], MAX_LEN.get(target, 255)))
            else:
                self.others.append((target, kind, indexes))
        # The others compiled (people): phone and tag columns in order, and for every other
        # target (in the mapping's order) its column(s) and the converter of its values.
        self.phone_columns: list[tuple[str, int]] = []
        self.tag_columns: list[int] = []
        self.fields: list[tuple[list[int], int, _FieldColumn]] = []
        if cfg.kind == "people":
            for target, kind, indexes in self.others:
                if kind == "phone":
                    self.phone_columns.extend((self.names[i], i) for i in indexes)
                elif kind == "tags":
                    self.tag_columns.extend(indexes)
                else:
                    single = indexes[0] if len(indexes) == 1 else -1
                    convert = _field_column(target, kind, self.names[indexes[0]], cfg.date_format)
                    self.fields.append((indexes, single, convert))
        self.match = list(cfg.match)
        # Splits a record needs: one past the last column read (the rest stays in one piece).
        read = [i for indexes in self.by_target.values() for i in indexes]
        read += [i for _key, i in self.custom]
        self.reads = max(read, default=0) + 1
        # The one split of a chunk (`_flat_rows`) makes a string of every value of a line,
        # where the line split stops at the last column read; it saves a lookup per record
        # for each column read. It pays when the columns after the last one read are few
        # against those read (measured on 4 MB chunks: the NC file, 31 after against 20 read,
        # −17 % of a worker's CPU; 51 after against 7 read, 90 against 53 ms a chunk).
        self.flat = self.width - self.reads <= 2 * len(set(read))


def _escape_copy(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_line(values: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    plain = True
    for v in values:
        if v is None:
            parts.append("\\N")
        elif v is True:
            parts.append("t")
        elif v is False:
            parts.append("f")
        else:
            s = v if type(v) is str else str(v)
            if plain and ("\\" in s or "\t" in s or "\n" in s or "\r" in s):
                plain = False
            parts.append(s if plain else _escape_copy(s))
    if not plain:
        parts = [
            "\\N"
            if v is None
            else ("t" if v is True else "f" if v is False else _escape_copy(str(v)))
            for v in values
        ]
    return "\t".join(parts)


def _copy_text(v: Any) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    return v if type(v) is str else str(v)


def _copy_lines(rows: list[Any]) -> str:
    """Rows (of one width) as PostgreSQL COPY text. Values are joined as they are, then the
    whole text is checked at once: no backslash but the NULL markers, no carriage return, one
    tab per separator and one line break per row (so no value holds one). Chunks that fail
    the check (rare in real files) are built again row by row with the escaping `_copy_line`."""
    if not rows:
        return ""
    text = "\n".join(
        [
            "\t".join(
                [
                    "\\N"  # NULL first: ~45% of a people row's values, and the cheapest test
                    if v is None
                    else v
                    if type(v) is str
                    else str(v)
                    if type(v) is int
                    else _copy_text(v)
                    for v in values
                ]
            )
            for values in rows
        ]
    )
    # Each NULL is written `\N`: any other backslash comes from a value.
    nulls = sum([values.count(None) for values in rows])
    if not copy_text_is_plain(text, len(rows), len(rows[0]), nulls):
        return "\n".join([_copy_line(values) for values in rows]) + "\n"
    return text + "\n"


def copy_text_is_plain(text: str, lines: int, width: int, nulls: int = 0) -> bool:
    """`text`, values joined by tabs and lines by line breaks as they are, is right as COPY
    text: no backslash but the `nulls` NULL markers, no carriage return, one tab per separator
    and one line break per line (so no value holds one). Else its values need escaping."""
    return (
        text.count("\\") == nulls
        and "\r" not in text
        and text.count("\n") == lines - 1
        and text.count("\t") == lines * (width - 1)
    )


def _parse_date(text: str, date_format: str) -> dt.date | None:
    m = _DATE_ISO.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _DATE_SLASH.match(text)
        if not m:
            return None
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        mo, d = (a, b) if date_format == "mdy" else (b, a)
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


def _bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def _country(text: str) -> str | None:
    up = text.strip().upper()
    if len(up) == 2 and up.isalpha():
        return up
    return _COUNTRIES.get(up)


# Caches: a voter file repeats addresses (households) and (country, region, postcode).
@functools.lru_cache(maxsize=65_536)
def _zone_cached(country: str, region: str, postcode: str) -> str:
    return country_time_zone(country, region, postcode)


@functools.lru_cache(maxsize=65_536)
def _address_key_cached(street: str, postcode: str, city: str, country: str) -> str:
    return address_key(street=street, postcode=postcode, city=city, country=country)


# A number repeated in the file (a household's landline, a family's shared mobile) is parsed
# once per worker. PhoneResult is immutable, so results are shared; the cache is emptied when
# full rather than evicting one by one.
# (raw, e164, kind, is_valid): `normalize.phone_fields`.
_PHONE_CACHE: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
_PHONE_CACHE_SIZE = 100_000


def _phone(raw: str, region: str) -> tuple[str, str, str, bool]:
    key = (raw, region)
    result = _PHONE_CACHE.get(key)
    if result is None:
        if len(_PHONE_CACHE) >= _PHONE_CACHE_SIZE:
            _PHONE_CACHE.clear()
        result = _PHONE_CACHE[key] = phone_fields(raw, region)
    return result


_encode_json_string: Any = getattr(json.encoder, "c_encode_basestring", None) or (
    lambda text: json.dumps(text, ensure_ascii=False)
)

_PLAN: _Plan | None = None
_FILE: int | None = None  # the worker's descriptor of the file being imported


def init_worker(cfg: ParseConfig, path: str) -> None:
    """Pool initializer: compile the plan and open the file, once per process."""
    global _PLAN, _FILE
    _PLAN = _Plan(cfg)
    _FILE = os.open(path, os.O_RDONLY)


def read_span(offset: int, length: int) -> bytes:
    """The bytes of a chunk, read by the worker itself: the main process, which finds where
    chunks end, sends where they are, not the bytes (pickling 4 MB into the pipe and out again
    per chunk cost ~2.5 CPU seconds of the 1M-row import). Shorter than `length` only if the
    file was cut meanwhile."""
    assert _FILE is not None
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(_FILE, length, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        length -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def process_span_in_worker(
    offset: int, length: int, first_line: int, quotes: int = -1, breaks: int = -1
) -> ChunkOut:
    """A piece of the file (`reader.Span`): read, then parsed. `quotes` and `breaks` are its
    counts of quote and line break bytes (-1: unknown)."""
    assert _PLAN is not None
    data = read_span(offset, length)
    if len(data) < length:
        return ChunkOut(main=[], phones=[], tags=[], fatal=(first_line, "file_changed", {}))
    counts = (quotes, breaks) if quotes >= 0 and breaks >= 0 else None
    return process_chunk(_PLAN, data, first_line, counts)


def process_chunk(
    plan: _Plan, data: bytes, first_line: int, counts: tuple[int, int] | None = None
) -> ChunkOut:
    """One chunk's staging rows. `counts`: the chunk's numbers of quote bytes and of line
    break bytes, when the caller has counted them (else they are counted here if needed)."""
    if not plan.byte_counts:
        counts = None
    with gc_paused():
        return _process_chunk(plan, data, first_line, counts)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused: a chunk's rows build no reference cycles, and its
    passes over everything a chunk keeps (the rows, and in a worker the caches of numbers and
    addresses) cost ~15% of the parse."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# Every byte but 0x80-0x9F, where cp1252 and latin-1 differ (and where cp1252 has holes).
_NOT_CP1252_OWN = bytes(b for b in range(256) if not 0x80 <= b < 0xA0)


def _decode(data: bytes, encoding: str, cp1252: bool) -> str:
    """`data.decode(encoding)`. cp1252 reads the bytes 0x80-0x9F its own way and every other
    one as latin-1 does: a chunk without them (the usual case: nothing is left once every
    other byte is deleted) goes through the latin-1 decoder, a plain copy, instead of
    cp1252's table (4 MB: ~2.5 ms of searching and copying against ~8 ms)."""
    if cp1252 and not data.translate(None, _NOT_CP1252_OWN):
        return data.decode("latin-1")
    return data.decode(encoding)


def _process_chunk(
    plan: _Plan, data: bytes, first_line: int, counts: tuple[int, int] | None = None
) -> ChunkOut:
    cfg = plan.cfg
    out = ChunkOut(main=[], phones=[], tags=[])
    try:
        text = _decode(data, cfg.encoding, plan.cp1252)
    except UnicodeDecodeError as exc:
        line = first_line + data[: exc.start].count(b"\n")
        out.fatal = (line, "bad_encoding", {"encoding": cfg.encoding.upper()})
        return out
    # The regular records (of the header's width, of two columns or more: a one-column record
    # may be a blank line, and not too long) and their line numbers; `_odd_record` sorts out
    # the others.
    records: list[list[str]] = []
    lines: Sequence[int] = []
    flat = (
        _flat_rows(plan, text, counts)
        if plan.split_ok and plan.flat and cfg.kind == "people" and plan.width > 1
        else None
    )
    simple = (
        _simple_lines(text, cfg.delimiter, cfg.quotechar, counts)
        if plan.split_ok and flat is None
        else None
    )
    if flat is not None:
        out.rows = len(flat)
        lines = range(first_line, first_line + len(flat))
    elif simple is not None:
        text_lines, sep, quotes = simple
        short = max(map(len, text_lines), default=0) <= MAX_FIELD_CHARS  # no value too long
        regular = _regular_records(plan, text_lines, sep) if short and plan.width > 1 else None
        if regular is not None:
            separators = (plan.width - 1) * len(text_lines)
        else:
            separators = sum(map(operator.methodcaller("count", sep), text_lines))
        if quotes >= 0 and quotes != 2 * (separators + len(text_lines)):
            # Some value held a quote: the split was not the csv reading. Read the chunk
            # again with csv.reader, and the rest of the file too (its writer quotes quotes).
            plan.split_ok = False
            return _process_chunk(plan, data, first_line)
        if regular is not None:
            records = regular
            lines = range(first_line, first_line + len(records))
            out.rows = len(records)
        else:
            split = [text_line.split(sep) for text_line in text_lines]
            lines = []
            for at, record in enumerate(split, start=first_line):
                _take(plan, record, at, short, out, records, lines)
    else:
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=cfg.delimiter, quotechar=cfg.quotechar
        )
        lines = []
        start_line = first_line
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                out.rows += 1
                out.rejected += 1
                out.problems.append((start_line, "", "unreadable", {"detail": str(exc)}))
                start_line = first_line + reader.line_num
                continue
            line = start_line
            start_line = first_line + reader.line_num
            _take(plan, record, line, False, out, records, lines)
    if cfg.kind == "people":
        table = flat if flat is not None else _RecordRows(records)
        cols = _people_columns(plan, table, lines, out)
        n = len(cols[0]) if cols[0] is not None else 0
        if cfg.output == "direct":
            out.main = cols if n else []
        elif n:
            kept: Sequence[int] = range(len(PEOPLE_COLUMNS))
            if plan.unwritten and all(cols[i] is None for i in plan.unwritten):
                # SQLite: only the columns the mapping can fill (the others are all NULL).
                kept, out.main_columns = plan.written, plan.written_columns
            out.main = list(
                zip(
                    *(itertools.repeat(None, n) if cols[i] is None else cols[i] for i in kept),
                    strict=False,  # the repeats of None end with the rows
                )
            )
    else:
        for record, line in zip(records, lines, strict=True):
            _vote_row(plan, record, line, out)
    out.problems.sort(key=_LINE)  # stable: in a line, as they were found
    if cfg.output == "copy":
        out.main = _copy_lines(out.main)
        out.phones = _copy_lines(out.phones)
        out.tags = _copy_lines(out.tags)
    return out


_LINE = operator.itemgetter(0)


def _take(
    plan: _Plan,
    record: list[str],
    line: int,
    short: bool,
    out: ChunkOut,
    records: list[list[str]],
    lines: list[int],
) -> None:
    """Keep a record that is regular (`short`: no value of the chunk can be too long), or let
    `_odd_record` sort it out."""
    if (
        len(record) == plan.width
        and plan.width > 1
        and (short or sum(map(len, record)) <= MAX_FIELD_CHARS)
    ):
        out.rows += 1
        records.append(record)
        lines.append(line)
    elif _odd_record(plan, record, line, out):
        records.append(record)
        lines.append(line)


class _Plain(NamedTuple):
    """A chunk in one of the two forms that need no csv state machine (`_plain`)."""

    body: str  # the text between the first line's start and the last line's end
    sep: str  # what splits a line into its values
    boundary: str  # what splits the body into its lines
    nl: str  # "\r\n" or "\n"
    ended: bool  # the text ends with a line break
    quoted: bool  # every value quoted (else: no quote at all)


def _plain(text: str, delimiter: str, quotechar: str) -> _Plain | None:
    """Either every value is quoted ('"a"\\t"b"\\r\\n"c"\\t"d"\\r\\n'): the body is the text inside
    the first and the last quote, lines are split at quote-line break-quote, values at
    quote-delimiter-quote; or the chunk has no quote at all. Lines end with \\r\\n throughout or
    \\n throughout. None: neither form (or options csv.reader alone reads)."""
    if (
        len(text) > CSV_FIELD_LIMIT  # csv.reader would refuse a field this long
        or len(delimiter) != 1
        or len(quotechar) != 1
        or delimiter == quotechar
        or delimiter in "\r\n"
        or quotechar in "\r\n"
    ):
        return None
    nl = "\r\n" if "\r" in text else "\n"
    ended = text.endswith(nl)
    if text.startswith(quotechar):
        tail = len(quotechar) + len(nl) if ended else len(quotechar)
        # The closing quote of the last line (not the opening one of the first).
        if len(text) - tail < 1 or text[len(text) - tail] != quotechar:
            return None
        body = text[1 : len(text) - tail]
        return _Plain(
            body, quotechar + delimiter + quotechar, quotechar + nl + quotechar, nl, ended, True
        )
    if quotechar not in text:
        body = text[: len(text) - len(nl)] if ended else text
        return _Plain(body, delimiter, nl, nl, ended, False)
    return None


def _simple_lines(
    text: str, delimiter: str, quotechar: str, counts: tuple[int, int] | None = None
) -> tuple[list[str], str, int] | None:
    """A chunk that needs no csv state machine as its lines (one record each, from the
    chunk's first line on), the separator that splits a line into its values, and the number
    of quotes the text holds (-1: no quoting at all).

    The chunk is in one of the forms of `_plain`, and no line holds a line break or carriage
    return of its own: the counts say so. In the quoted case, the caller still checks that
    the text holds exactly two quotes per value split (those around each line and each
    separator), else some value held a quote and csv.reader must read the chunk. None:
    csv.reader must read the chunk. `counts`: the text's numbers of quotes and line breaks,
    if known."""
    plain = _plain(text, delimiter, quotechar)
    if plain is None:
        return None
    lines = plain.body.split(plain.boundary)
    quotes = -1
    if plain.quoted:
        quotes = text.count(quotechar) if counts is None else counts[0]
    breaks = len(lines) - 1 + plain.ended
    found = text.count("\n") if counts is None else counts[1]
    if found != breaks or (plain.nl == "\r\n" and text.count("\r") != breaks):
        return None
    return lines, plain.sep, quotes


def _regular_records(plan: _Plan, text_lines: list[str], sep: str) -> list[list[str]] | None:
    """The lines split only as far as the last column the mapping reads, when every one has
    the header's width; else None. A line's separators are counted in its last part only (the
    columns after the last one read), not along the whole line: counting the NC file's
    three-character separator (quote, tab, quote) was ~9 % of a worker's instructions."""
    parts = min(plan.reads, plan.width - 1)
    records = [text_line.split(sep, parts) for text_line in text_lines]
    if set(map(len, records)) - {parts + 1}:
        return None
    rest = plan.width - 1 - parts  # the separators in the last part of a regular line
    tails = map(operator.methodcaller("count", sep), map(operator.itemgetter(-1), records))
    if set(tails) - {rest}:
        return None
    return records


class _RecordRows:
    """Records as lists of values (from a line split, or csv.reader), read column by column."""

    def __init__(self, records: list[list[str]]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def column(self, index: int) -> list[str]:
        return list(map(operator.itemgetter(index), self.records))


class _FlatRows:
    """A chunk's records from one split of its whole text on the separator (`_flat_rows`): the
    values of line j are `parts[(width - 1) * j + i]` for the columns 0 < i < width - 1, so a
    column is one slice of the list, with no list per record. The line breaks stay inside
    the parts at `width - 1`, `2 * (width - 1)`...: each holds a line's last value, the
    boundary and the next line's first value."""

    def __init__(self, parts: list[str], width: int, lines: int, boundary: str) -> None:
        self.parts, self.width, self.lines, self.boundary = parts, width, lines, boundary
        self._edges: tuple[list[str], list[str]] | None = None

    def __len__(self) -> int:
        return self.lines

    def column(self, index: int) -> list[str]:
        if 0 < index < self.width - 1:
            return self.parts[index :: self.width - 1]
        if self._edges is None:
            joined = self.parts[self.width - 1 : -1 : self.width - 1]
            pairs = [part.split(self.boundary) for part in joined]  # two each (checked)
            firsts = [self.parts[0], *map(operator.itemgetter(1), pairs)]
            lasts = [*map(operator.itemgetter(0), pairs), self.parts[-1]]
            self._edges = (firsts, lasts)
        return list(self._edges[0] if index == 0 else self._edges[1])


def _flat_rows(plan: _Plan, text: str, counts: tuple[int, int] | None) -> _FlatRows | None:
    """The chunk's records when every line is a regular record (the header's width, no value
    too long) in one of the two forms `_simple_lines` knows (every value quoted, or no quote
    at all); None when some line isn't, or can't be told so cheaply: then the chunk goes the
    way of `_simple_lines` and `_take`, which sort the lines out one by one.

    One split of the text on the separator, instead of a split per line: a line's values
    are then found by position, and a column is a slice (see `_FlatRows`). The checks:
    - the parts number (width - 1) per line, plus one;
    - the parts that should hold a line boundary hold one each, and the text has no other
      line break: every line has the header's width;
    - quoted: the text holds two quotes per value, so no value held one (else csv.reader
      must read the file, as `_process_chunk` decides);
    - no value is longer than MAX_FIELD_CHARS: every stretch of MAX_FIELD_CHARS / 2 characters
      (aligned) holds a quote (or, unquoted, a delimiter). A longer value would hold such a
      stretch whole."""
    cfg = plan.cfg
    quotechar, width = cfg.quotechar, plan.width
    plain = _plain(text, cfg.delimiter, quotechar) if text else None
    if plain is None:
        return None
    body, boundary = plain.body, plain.boundary
    breaks = text.count("\n") if counts is None else counts[1]
    lines = breaks if plain.ended else breaks + 1
    if plain.nl == "\r\n" and text.count("\r") != breaks:
        return None
    if plain.quoted:
        quotes = text.count(quotechar) if counts is None else counts[0]
        if quotes != 2 * width * lines:  # (a line with a value more or less fails it too)
            return None
    elif body.count(plain.sep) != (width - 1) * lines:
        return None  # a ragged line, found before the split (a count costs a tenth of it)
    mark = quotechar if plain.quoted else cfg.delimiter
    step = MAX_FIELD_CHARS // 2
    find = body.find
    for start in range(0, len(body) - step + 1, step):
        if find(mark, start, start + step) < 0:
            return None
    parts = body.split(plain.sep)
    if len(parts) != (width - 1) * lines + 1:
        return None
    # The lines - 1 parts that should hold a boundary hold one at least: then one exactly,
    # since the text has only lines - 1 line breaks before its end.
    joined = parts[width - 1 : -1 : width - 1]
    if joined and not min(map(operator.methodcaller("count", boundary), joined)):
        return None
    return _FlatRows(parts, width, lines, boundary)


def _odd_record(plan: _Plan, record: list[str], line: int, out: ChunkOut) -> bool:
    """A record that is blank, ragged or may hold a value that is too long: its problem, or
    True when it is regular after all (of the header's width, no value too long)."""
    if not record or (len(record) == 1 and not record[0].strip()):
        return False  # blank line
    out.rows += 1
    if len(record) != plan.width:
        out.rejected += 1
        out.problems.append((line, "", "ragged", {"found": len(record), "expected": plan.width}))
        return False
    long_col = next((i for i, v in enumerate(record) if len(v) > MAX_FIELD_CHARS), -1)
    if long_col >= 0:
        out.rejected += 1
        out.problems.append(
            (
                line,
                plan.names[long_col],
                "too_long",
                {"length": len(record[long_col]), "max": MAX_FIELD_CHARS},
            )
        )
        return False
    return True


def _joined(values: Sequence[str]) -> str:
    """Values of several columns for one target: stripped, the empty ones left out."""
    if len(values) == 1:
        return values[0].strip()
    return " ".join(v for v in map(str.strip, values) if v)


# Positions of the staging columns the row builder touches by name (no dict lookups).
_I_ADDRESS_KEY = IDX["address_key"]
_I_CITY = IDX["city"]
_I_COUNTRY = IDX["country"]
_I_CUSTOM_FIELDS = IDX["custom_fields"]
_I_DKEY = IDX["dkey"]
_I_EMAIL = IDX["email"]
_I_EXTERNAL_ID = IDX["external_id"]
_I_FIRST_NAME = IDX["first_name"]
_I_GENDER = IDX["gender"]
_I_LAST_NAME = IDX["last_name"]
_I_PHONE_KEY = IDX["phone_key"]
_I_POSTCODE = IDX["postcode"]
_I_REGION = IDX["region"]
_I_STREET = IDX["street"]
_I_SUPPORT_LEVEL = IDX["support_level"]
_I_TIME_ZONE = IDX["time_zone"]


# A compiled converter of one target's values, a column at a time: (the records' stripped
# texts for it, the staging columns, the records' line numbers, problems). Each non-empty text
# becomes its value in the target's staging column, or a problem on column `col`.
_FieldColumn = Callable[[list[str], list[Any], Sequence[int], list[Any]], None]


def _column(cols: list[Any], index: int, n: int) -> list[Any]:
    """Staging column `index` as a list to write into (all NULL when nothing filled it yet)."""
    found = cols[index]
    if found is None:
        found = cols[index] = [None] * n
    return found


_BAD = object()  # a value a converter refuses


def _converting(
    index: int, col: str, code: str, cut: int, convert: Callable[[str], Any]
) -> _FieldColumn:
    """The converter that writes `convert(text)` of each non-empty text into staging column
    `index`, or the problem `code` on column `col` (with the text's first `cut` characters)
    when `convert` refuses it."""

    def converted(
        values: list[str], cols: list[Any], lines: Sequence[int], problems: list[Any]
    ) -> None:
        found = _column(cols, index, len(values))
        for k, value in enumerate(values):
            if value:
                result = convert(value)
                if result is _BAD:
                    problems.append((lines[k], col, code, {"value": value[:cut]}))
                else:
                    found[k] = result

    return converted


def _email(value: str) -> Any:
    low = value.lower()
    return low if _EMAIL.match(low) and len(low) <= 254 else _BAD


def _whole_number(low: int, high: int) -> Callable[[str], Any]:
    def whole_number(value: str) -> Any:
        # isdecimal, not isdigit: int() refuses digits such as "²".
        return int(value) if value.isdecimal() and low <= int(value) <= high else _BAD

    return whole_number


def _coordinate(bound: float) -> Callable[[str], Any]:
    def coordinate(value: str) -> Any:
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            return _BAD
        return number if -bound <= number <= bound else _BAD

    return coordinate


def _date(date_format: str) -> Callable[[str], Any]:
    def date(value: str) -> Any:
        parsed = _parse_date(value, date_format)
        return parsed.isoformat() if parsed is not None and 1880 <= parsed.year <= 2100 else _BAD

    return date


def _yes_no(value: str) -> Any:
    answer = _bool(value)
    return _BAD if answer is None else answer


_CENT = decimal.Decimal("0.01")


def _amount(value: str) -> Any:
    try:
        number = decimal.Decimal(value.replace(" ", "").replace(",", "."))
    except decimal.InvalidOperation:
        return _BAD
    return str(number.quantize(_CENT)) if number.is_finite() and 0 <= number < 10**10 else _BAD


def _field_column(target: str, kind: str, col: str, date_format: str) -> _FieldColumn:
    """The converter of a people target that is not a phone, tags or a single-column text
    (those are done by `_people_columns` itself)."""
    if kind == "text" and target == "full_name":

        def full_name(
            values: list[str], cols: list[Any], lines: Sequence[int], problems: list[Any]
        ) -> None:
            n = len(values)
            firsts, lasts = _column(cols, _I_FIRST_NAME, n), _column(cols, _I_LAST_NAME, n)
            for k, value in enumerate(values):
                if value:
                    first, _sep, last = value.rpartition(" ")
                    if not first:
                        first, last = last, ""
                    firsts[k] = firsts[k] or first[:100]
                    lasts[k] = lasts[k] or last[:100]

        return full_name
    index = IDX.get(target, -1)
    if kind == "text":  # several columns joined: never refused
        limit = MAX_LEN.get(target, 255)
        return _converting(index, col, "", 0, lambda value: value[:limit])
    if kind == "email":
        return _converting(_I_EMAIL, col, "bad_email", 80, _email)
    if kind == "country":
        return _converting(_I_COUNTRY, col, "bad_country", 80, lambda v: _country(v) or _BAD)
    if kind in {"latitude", "longitude"}:
        bound = 90.0 if kind == "latitude" else 180.0
        return _converting(index, col, "bad_coordinate", 40, _coordinate(bound))
    if kind == "date":
        return _converting(index, col, "bad_date", 40, _date(date_format))
    if kind == "year":
        return _converting(index, col, "bad_year", 40, _whole_number(1880, 2100))
    if kind == "gender":
        return _converting(_I_GENDER, col, "bad_gender", 40, lambda v: _GENDER.get(v.lower(), _BAD))
    if kind == "support":
        return _converting(_I_SUPPORT_LEVEL, col, "bad_support", 40, _whole_number(1, 5))
    if kind == "decimal":
        return _converting(index, col, "bad_amount", 40, _amount)
    if kind == "bool":
        return _converting(index, col, "bad_bool", 40, _yes_no)

    def ignored(
        values: list[str], cols: list[Any], lines: Sequence[int], problems: list[Any]
    ) -> None:
        return None

    return ignored


_TAG_SEPARATORS = re.compile(r"[,;]")


def _row_tags(values: list[str]) -> list[str]:
    """A record's tag names: its tag columns' comma- or semicolon-separated names, in order,
    once each."""
    tags: list[str] = []
    for value in values:
        for name in _TAG_SEPARATORS.split(value) if "," in value or ";" in value else (value,):
            name = name.strip()[:80]
            if name and name not in tags:
                tags.append(name)
    return tags


def _text_column(column: list[str], limit: int, const: Any) -> list[Any]:
    """A text column of the records: each value stripped and cut to `limit`, `const` for an
    empty one. Mapped C functions over the column, then the rare fixes where they are needed
    (a plain comprehension costs twice as much)."""
    values = list(map(str.strip, column))
    if max(map(len, values), default=0) > limit:
        values = [v[:limit] for v in values]
    if "" in values:
        values = [v or const for v in values]
    return values


def _people_columns(
    plan: _Plan, records: _RecordRows | _FlatRows, lines: Sequence[int], out: ChunkOut
) -> list[Any]:
    """The staging rows of a chunk's regular records (all of the header's width), column by
    column: `PEOPLE_COLUMNS` in order, each a list with a value per kept record, or None when
    it is NULL on every one (the direct load writes its lines from the columns as they are).
    Records without anything to identify a person are counted rejected and left out. The
    problems are sorted by line: in a line, in the mapping's order, then the phones, then
    "no_identity"."""
    n = len(records)
    cols: list[Any] = [None if v is None else [v] * n for v in plan.template]
    if not n:
        return cols
    cfg = plan.cfg
    problems = out.problems
    cols[0] = list(lines)
    column = records.column
    for stage_index, index, limit in plan.simple:
        cols[stage_index] = _text_column(column(index), limit, plan.template[stage_index])
    phone_texts = [(col, list(map(str.strip, column(i)))) for col, i in plan.phone_columns]
    tag_lists = (
        list(map(_row_tags, map(list, zip(*map(column, plan.tag_columns), strict=True))))
        if plan.tag_columns
        else None
    )
    for indexes, single, convert in plan.fields:
        if single >= 0:
            values = list(map(str.strip, column(single)))
        else:
            values = list(map(_joined, zip(*map(column, indexes), strict=True)))
        convert(values, cols, lines, problems)
    pieces: list[list[str]] = []
    for key, i, lead in plan.custom_encoded:
        values = list(map(str.strip, column(i)))
        distinct = set(values)
        if distinct == {""}:
            continue
        out.custom_keys.add(key)
        if len(distinct) * 4 <= n:  # a code (party, race, county): each value encoded once
            encoded = {v: lead + _encode_json_string(v[:1000]) if v else "" for v in distinct}
            pieces.append(list(map(encoded.__getitem__, values)))
        else:
            pieces.append([lead + _encode_json_string(v[:1000]) if v else "" for v in values])
    if pieces:
        # Each piece is ', "key": value': a row's object is its pieces joined, less the first
        # comma.
        joined = map("".join, zip(*pieces, strict=True))
        cols[_I_CUSTOM_FIELDS] = ["{" + text[2:] + "}" if text else None for text in joined]

    # Row by row: phones, who is identified, the key that dedupes, time zone, household key.
    nulls: list[Any] = [None] * n
    firsts, lasts, ext_ids, emails, countries, streets, postcodes, cities, regions = (
        nulls if cols[i] is None else cols[i]
        for i in (
            _I_FIRST_NAME, _I_LAST_NAME, _I_EXTERNAL_ID, _I_EMAIL, _I_COUNTRY, _I_STREET,
            _I_POSTCODE, _I_CITY, _I_REGION,
        )
    )  # fmt: skip
    phone_keys: list[str | None] = [None] * n
    dkeys: list[str | None] = [None] * n
    zones: list[str | None] = [None] * n
    akeys: list[str | None] = [None] * n
    rejected: list[int] = []
    phone_rows, tag_rows, tag_names = out.phones, out.tags, out.tag_names
    one_phone = phone_texts[0] if len(phone_texts) == 1 else None
    default_region, default_tz, match = cfg.region, cfg.default_tz or None, plan.match
    for k in range(n):
        line = lines[k]
        phones: list[tuple[str, str]]
        if one_phone is not None:
            phones = [(one_phone[0], one_phone[1][k])] if one_phone[1][k] else []
        else:
            phones = [(col, texts[k]) for col, texts in phone_texts if texts[k]]
        country = countries[k] or ""
        region = country if len(country) == 2 else default_region
        valid_e164: list[str] = []
        for position, (col, raw_phone) in enumerate(phones):
            text, e164, kind, is_valid = _phone(raw_phone, region)
            if is_valid:
                if e164 in valid_e164:
                    continue
                valid_e164.append(e164)
            else:
                out.invalid_phones += 1
                problems.append((line, col, "bad_phone", {"value": raw_phone[:64]}))
            phone_rows.append((line, position, text, e164, kind, is_valid))
        # (A record with a phone is never rejected: its phone rows are kept.)
        if not (firsts[k] or lasts[k] or ext_ids[k] or emails[k] or phones):
            out.rejected += 1
            problems.append((line, "", "no_identity", {}))
            rejected.append(k)
            continue
        phone_keys[k] = valid_e164[0] if valid_e164 else None
        dkey = ""
        for key in match:
            if key == "external_id" and ext_ids[k]:
                dkey = "x:" + ext_ids[k]
            elif key == "phone" and valid_e164:
                dkey = "p:" + valid_e164[0]
            elif key == "email" and emails[k]:
                dkey = "e:" + emails[k]
            if dkey:
                break
        dkeys[k] = dkey or None
        street, postcode, city = streets[k] or "", postcodes[k] or "", cities[k] or ""
        zone = ""
        if country or street or postcode or city:
            zone = _zone_cached(country or default_region, regions[k] or "", postcode)
        if not zone:
            for _col, raw_phone in phones:
                zone = normalize_phone(raw_phone, region).time_zone
                if zone:
                    break
        zones[k] = zone or default_tz
        akeys[k] = _address_key_cached(street, postcode, city, country)
        if tag_lists is not None:
            for name in tag_lists[k]:
                tag_rows.append((line, name))
                tag_names.add(name)
    cols[_I_PHONE_KEY], cols[_I_DKEY], cols[_I_TIME_ZONE], cols[_I_ADDRESS_KEY] = (
        phone_keys, dkeys, zones, akeys
    )  # fmt: skip
    if rejected:
        drop = set(rejected)
        kept = [k for k in range(n) if k not in drop]
        cols = [None if c is None else [c[k] for k in kept] for c in cols]
    return cols


def _vote_row(plan: _Plan, record: list[str], line: int, out: ChunkOut) -> None:
    cfg = plan.cfg
    values: dict[str, str] = dict(plan.constants)
    for target, indexes in plan.by_target.items():
        values[target] = _joined([record[i] for i in indexes])[: MAX_LEN.get(target, 200)]
    ext = values.get("external_id", "")
    label = values.get("election_label", "")
    if not ext or not label:
        out.rejected += 1
        column = "" if ext else next(iter(plan.by_target.get("election_label", [])), -1)
        out.problems.append(
            (
                line,
                plan.names[column] if isinstance(column, int) and column >= 0 else "",
                "vote_incomplete",
                {},
            )
        )
        return
    date_text = values.get("election_date", "") or label
    date = _parse_date(date_text.split(" ")[0], cfg.date_format)
    out.main.append(
        (
            line,
            ext,
            label,
            values.get("election_description", ""),
            date.isoformat() if date else None,
            values.get("voting_method", ""),
        )
    )

"""Reading CSV / TSV files safely: encoding, delimiter and quoting detection, the header, and
splitting the data into chunks at record boundaries for the worker processes.

Everything here reads a bounded sample or streams; nothing loads the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from django.utils.translation import gettext as _

SAMPLE_BYTES = 1024 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 16 * 1024 * 1024  # a record longer than this means an unclosed quote
CSV_FIELD_LIMIT = 8 * 1024 * 1024  # the csv module's own limit, above MAX_FIELD_CHARS
MAX_FIELD_CHARS = 10_000  # a longer value is refused (reported per row)
MAX_COLUMNS = 500
DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")

csv.field_size_limit(CSV_FIELD_LIMIT)


class ImportFileError(Exception):
    """The file can't be imported at all; the message says why and what to do."""


@dataclass
class FileFormat:
    encoding: str
    delimiter: str
    quotechar: str
    header: list[str]
    data_offset: int  # byte offset of the first data row
    preview: list[list[str]]  # the first rows after the header (for the mapping page)


def _decode_sample(sample: bytes, encoding: str | None) -> tuple[str, str]:
    """Decode the sample, detecting UTF-8 (with or without BOM) vs cp1252 / latin-1."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            _("This file is UTF-16. Save it as UTF-8 (CSV UTF-8 in spreadsheet programs).")
        )
    if b"\x00" in sample:
        raise ImportFileError(
            _("This is not a text file (it contains binary data). Upload a CSV or TSV file.")
        )
    if encoding:
        encoding = encoding.lower()
        if encoding not in ENCODINGS:
            raise ImportFileError(
                _("Unknown encoding “%(encoding)s”: use UTF-8, cp1252 or latin-1.")
                % {"encoding": encoding}
            )
        if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        try:
            return codecs.getincrementaldecoder(encoding)().decode(sample, final=False), encoding
        except UnicodeDecodeError as exc:
            line = sample[: exc.start].count(b"\n") + 1
            raise ImportFileError(
                _(
                    "The file is not valid %(encoding)s (line %(line)d). Choose another "
                    "encoding, or save the file as UTF-8."
                )
                % {"encoding": encoding.upper(), "line": line}
            ) from exc
    encoding = "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        try:
            text, encoding = sample.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = sample.decode("latin-1"), "latin-1"
    return text, encoding


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    controls = sum(
        1
        for ch in text[:200_000]
        if (ord(ch) < 32 and ch not in "\t\r\n") or 0x7F <= ord(ch) < 0xA0 or ch == "\ufffd"
    )
    return controls > max(2, len(text[:200_000]) // 200)


def _first_lines(text: str, limit: int = 50) -> list[str]:
    lines = text.splitlines(keepends=True)
    # The last line of a sample may be cut short.
    return lines[: min(limit, max(1, len(lines) - 1))] if len(lines) > 1 else lines


def _sniff(text: str) -> tuple[str, str]:
    """Pick the delimiter (and quote character) that splits the sample's lines into the same
    number of fields, more than one; ties go to the one with more fields. Single quotes are
    the quoting only when the values really start with one."""
    sample = "".join(_first_lines(text))
    best: tuple[int, int, int, str, str] | None = None
    for quote in ('"', "'"):
        for delim in DELIMITERS:
            try:
                reader = csv.reader(io.StringIO(sample), delimiter=delim, quotechar=quote)
                rows = [r for r in reader if r]
            except csv.Error:
                continue
            if not rows or len(rows[0]) < 2:
                continue
            width = len(rows[0])
            if quote == "'":
                cells = [c.strip() for c in sample.splitlines()[0].split(delim)]
                if not all(c.startswith("'") and c.endswith("'") for c in cells if c):
                    continue
            consistent = sum(1 for r in rows if len(r) == width) * 1000 // len(rows)
            score = (consistent, width, 1 if quote == "'" else 0, delim, quote)
            if best is None or score[:3] > best[:3]:
                best = score
    if best is None:
        return ",", '"'  # one column: any delimiter reads it the same
    return best[3], best[4]


def _header_problems(header: list[str]) -> str:
    if not header or all(not h.strip() for h in header):
        return _("The first row is empty: the file needs a header row with the column names.")
    seen: set[str] = set()
    for index, name in enumerate(header, start=1):
        clean = name.strip()
        if not clean:
            return _("Column %(n)d has no name in the header row. Every column needs a name.") % {
                "n": index
            }
        if clean in seen:
            return _("The column “%(name)s” appears twice in the header row.") % {"name": clean}
        seen.add(clean)
        digits = sum(ch.isdigit() for ch in clean)
        if "@" in clean or (digits >= 3 and digits >= len(clean) // 2):
            return _(
                "The first row looks like data (“%(value)s”), not column names. "
                "Add a header row with the column names."
            ) % {"value": clean[:40]}
    return ""


def detect_format(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    preview_rows: int = 5,
) -> FileFormat:
    """Open `path` and work out how to read it. Raises ImportFileError with a clear message."""
    with Path(path).open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ImportFileError(_("The file is empty."))
    text, enc = _decode_sample(sample, encoding or None)
    if _looks_binary(text):
        raise ImportFileError(
            _("This is not a text file (it contains binary data). Upload a CSV or TSV file.")
        )
    if delimiter:
        delim = "\t" if delimiter in {"\\t", "tab", "TAB"} else delimiter
        if len(delim) != 1:
            raise ImportFileError(_("The delimiter must be one character."))
        sniffed_delim, sniffed_quote = _sniff(text)
        quote = sniffed_quote if sniffed_delim == delim else '"'
    else:
        delim, quote = _sniff(text)
    # The header: the first record, which must end inside the sample.
    header_end = _record_boundary(sample, quote.encode())
    if header_end <= 0:
        if len(sample) < SAMPLE_BYTES:
            header_end = len(sample)
        else:
            raise ImportFileError(_("The header row is too long or a quote is never closed."))
    header_text = sample[:header_end].decode(enc)
    rows = list(csv.reader(io.StringIO(header_text), delimiter=delim, quotechar=quote))
    header = [h.strip() for h in rows[0]] if rows else []
    problem = _header_problems(header)
    if problem:
        raise ImportFileError(problem)
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(
            _("The file has %(n)d columns; the limit is %(max)d.")
            % {"n": len(header), "max": MAX_COLUMNS}
        )
    rest = text[len(header_text) :]
    preview: list[list[str]] = []
    try:
        for row in csv.reader(
            io.StringIO("".join(_first_lines(rest, 200))), delimiter=delim, quotechar=quote
        ):
            if row:
                preview.append([cell[:200] for cell in row])
            if len(preview) >= preview_rows:
                break
    except csv.Error:
        pass
    if not rest.strip():
        raise ImportFileError(_("The file has a header row but no data rows."))
    return FileFormat(
        encoding=enc,
        delimiter=delim,
        quotechar=quote,
        header=header,
        data_offset=header_end,
        preview=preview,
    )


def _record_boundary(data: bytes, quote: bytes, max_tries: int = 10_000) -> int:
    """The offset just after the first newline that ends a record (even number of quotes
    before it), searching forward; 0 if none."""
    pos = data.find(b"\n")
    tries = 0
    count = 0
    start = 0
    while pos >= 0 and tries < max_tries:
        count += data.count(quote, start, pos)
        if count % 2 == 0:
            return pos + 1
        start = pos
        pos = data.find(b"\n", pos + 1)
        tries += 1
    return 0


def _last_record_boundary(
    data: bytes, quote: bytes, max_tries: int = 10_000
) -> tuple[int, int, int]:
    """(the offset just after the last newline of `data` that ends a record (an even number
    of quotes before it), or 0 if none among the last `max_tries` lines; the quotes before
    that offset; the quotes in `data`)."""
    total = data.count(quote)
    after = 0
    end = len(data)
    pos = data.rfind(b"\n")
    tries = 0
    while pos >= 0 and tries < max_tries:
        after += data.count(quote, pos, end)
        if (total - after) % 2 == 0:
            return pos + 1, total - after, total
        end = pos
        pos = data.rfind(b"\n", 0, pos)
        tries += 1
    return 0, 0, total


def _unclosed_quote(line: int, quotechar: str) -> ImportFileError:
    return ImportFileError(
        _(
            "Around line %(line)d a quote (%(quote)s) opens a value that never "
            "closes. Fix the quote and upload the file again."
        )
        % {"line": line, "quote": quotechar}
    )


class Span(NamedTuple):
    """A piece of the data, for a worker that reads it from the file itself. `quotes` and
    `breaks` (line breaks) are the piece's counts of those bytes, which finding its end
    counted anyway: the worker's check of its split needs them."""

    offset: int
    length: int
    first_line: int
    quotes: int
    breaks: int


def _pieces(
    fh: BinaryIO, start: int, quotechar: str, chunk_bytes: int
) -> Iterator[tuple[Span, bytes]]:
    """Pieces of the data that end at a record boundary (quote parity), with the bytes read
    (the piece and maybe more). Line numbers count from 1 at the header, like a spreadsheet;
    each read starts at the boundary found. A record longer than a piece makes the read grow;
    one longer than `MAX_RECORD_BYTES` is an unclosed quote."""
    quote = quotechar.encode()
    offset, line, want = start, 2, chunk_bytes
    while True:
        fh.seek(offset)
        data = fh.read(want)
        if not data:
            return
        at_end = len(data) < want
        cut, quotes, total = _last_record_boundary(data, quote)
        if cut <= 0:
            if len(data) > MAX_RECORD_BYTES:
                raise _unclosed_quote(line, quotechar)
            if not at_end:
                want *= 2  # a record longer than a piece: read more of it
                continue
        if at_end:
            cut, quotes = len(data), total  # the end of the file: the rest is the last piece
        breaks = data.count(b"\n", 0, cut)
        yield Span(offset, cut, line, quotes, breaks), data
        line += breaks
        offset += cut
        want = chunk_bytes


def iter_spans(
    fh: BinaryIO, *, start: int, quotechar: str, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Span]:
    """The pieces, for workers that read their piece from the file themselves: nothing of the
    pieces is copied here."""
    for span, _data in _pieces(fh, start, quotechar, chunk_bytes):
        yield span


def iter_chunks(
    fh: BinaryIO, *, start: int, quotechar: str, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[bytes, Span]]:
    """(bytes, span) of the pieces, for a parse in this process: the span's first line and
    counts go with the bytes, as they go to a worker."""
    for span, data in _pieces(fh, start, quotechar, chunk_bytes):
        yield (data if span.length == len(data) else data[: span.length]), span

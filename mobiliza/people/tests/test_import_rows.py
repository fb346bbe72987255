"""The import's row builder (`imports/rows.py`), which runs in the worker processes: a chunk of
the file in, staging rows, problems and counts out. The chunk is split without csv.reader when
it needs no csv state machine; that must read exactly what csv.reader reads, line numbers of
problems included."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobiliza.people.imports.direct import new_uuids
from mobiliza.people.imports.reader import iter_chunks, iter_spans
from mobiliza.people.imports.rows import (
    PEOPLE_COLUMNS,
    ChunkOut,
    ParseConfig,
    _decode,
    _flat_rows,
    _Plan,
    process_chunk,
)

HEADER = ["id", "name", "mail", "phone", "tags", "city", "born", "team"]
MAPPING = {
    "id": "external_id",
    "name": "full_name",
    "mail": "email",
    "phone": "phone",
    "tags": "tags",
    "city": "city",
    "born": "birth_date",
    "team": "custom:team",
}


def _cfg(output: str = "rows", **kw: Any) -> ParseConfig:
    values: dict[str, Any] = {
        "kind": "people",
        "header": HEADER,
        "mapping": MAPPING,
        "encoding": "utf-8",
        "delimiter": ",",
        "quotechar": '"',
        "region": "PT",
        "default_tz": "",
        "output": output,
    }
    values.update(kw)
    return ParseConfig(**values)


def _everything(out: ChunkOut) -> tuple[Any, ...]:
    return (
        out.main,
        out.main_columns,
        out.phones,
        out.tags,
        out.rows,
        out.rejected,
        out.invalid_phones,
        out.problems,
        out.fatal,
        sorted(out.tag_names),
        sorted(out.custom_keys),
    )


def _both_ways(cfg: ParseConfig, data: bytes, first_line: int = 2) -> tuple[Any, Any, bool]:
    """The chunk read the fast way (split when it can be) and with csv.reader only; and
    whether the fast way kept splitting."""
    fast_plan = _Plan(cfg)
    fast = _everything(process_chunk(fast_plan, data, first_line))
    csv_plan = _Plan(cfg)
    csv_plan.split_ok = False
    slow = _everything(process_chunk(csv_plan, data, first_line))
    return fast, slow, fast_plan.split_ok


def _render(records: list[list[str]], *, delimiter: str, quoting: int, terminator: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=quoting, lineterminator=terminator, escapechar=None
    )
    writer.writerows(records)
    return buffer.getvalue()


def _row(i: int, **values: str) -> list[str]:
    row = {
        "id": f"E{i}",
        "name": f"Ana Silva{i}",
        "mail": f"ana{i}@example.org",
        "phone": f"91234{i:04d}",
        "tags": "vol; donor" if i % 2 else "",
        "city": "Lisboa",
        "born": "1980-02-03",
        "team": f"T{i % 3}",
    }
    row.update(values)
    return [row[name] for name in HEADER]


def test_fully_quoted_crlf_file_is_split_and_reads_as_csv_does() -> None:
    records = [_row(i) for i in range(20)]
    text = _render(records, delimiter="\t", quoting=csv.QUOTE_ALL, terminator="\r\n")
    fast, slow, split = _both_ways(_cfg(delimiter="\t"), text.encode())
    assert split and fast == slow
    assert fast[4] == 20 and fast[5] == 0  # rows, rejected


def test_unquoted_lf_file_with_blank_lines_ragged_rows_and_no_final_line_break() -> None:
    lines = [",".join(_row(i)) for i in range(6)]
    lines[2] = ""  # blank line: skipped, not counted
    lines[3] = "E3,Rui"  # ragged: reported on its own line
    text = "\n".join(lines)
    fast, slow, split = _both_ways(_cfg(), text.encode(), first_line=10)
    assert split and fast == slow
    assert (fast[4], fast[5]) == (5, 1)
    assert (13, "", "ragged", {"found": 2, "expected": len(HEADER)}) in fast[7]


def test_a_value_with_quotes_falls_back_to_csv_for_the_rest_of_the_file() -> None:
    records = [_row(i) for i in range(5)]
    records[3] = _row(3, name='Ana "Nita" Silva', team="a,b")
    text = _render(records, delimiter=",", quoting=csv.QUOTE_ALL, terminator="\r\n")
    cfg = _cfg()
    fast, slow, split = _both_ways(cfg, text.encode())
    assert fast == slow and not split
    people = {row[2]: row for row in fast[0]}  # by external id
    first = fast[1].index("first_name")
    assert people["E3"][first] == 'Ana "Nita"'


def test_line_breaks_inside_values_and_lone_carriage_returns_read_as_csv() -> None:
    # csv.reader counts a lone carriage return as a line: the later rows' line numbers move.
    for inside in ("two\r\nlines", "two\nlines", "Porto\rNorte"):
        records = [_row(i) for i in range(4)]
        records[1] = _row(1, city=inside)
        for quoting in (csv.QUOTE_ALL, csv.QUOTE_MINIMAL):
            for terminator in ("\r\n", "\n"):
                text = _render(records, delimiter=",", quoting=quoting, terminator=terminator)
                fast, slow, _split = _both_ways(_cfg(), text.encode())
                assert fast == slow, (inside, quoting, terminator)


def test_too_long_values_are_reported_with_their_column() -> None:
    long = "x" * 10_001
    records = [_row(0), _row(1, team=long), _row(2)]
    for quoting in (csv.QUOTE_ALL, csv.QUOTE_NONE):
        text = _render(records, delimiter=",", quoting=quoting, terminator="\n")
        fast, slow, split = _both_ways(_cfg(), text.encode())
        assert split and fast == slow
        assert fast[7] == [(3, "team", "too_long", {"length": 10_001, "max": 10_000})]


def test_copy_output_is_the_same_either_way() -> None:
    records = [_row(i, phone="abc" if i == 2 else f"91234{i:04d}") for i in range(8)]
    text = _render(records, delimiter=";", quoting=csv.QUOTE_ALL, terminator="\n")
    fast, slow, split = _both_ways(_cfg("copy", delimiter=";"), text.encode())
    assert split and fast == slow
    assert isinstance(fast[0], str) and fast[0].count("\n") == 8


_VALUE = st.text(alphabet='ab é1@;,"\t\r\n ', max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(
        st.lists(_VALUE, min_size=1, max_size=len(HEADER) + 1)  # blank, ragged, any values
        | st.builds(lambda i, name: _row(i, name=name), st.integers(0, 99), _VALUE),
        min_size=1,
        max_size=8,
    ),
    delimiter=st.sampled_from([",", "\t", ";"]),
    quoting=st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL]),
    terminator=st.sampled_from(["\r\n", "\n"]),
    blank=st.booleans(),
    final_break=st.booleans(),
    reads_all=st.booleans(),
)
def test_any_chunk_reads_the_same_as_with_csv_reader(
    records: list[list[str]],
    delimiter: str,
    quoting: int,
    terminator: str,
    blank: bool,
    final_break: bool,
    reads_all: bool,
) -> None:
    text = _render(records, delimiter=delimiter, quoting=quoting, terminator=terminator)
    if blank:
        text = terminator + text
    if not final_break and text.endswith(terminator):
        text = text[: -len(terminator)]
    if not text:
        return
    # A mapping that reads no column after "city": regular lines are split only that far.
    mapping = MAPPING if reads_all else {k: v for k, v in MAPPING.items() if k not in _LAST}
    fast, slow, _split = _both_ways(_cfg(delimiter=delimiter, mapping=mapping), text.encode())
    assert fast == slow


_LAST = ("born", "team")


def test_a_mapping_that_reads_the_first_columns_only_still_sees_ragged_rows() -> None:
    records = [_row(i) for i in range(6)]
    records[2] = records[2] + ["extra"]  # one value more, after the columns read
    records[4] = records[4][:-1]  # one value less
    text = _render(records, delimiter="\t", quoting=csv.QUOTE_ALL, terminator="\r\n")
    mapping = {k: v for k, v in MAPPING.items() if k not in _LAST}
    fast, slow, split = _both_ways(_cfg(delimiter="\t", mapping=mapping), text.encode())
    assert split and fast == slow
    assert [p[:3] for p in fast[7]] == [(4, "", "ragged"), (6, "", "ragged")]
    assert (fast[4], fast[5]) == (6, 2)


def test_digits_that_are_not_decimal_are_a_problem_not_a_crash() -> None:
    cfg = _cfg(header=["id", "year", "support"], mapping={
        "id": "external_id", "year": "birth_year", "support": "support_level"
    })  # fmt: skip
    out = process_chunk(_Plan(cfg), "E1,19²0,³\nE2,1990,4\n".encode(), 2)
    assert [p[2] for p in out.problems] == ["bad_year", "bad_support"]
    people = [dict(zip(out.main_columns or PEOPLE_COLUMNS, row, strict=True)) for row in out.main]
    assert [(p["external_id"], p["birth_year"], p["support_level"]) for p in people] == [
        ("E1", None, None),
        ("E2", 1990, 4),
    ]


def test_the_staging_columns_keep_their_order() -> None:
    # engine.py writes the COPY text and the SQLite rows under these names, in this order.
    assert PEOPLE_COLUMNS[:3] == ("row_num", "dkey", "external_id")
    assert PEOPLE_COLUMNS[-2:] == ("time_zone", "address_key")


def test_a_worker_reads_its_chunk_from_the_file_and_says_when_the_file_was_cut(
    tmp_path: Any,
) -> None:
    from mobiliza.people.imports import rows

    path = tmp_path / "p.csv"
    body = "".join(",".join(_row(i)) + "\n" for i in range(3))
    path.write_bytes(("x" * 10 + body).encode())
    rows.init_worker(_cfg(), str(path))
    out = rows.process_span_in_worker(10, len(body.encode()), 2)
    assert out.fatal is None and out.rows == 3
    assert [row[2] for row in out.main] == ["E0", "E1", "E2"]  # external ids
    cut = rows.process_span_in_worker(10, len(body.encode()) + 50, 2)
    assert cut.fatal == (2, "file_changed", {}) and not cut.main


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(
        st.lists(st.text(alphabet='ab"\n,é', max_size=8), min_size=1, max_size=3), max_size=25
    ),
    chunk_bytes=st.integers(min_value=1, max_value=48),
)
def test_the_spans_workers_read_end_at_record_boundaries(
    tmp_path_factory: Any, records: list[list[str]], chunk_bytes: int
) -> None:
    """The pieces the main process hands to the workers (offset, length, first line) cover the
    data, each holds whole records (a quoted line break never cut), and the line numbers
    are where the pieces start, as `iter_chunks` gives them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["h1", "h2"])
    writer.writerows(records)
    data = out.getvalue().encode()
    start = len(b"h1,h2\n")
    path = tmp_path_factory.mktemp("spans") / "f.csv"
    path.write_bytes(data)
    with path.open("rb") as fh:
        spans = list(iter_spans(fh, start=start, quotechar='"', chunk_bytes=chunk_bytes))
    with path.open("rb") as fh:
        chunks = list(iter_chunks(fh, start=start, quotechar='"', chunk_bytes=chunk_bytes))
    at = start
    read: list[list[str]] = []
    for offset, length, line, quotes, breaks in spans:
        assert offset == at and length > 0
        assert line == 2 + data[start:offset].count(b"\n")
        assert quotes == data[offset : offset + length].count(b'"')
        assert breaks == data[offset : offset + length].count(b"\n")
        piece = data[offset : offset + length].decode()
        read.extend(csv.reader(io.StringIO(piece, newline="")))
        at += length
    assert at == len(data)
    assert read == list(csv.reader(io.StringIO(data[start:].decode(), newline="")))
    # The same data as the pieces the inline parse reads.
    assert b"".join(c for c, _span in chunks) == data[start:]
    assert [span for _c, span in chunks] == spans


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=64) | st.text(max_size=32).map(lambda t: t.encode("latin-1", "replace"))
)
def test_a_cp1252_chunk_decodes_as_the_cp1252_codec_does(data: bytes) -> None:
    """The latin-1 shortcut for cp1252 chunks gives the cp1252 codec's text, or its error."""
    try:
        expected: str | None = data.decode("cp1252")
    except UnicodeDecodeError:
        expected = None
    try:
        got: str | None = _decode(data, "cp1252", True)
    except UnicodeDecodeError:
        got = None
    assert got == expected


def test_the_direct_loads_public_ids_are_random_version_4_uuids() -> None:
    assert new_uuids(0) == [] and len(new_uuids(1)[0]) == 32
    ids = new_uuids(20_000)
    assert len(ids) == 20_000
    parsed = [uuid.UUID(text) for text in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(u.hex == text for u, text in zip(parsed, ids, strict=True))
    assert len(set(ids)) == len(ids)
    # The other bits are left random: every hex digit shows up at every free position.
    free = [i for i in range(32) if i not in (12, 16)]
    assert all(len({text[i] for text in ids}) == 16 for i in free)


_TEXT = st.text(
    alphabet=st.sampled_from(["a", "É", " ", "\t", '"', "\\", "€", "x", "1", "-"]), max_size=8
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    values=st.lists(
        st.tuples(
            _TEXT,  # first name (limit 100)
            st.one_of(_TEXT, st.just("long " * 30)),  # postcode (limit 32)
            _TEXT,  # custom "team"
            st.one_of(_TEXT, st.sampled_from(["A", "B", ""])),  # custom "zz" (a code)
            _TEXT,  # custom "b" (the shortest key)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_text_columns_and_custom_fields_are_each_value_stripped_and_cut(
    values: list[tuple[str, str, str, str, str]],
) -> None:
    """The column-wise builders give, value by value, what the rule says: stripped, cut to
    the field's length, an empty value left NULL; custom fields one JSON object per row with
    the non-empty values (cut to 1,000), its keys in jsonb's order (shorter first)."""
    header = ["first", "post", "team", "zz", "b"]
    mapping = {
        "first": "first_name",
        "post": "postcode",
        "team": "custom:team",
        "zz": "custom:zz",
        "b": "custom:b",
    }
    cfg = _cfg("direct", header=header, mapping=mapping, delimiter=";")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    rows_in = [(f"N{i}{first}", *rest) for i, (first, *rest) in enumerate(values)]
    writer.writerows(rows_in)
    out = process_chunk(_Plan(cfg), buffer.getvalue().encode(), 2)
    cols = out.main
    first_at, post_at, custom_at = (
        PEOPLE_COLUMNS.index(name) for name in ("first_name", "postcode", "custom_fields")
    )
    assert cols[first_at] == [row[0].strip()[:100] or None for row in rows_in]
    assert cols[post_at] == [row[1].strip()[:32] or None for row in rows_in]
    for row, text in zip(rows_in, cols[custom_at] or [None] * len(rows_in), strict=True):
        expected = {
            key: value.strip()[:1000]
            for key, value in zip(("team", "zz", "b"), row[2:], strict=True)
            if value.strip()
        }
        if not expected:
            assert text is None
            continue
        assert json.loads(text) == expected
        assert list(json.loads(text)) == sorted(expected, key=lambda key: (len(key), key))


def test_the_byte_counts_of_a_piece_are_trusted_only_where_bytes_are_characters() -> None:
    """A worker takes the main process's counts of quote and line break bytes as the counts
    of those characters only for an ASCII quote in UTF-8 or a one-byte ASCII-based encoding."""
    for encoding in ("utf-8", "latin-1", "cp1252", "iso8859-15"):
        assert _Plan(_cfg(encoding=encoding)).byte_counts, encoding
    for encoding in ("utf-16", "shift_jis", "cp500"):
        assert not _Plan(_cfg(encoding=encoding)).byte_counts, encoding
    assert not _Plan(_cfg(quotechar="«", encoding="latin-1")).byte_counts


_PLAIN = st.text(alphabet="ab é1@- ", max_size=6)  # no quote, delimiter or line break


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(min_value=2, max_value=6),
    data=st.data(),
    delimiter=st.sampled_from([",", "\t"]),
    quoting=st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_NONE]),
    terminator=st.sampled_from(["\r\n", "\n"]),
    final_break=st.booleans(),
)
def test_a_chunk_of_regular_lines_is_split_once_and_read_by_column_as_csv_reads_it(
    width: int,
    data: st.DataObject,
    delimiter: str,
    quoting: int,
    terminator: str,
    final_break: bool,
) -> None:
    """Every line of the header's width, every value quoted or none: the chunk is split once
    on the separator and each column, the first and last included, is what csv.reader reads."""
    records = data.draw(
        st.lists(st.lists(_PLAIN, min_size=width, max_size=width), min_size=1, max_size=12)
    )
    text = _render(records, delimiter=delimiter, quoting=quoting, terminator=terminator)
    if not final_break:
        text = text[: -len(terminator)]
    header = [f"c{i}" for i in range(width)]
    flat = _flat_rows(_Plan(_cfg(header=header, mapping={}, delimiter=delimiter)), text, None)
    assert flat is not None and len(flat) == len(records)
    expected = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert [flat.column(i) for i in range(width)] == [list(c) for c in zip(*expected, strict=True)]


def test_a_chunk_with_an_irregular_line_is_not_split_at_once() -> None:
    """Each of these leaves the chunk to the line-by-line split (or csv.reader), which reports
    the line or reads the value; never to a split that would shift the columns."""
    good = [_row(i) for i in range(6)]
    cases = {
        "one value more, then one less": [*good[:2], [*good[2], "x"], good[3][:-1], *good[4:]],
        "one value less": [*good[:3], good[3][:-1], *good[4:]],
        "the last line one value more": [*good[:5], [*good[5], "x"]],
        "the last line one value less": [*good[:5], good[5][:-1]],
        # Together as many values as two lines, the line breaks in the wrong places.
        "one value, then two lines' less one": [*good[:2], ["E2"], [*good[3], *good[4][1:]]],
        "a quote inside a value": [*good[:3], _row(3, name='Ana "Nita"'), *good[4:]],
        # Two quotes more, two fewer: the quotes add up, only the number of values tells.
        "a quote inside a value, the last line one value less": [
            good[0],
            _row(1, name='Ana"'),
            *good[2:5],
            good[5][:-1],
        ],
        "a line break inside a value": [*good[:3], _row(3, city="Porto\nNorte"), *good[4:]],
        "a value too long": [*good[:3], _row(3, team="x" * 10_001), *good[4:]],
    }
    plan = _Plan(_cfg(delimiter="\t"))
    for case, records in cases.items():
        quotings = [csv.QUOTE_ALL] if "inside" in case else [csv.QUOTE_ALL, csv.QUOTE_NONE]
        for quoting in quotings:
            text = _render(records, delimiter="\t", quoting=quoting, terminator="\r\n")
            assert _flat_rows(plan, text, None) is None, (case, quoting)
            fast, slow, _split = _both_ways(_cfg(delimiter="\t"), text.encode())
            assert fast == slow, (case, quoting)
    blank = "\n".join(",".join(r) for r in good[:2]) + "\n\n" + ",".join(good[2]) + "\n"
    assert _flat_rows(_Plan(_cfg()), blank, None) is None
    text = _render(good, delimiter="\t", quoting=csv.QUOTE_ALL, terminator="\r\n")
    assert _flat_rows(plan, text, None) is not None  # the same lines, regular


def test_the_one_split_is_chosen_where_it_is_the_cheaper() -> None:
    """It makes a string of every value of a line: for a wide file read in its first few
    columns the line split, which stops at the last column read, is cheaper."""
    header = [f"c{i}" for i in range(67)]
    targets = ["first_name", "last_name", "street", "city", "postcode", "email", "external_id"]
    few = dict(zip(header[:7], targets, strict=True))
    assert not _Plan(_cfg(header=header, mapping=few)).flat
    many = {**few, **{header[i]: f"custom:f{i}" for i in range(7, 36)}}
    assert _Plan(_cfg(header=header, mapping=many)).flat
    assert _Plan(_cfg()).flat  # every column of a narrow file read

"""Bad input gives a clear error and changes nothing: encodings, headers, ragged rows, huge
fields, binary junk, empty files. Good input in any delimiter and quoting is read right."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from mobiliza.people.imports import services
from mobiliza.people.imports.reader import detect_format
from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import run_import, write_file

pytestmark = pytest.mark.django_db


def _create_error(org: Any, path: Path, **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as info:
        services.import_job_create(organization=org, actor=None, path=path, **kwargs)
    assert not ImportJob.objects.filter(organization=org).exists()
    return " ".join(info.value.messages)


def _report_rows(job: ImportJob) -> list[list[str]]:
    with job.error_report.open("rb") as fh:
        return list(csv.reader(io.StringIO(fh.read().decode("utf-8"))))


def test_empty_file(org: Any, tmp_path: Path) -> None:
    assert "The file is empty." in _create_error(org, write_file(tmp_path, "e.csv", ""))
    assert "The file is empty." in _create_error(org, write_file(tmp_path, "s.csv", " \n\n"))


def test_header_without_rows(org: Any, tmp_path: Path) -> None:
    message = _create_error(org, write_file(tmp_path, "h.csv", "first_name,last_name\n"))
    assert "header row but no data rows" in message


def test_header_is_required(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "n.csv", "Ana,Silva,912345678\nRui,Costa,913456789\n")
    assert "looks like data" in _create_error(org, path)
    path = write_file(tmp_path, "d.csv", "name,,phone\nAna,x,912345678\n")
    assert "Column 2 has no name" in _create_error(org, path)
    path = write_file(tmp_path, "t.csv", "name,phone,name\nAna,912345678,x\n")
    assert "appears twice" in _create_error(org, path)


def test_binary_junk(org: Any, tmp_path: Path) -> None:
    rng = random.Random(7)
    junk = bytes(rng.randrange(256) for _ in range(5000))
    assert "not a text file" in _create_error(org, write_file(tmp_path, "j.csv", junk))
    no_nul = bytes(rng.randrange(1, 32) for _ in range(5000))
    assert "not a text file" in _create_error(org, write_file(tmp_path, "k.csv", no_nul))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + junk
    assert "not a text file" in _create_error(org, write_file(tmp_path, "p.csv", png))


def test_utf16_is_refused_with_advice(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "u.csv", "\ufefffirst_name\nAna\n", encoding="utf-16-le")
    assert "UTF-16" in _create_error(org, path)


def test_latin1_is_detected_and_read(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path, "l.csv", "first_name;last_name\nJoão;Conceição\nFrançois;Lefèvre\n", "latin-1"
    )
    job = run_import(org, path)
    assert job.encoding == "cp1252" and job.delimiter == ";"
    assert set(Person.objects.values_list("first_name", "last_name")) == {
        ("João", "Conceição"),
        ("François", "Lefèvre"),
    }


def test_utf8_with_bom_is_read(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "b.csv", "\ufefffirst_name,last_name\nInês,Sá\n")
    job = run_import(org, path)
    assert job.encoding == "utf-8-sig"
    assert Person.objects.get().first_name == "Inês"
    assert job.mapping == {"first_name": "first_name", "last_name": "last_name"}


def test_wrong_encoding_chosen_is_refused(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "w.csv", "first_name\nJoão\n", "latin-1")
    message = _create_error(org, path, encoding="utf-8")
    assert "not valid UTF-8" in message and "line 2" in message


def test_wrong_encoding_late_in_the_file_fails_the_import_and_changes_nothing(
    org: Any, tmp_path: Path
) -> None:
    pad = "x" * 50
    good = "".join(f"Ana{i},Silva,{pad}\n" for i in range(25_000)).encode()
    # The bad byte comes after the 1 MB sample used to detect the encoding.
    content = b"first_name,last_name,notes\n" + good + "Jo\xe3o,Bad,x\n".encode("latin-1")
    path = write_file(tmp_path, "late.csv", content)
    job = run_import(org, path, chunk_bytes=64 * 1024)
    assert job.status == ImportJob.Status.FAILED
    assert "Line 25002" in job.error_message and "not valid UTF-8" in job.error_message
    assert "Nothing was changed" in job.error_message
    assert not Person.objects.filter(organization=org).exists()
    tables = connection.introspection.table_names()
    assert not [t for t in tables if t.startswith("imp_stage_")]


def test_missing_required_columns_of_a_preset(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "m.tsv", '"last_name"\t"first_name"\n"SMITH"\t"ANN"\n')
    message = _create_error(org, path, preset="ncvoter", person_list="electors")
    assert "preset “ncvoter” needs" in message
    assert "ncid" in message and "zip_code" in message


def test_a_mapping_without_any_identity_is_refused(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "x.csv", "colour,size\nred,L\n")
    job = services.import_job_create(organization=org, actor=None, path=path)
    with pytest.raises(ValidationError) as info:
        services.import_job_configure(job=job, mapping={"colour": "custom:colour"})
    assert "at least one column to a name" in info.value.messages[0]
    with pytest.raises(ValidationError) as info:
        services.import_job_configure(job=job, mapping={"colour": "password"})
    assert "not something a column can be imported into" in info.value.messages[0]


def test_ragged_rows_are_reported_and_the_rest_imported(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "r.csv",
        "first_name,last_name,phone\nAna,Silva,912345678\nRui,Costa\nEva,Lima,913,extra\n"
        "Zé,Dias,914345678\n",
    )
    job = run_import(org, path)
    assert job.status == ImportJob.Status.DONE
    assert job.counts["created"] == 2 and job.counts["errors"] == 2
    rows = _report_rows(job)
    assert rows[0] == ["row", "column", "reason"]
    assert rows[1] == ["3", "", "This row has 2 fields; the header has 3."]
    assert rows[2] == ["4", "", "This row has 4 fields; the header has 3."]


def test_a_one_megabyte_field_is_refused_for_its_row_only(org: Any, tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    path = write_file(
        tmp_path,
        "big.csv",
        f'first_name,notes\nAna,short\nRui,"{huge}"\nEva,fine\n',
    )
    job = run_import(org, path)
    assert job.status == ImportJob.Status.DONE
    assert job.counts["created"] == 2 and job.counts["errors"] == 1
    rows = _report_rows(job)
    assert rows[1][:2] == ["3", "notes"]
    assert "1000000 characters long; the limit is 10000" in rows[1][2]
    assert set(Person.objects.values_list("first_name", flat=True)) == {"Ana", "Eva"}


@pytest.mark.parametrize("workers", [1, 2])  # the inline parse, and the pieces for workers
def test_an_unclosed_quote_is_a_clear_error(org: Any, tmp_path: Path, workers: int) -> None:
    body = "".join(f"P{i},x\n" for i in range(10))
    rest = "Q,y\n" * 4_500_000
    path = write_file(tmp_path, "q.csv", f'first_name,notes\n{body}Ana,"open\n{rest}')
    job = run_import(org, path, workers=workers)
    assert job.status == ImportJob.Status.FAILED
    assert "never closes" in job.error_message
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("first_name,last_name\nAna,Silva\n", ","),
        ("first_name;last_name\r\nAna;Silva\r\n", ";"),
        ("first_name\tlast_name\nAna\tSilva\n", "\t"),
        ("first_name|last_name\nAna|Silva\n", "|"),
        ('"first_name","last_name"\n"Ana","Silva"\n', ","),
        ("'first_name';'last_name'\n'Ana';'Silva'\n", ";"),
    ],
)
def test_delimiters_and_quoting_are_detected(
    org: Any, tmp_path: Path, content: str, delimiter: str
) -> None:
    job = run_import(org, write_file(tmp_path, "d.csv", content))
    assert job.delimiter == delimiter
    person = Person.objects.get()
    assert (person.first_name, person.last_name) == ("Ana", "Silva")


def test_quoted_values_with_delimiters_and_newlines(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "q.csv",
        'first_name,last_name,notes\nAna,Silva,"likes, commas\nand ""quotes"""\nRui,Costa,x\n'
        "Eva,Lima,\\back\\slash\ttab\n",
    )
    job = run_import(org, path)
    assert job.counts["created"] == 3, job.counts
    assert Person.objects.get(first_name="Ana").notes == 'likes, commas\nand "quotes"'
    assert Person.objects.get(first_name="Eva").notes == "\\back\\slash\ttab"


def test_detect_format_previews_first_rows(tmp_path: Path) -> None:
    path = write_file(tmp_path, "p.csv", "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50)))
    fmt = detect_format(path)
    assert fmt.header == ["a", "b"]
    assert fmt.preview[:2] == [["0", "0"], ["1", "2"]] and len(fmt.preview) == 5

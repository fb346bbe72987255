"""The fast paths of the import keep every value as it was in the file: COPY text built for a
whole chunk at once (escaping only when a value needs it), the staging custom fields as JSON,
the later-row-wins by hash aggregate, and (bulk mode) the ids in file order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mobiliza.people.imports import engine
from mobiliza.people.imports.rows import _copy_line, _copy_lines
from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import run_import, write_file

pytestmark = pytest.mark.django_db


def test_copy_text_of_a_chunk_is_the_row_by_row_text() -> None:
    clean = [[1, "Ana", None, True, 2.5], [2, "Rui", "x", False, None]]
    special = [*clean, [3, "a\\N", "tab\there", None, "line\nbreak\r"]]
    for rows in (clean, special, [[4, "\\", None, None, None]]):
        assert _copy_lines(rows) == "".join(_copy_line(r) + "\n" for r in rows)
    assert _copy_lines(clean) == "1\tAna\t\\N\tt\t2.5\n2\tRui\tx\tf\t\\N\n"
    assert _copy_lines([]) == ""


def test_values_with_copy_special_characters_arrive_unchanged(org: Any, tmp_path: Path) -> None:
    content = (
        "id,first_name,last_name,notes,shirt\n"
        '1,Ana,"Back\\slash","two\nlines","say ""hi"" \\o/"\n'
        '2,Rui,\\N,"a\ttab",plain\n'
        '3,Eva,Costa,"c\rr",x\n'
    )
    path = write_file(tmp_path, "special.csv", content)
    job = run_import(
        org,
        path,
        mapping={
            "id": "external_id",
            "first_name": "first_name",
            "last_name": "last_name",
            "notes": "notes",
            "shirt": "custom:shirt",
        },
    )
    assert job.status == ImportJob.Status.DONE, job.error_message
    ana = Person.objects.get(organization=org, external_id="1")
    assert (ana.last_name, ana.notes) == ("Back\\slash", "two\nlines")
    assert ana.custom_fields == {"shirt": 'say "hi" \\o/'}
    rui = Person.objects.get(organization=org, external_id="2")
    assert (rui.last_name, rui.notes, rui.custom_fields) == ("\\N", "a\ttab", {"shirt": "plain"})
    assert Person.objects.get(organization=org, external_id="3").notes == "c\rr"


def test_later_rows_win_per_key_and_per_matched_person(org: Any, tmp_path: Path) -> None:
    first = "id,first_name,phone\n1,Ana,912345678\n2,Rui,913333333\n"
    assert run_import(org, write_file(tmp_path, "a.csv", first)).counts["created"] == 2
    # Three rows of id 1, and two new ids whose phones point at the stored Rui.
    again = "id,first_name,phone\n1,A1,\n1,A2,\n9,R1,913333333\n1,A3,\n8,R2,913333333\n7,New,\n"
    job = run_import(org, write_file(tmp_path, "b.csv", again), match=["external_id", "phone"])
    assert job.counts["duplicate"] == 3 and job.counts["updated"] == 2
    assert job.counts["created"] == 1
    names = dict(Person.objects.filter(organization=org).values_list("external_id", "first_name"))
    assert names == {"1": "A3", "8": "R2", "7": "New"}  # the mapped id is updated too


def test_bulk_ids_follow_the_file(org: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(engine, "BULK_MIN_RATIO", 0.0)
    rows = "".join(
        f"{i},{name},Silva\n" for i, name in enumerate(["Zé", "Ana", "Zé", "Bia", "Ana"])
    )
    job = run_import(org, write_file(tmp_path, "c.csv", "id,first_name,last_name\n" + rows))
    assert job.status == ImportJob.Status.DONE, job.error_message
    by_id = Person.objects.filter(organization=org).order_by("id")
    assert list(by_id.values_list("external_id", flat=True)) == ["0", "1", "2", "3", "4"]
    # Same names keep the file order in the default (name, id) ordering.
    ordered = Person.objects.filter(organization=org)
    assert list(ordered.values_list("external_id", flat=True)) == ["1", "4", "3", "0", "2"]


def test_a_repeated_number_is_read_in_each_row_s_country(org: Any, tmp_path: Path) -> None:
    content = "id,phone,country\n1,912345678,PT\n2,912345678,US\n3,912345678,PT\n"
    job = run_import(org, write_file(tmp_path, "d.csv", content), match=["external_id"])
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["invalid_phones"] == 1
    phones = {
        p.external_id: [(x.e164, x.is_valid) for x in p.phones.all()]
        for p in Person.objects.filter(organization=org).prefetch_related("phones")
    }
    assert phones["1"] == phones["3"] == [("+351912345678", True)]
    assert phones["2"] == [("", False)]


def test_sqlite_rows_carry_only_the_columns_the_mapping_fills() -> None:
    from mobiliza.people.imports.rows import ParseConfig, _Plan, process_chunk

    header = ["id", "name", "mail", "ok"]
    cfg = ParseConfig(
        kind="people",
        header=header,
        mapping={"id": "external_id", "name": "full_name", "mail": "email", "ok": "consent_sms"},
        encoding="utf-8",
        delimiter=",",
        quotechar='"',
        region="PT",
        default_tz="",
        output="rows",
    )
    out = process_chunk(_Plan(cfg), b"7,Ana Silva,ANA@X.PT,no\n", 2)
    assert out.main_columns is not None and "notes" not in out.main_columns
    (row,) = out.main
    values = dict(zip(out.main_columns, row, strict=True))
    assert values["external_id"] == "7" and values["email"] == "ana@x.pt"
    assert (values["first_name"], values["last_name"], values["consent_sms"]) == (
        "Ana",
        "Silva",
        False,
    )

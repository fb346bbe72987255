"""Bulk mode (a load large relative to the people stored): the secondary indexes (and on
PostgreSQL the foreign keys and unique constraints) of people, phones and households are
dropped for the inserts and built again in the same transaction. Same result, same schema after,
and a failure rolls the definitions back with the rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from mobiliza.people.imports import engine
from mobiliza.people.models import Household, ImportJob, Person, PersonPhone
from mobiliza.people.tests.importing import run_import, write_file

pytestmark = pytest.mark.django_db

TABLES = ("people_person", "people_personphone", "people_household")


def _schema() -> dict[str, Any]:
    with connection.cursor() as cursor:
        return {
            table: sorted(
                (name, tuple(c["columns"]), c["unique"], c["index"], c["primary_key"],
                 bool(c["foreign_key"]))
                for name, c in connection.introspection.get_constraints(cursor, table).items()
            )
            for table in TABLES
        }  # fmt: skip


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every import runs in bulk mode; records whether it did."""
    used: list[bool] = []
    original = engine._BulkMode.wanted

    def wanted(cur: Any, new_rows: int) -> bool:
        used.append(original(cur, new_rows))
        return used[-1]

    monkeypatch.setattr(engine, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(engine, "BULK_MIN_RATIO", 0.0)
    monkeypatch.setattr(engine._BulkMode, "wanted", staticmethod(wanted))
    return used


def _file(tmp_path: Path, rows: int, name: str = "p.csv", extra: str = "") -> Path:
    lines = "".join(
        f"{i},Name{i},91{i % 5000:07d},Rua {i % 300} {i % 7},{1000 + i % 50}-001\n"
        for i in range(rows)
    )
    return write_file(tmp_path, name, "id,first_name,phone,street,postcode\n" + lines + extra)


def test_a_bulk_load_gives_the_same_people_and_the_same_schema(
    org: Any, tmp_path: Path, bulk: list[bool]
) -> None:
    before = _schema()
    job = run_import(org, _file(tmp_path, 3000, extra="1,Last,,,\n"))
    assert bulk == [True]
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["created"] == 3000 and job.counts["duplicate"] == 1
    assert Person.objects.get(external_id="1").first_name == "Last"
    assert Person.objects.get(external_id="2999").phones.get().e164 == "+351910002999"
    assert PersonPhone.objects.filter(organization=org).count() == 2999
    households = Household.objects.filter(organization=org)
    assert job.counts["households_created"] == households.count() > 0
    homeless = Person.objects.filter(organization=org, household__isnull=True)
    assert list(homeless.values_list("external_id", flat=True)) == ["1"]  # no street
    assert _schema() == before
    # A second, smaller file updating half of them: matched, phones added, still one schema.
    again = run_import(
        org, _file(tmp_path, 1500, name="q.csv", extra="9999,New,919999999,Rua Z 1,2000-001\n")
    )
    assert again.counts["updated"] == 1500 and again.counts["created"] == 1
    assert _schema() == before


def test_a_failed_bulk_load_leaves_rows_and_schema_as_they_were(
    org: Any, tmp_path: Path, bulk: list[bool]
) -> None:
    before = _schema()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION imp_bulk_fail() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER imp_bulk_fail BEFORE INSERT ON people_personphone "
                "FOR EACH ROW EXECUTE FUNCTION imp_bulk_fail()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER imp_bulk_fail BEFORE INSERT ON people_personphone "
                "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
            )
    job = run_import(org, _file(tmp_path, 500))
    assert bulk == [True]
    assert job.status == ImportJob.Status.FAILED and "Nothing was changed" in job.error_message
    assert not Person.objects.filter(organization=org).exists()
    assert not Household.objects.filter(organization=org).exists()
    assert _schema() == before


def test_bulk_mode_turned_off_loads_with_the_indexes_in_place(
    org: Any, tmp_path: Path, bulk: list[bool], settings: Any
) -> None:
    """IMPORT_BULK_MODE=0 (a shared instance): a load that would be bulk goes the general way,
    with the same people, and never drops an index or a constraint."""
    settings.IMPORT_BULK_MODE = False
    before = _schema()
    dropped: list[str] = []

    def record(execute: Any, statement: str, *args: Any) -> Any:
        if "DROP INDEX" in statement.upper() or "DROP CONSTRAINT" in statement.upper():
            dropped.append(statement)
        return execute(statement, *args)

    with connection.execute_wrapper(record):
        job = run_import(org, _file(tmp_path, 3000, extra="1,Last,,,\n"))
    assert dropped == []
    assert bulk and not any(bulk)
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["created"] == 3000 and job.counts["duplicate"] == 1
    assert Person.objects.get(external_id="1").first_name == "Last"
    assert PersonPhone.objects.filter(organization=org).count() == 2999
    assert _schema() == before


def test_small_loads_into_a_big_table_are_not_bulk(org: Any, tmp_path: Path) -> None:
    with connection.cursor() as cursor:
        assert not engine._BulkMode.wanted(cursor, 10)  # below BULK_MIN_ROWS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_a_bulk_load_leaves_the_tables_analyzed_from_a_smaller_sample(
    org: Any, tmp_path: Path, bulk: list[bool]
) -> None:
    """The planner has statistics for the loaded tables at COMMIT, taken with the bulk
    target (autovacuum takes the full ones after: the load's rows count as changes)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_statistics_target")
        default = cursor.fetchone()[0]
    job = run_import(org, _file(tmp_path, 12_000))
    assert bulk == [True] and job.status == ImportJob.Status.DONE, job.error_message
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, count(*) FROM pg_stats WHERE tablename = ANY(%s) GROUP BY 1",
            [list(TABLES)],
        )
        assert {table for table, columns in cursor.fetchall() if columns} == set(TABLES)
        # The histogram of a column of distinct values has (target + 1) bounds.
        cursor.execute(
            "SELECT array_length(histogram_bounds::text::text[], 1) FROM pg_stats "
            "WHERE tablename = 'people_person' AND attname = 'first_name'"
        )
        assert cursor.fetchone()[0] == engine.BULK_STATISTICS_TARGET + 1
        cursor.execute("SHOW default_statistics_target")
        assert cursor.fetchone()[0] == default

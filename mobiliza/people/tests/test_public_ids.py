"""Public ids given in SQL by the set-based inserts (imports, households, elections) are real
RFC 4122 UUIDs on both databases: version 4 (random) or 7 (time-ordered, the import's general
path on PostgreSQL), with the RFC's variant bits, as the ORM's `uuid.uuid4()` ids are. An API
client that validates the UUIDs it is given accepts them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from mobiliza.core.sql import random_uuid_sql
from mobiliza.people.imports import engine
from mobiliza.people.models import Election, Household, ImportJob, Person
from mobiliza.people.tests.importing import ncvhis_file, run_import, write_file

pytestmark = pytest.mark.django_db


def _is_rfc(value: uuid.UUID, versions: set[int]) -> bool:
    return value.variant == uuid.RFC_4122 and value.version in versions


def test_the_databases_random_uuids_are_version_4() -> None:
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
    sql = f"{numbers} SELECT {random_uuid_sql()} FROM n"  # noqa: S608 - our own expression
    with connection.cursor() as cursor:
        cursor.execute(sql)
        raw = [row[0] for row in cursor.fetchall()]
    values = [v if isinstance(v, uuid.UUID) else uuid.UUID(hex=v) for v in raw]
    assert len(set(values)) == 2000
    assert all(_is_rfc(v, {4}) for v in values)
    if connection.vendor == "sqlite":  # stored as Django stores a UUIDField there
        assert all(len(v) == 32 and v == v.lower() for v in raw)
    # All four variants (8, 9, a, b) come up, and the random digits are not fixed.
    assert {v.hex[16] for v in values} == set("89ab")
    assert len({v.hex[:12] for v in values}) == 2000
    # No percent sign: the statements that use it have parameters (`%s`), and Django's debug
    # log formats the SQL with them.
    assert "%" not in random_uuid_sql()


def test_imported_people_households_and_elections_get_rfc_uuids(
    org: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.DEBUG = True  # every statement also goes through Django's debug log, as in `make run`
    # The general path (staging tables, ids given in SQL), not the direct load's Python ids.
    monkeypatch.setattr(engine, "direct_wanted", lambda **_kwargs: False)
    rows = "".join(f"N{i},Ana{i},Rua {i % 7},1100-00{i % 3}\n" for i in range(60))
    path = write_file(tmp_path, "p.csv", "id,first_name,street,postcode\n" + rows)
    job = run_import(org, path, person_list="electors")
    assert job.status == ImportJob.Status.DONE, job.error_message
    people = list(Person.objects.filter(organization=org).values_list("public_id", flat=True))
    homes = list(Household.objects.filter(organization=org).values_list("public_id", flat=True))
    assert len(people) == 60 and len(homes) == 21
    assert all(_is_rfc(v, {4, 7}) for v in [*people, *homes])

    history = ncvhis_file(
        [{"ncid": f"N{i}", "election_lbl": f"11/0{i}/2024", "election_desc": "GENERAL"}
         for i in range(1, 4)]
    )  # fmt: skip
    path = write_file(tmp_path, "h.txt", history, encoding="latin-1")
    job = run_import(org, path, kind=ImportJob.Kind.VOTING_HISTORY, preset="ncvhis")
    assert job.status == ImportJob.Status.DONE, job.error_message
    elections = list(Election.objects.filter(organization=org).values_list("public_id", flat=True))
    assert len(elections) == 3
    assert all(_is_rfc(v, {4}) for v in elections)

"""SQLite imports run with a bigger page cache, and give the connection back as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from mobiliza.people.imports import engine, services
from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import write_file

pytestmark = pytest.mark.django_db


def _cache_size() -> int:
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        return int(cur.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a SQLite connection setting")
def test_the_import_grows_the_cache_and_restores_it(org: Any, tmp_path: Path) -> None:
    before = _cache_size()
    assert before != -engine.SQLITE_IMPORT_CACHE_KIB
    seen: list[int] = []
    path = write_file(tmp_path, "people.csv", "first_name,last_name\nAna,Silva\nRui,Costa\n")
    job = services.import_job_create(
        organization=org, actor=None, kind=ImportJob.Kind.PEOPLE, person_list="contacts", path=path
    )
    # The progress callback runs inside the import, on its connection: it sees the setting.
    job = services.import_job_run(
        job_id=job.pk, workers=1, progress=lambda *_: seen.append(_cache_size())
    )
    assert job.status == ImportJob.Status.DONE
    assert Person.objects.filter(organization=org).count() == 2
    assert seen and set(seen) == {-engine.SQLITE_IMPORT_CACHE_KIB}
    assert _cache_size() == before


def test_postgresql_has_nothing_to_change() -> None:
    if connection.vendor == "sqlite":
        previous = engine.sqlite_cache_grow()
        assert previous is not None and _cache_size() == -engine.SQLITE_IMPORT_CACHE_KIB
        engine.sqlite_cache_restore(previous)
        assert _cache_size() == previous
    else:
        assert engine.sqlite_cache_grow() is None

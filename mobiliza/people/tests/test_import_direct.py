"""The direct load (PostgreSQL, a big load into an empty list: people COPYed straight into their
table, `imports/direct.py`) gives what the general path (staging tables + set-based apply) gives
for the same file: the same people, phones, households, tags, custom fields, counts and error
report; a failure leaves nothing; a list that has people goes the general way."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from mobiliza.accounts.tests.factories import OrganizationFactory
from mobiliza.people.imports import engine
from mobiliza.people.models import Household, ImportJob, Person, PersonPhone, PersonTag
from mobiliza.people.tests.importing import run_import, write_file

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the direct load is PostgreSQL's"),
]

HEADER = "id,first_name,last_name,phone,phone2,street,postcode,city,tags,team,birth_year,notes\n"


def _content(rows: int = 400, near: bool = False) -> str:
    lines = [HEADER]
    for i in range(rows):
        if near and i % 10 == 9 and i > 40:
            # The id of a row 35 rows back, with another name, phone and address: in the same
            # chunk or the one before (never written) or farther (written, then deleted).
            j = i - 35
            lines.append(f"E{j},Near{i},Reis,93{i:07d},,Rua Near {i},3000-001,Braga,vol,T1,1990,\n")
            continue
        street = f"Rua {i % 60} {i % 7}" if i % 11 else ""  # some without an address
        phone = f"91{i % 3000:07d}" if i % 4 else ("12345" if i % 8 else "")
        phone2 = f"21{i:07d}" if i % 5 == 0 else ""
        tags = "vol;donor" if i % 6 == 0 else ("vol" if i % 9 == 0 else "")
        lines.append(
            f"E{i},Ana{i},Silva,{phone},{phone2},{street},{1000 + i % 40}-001,Porto,"
            f"{tags},T{i % 3},{1950 + i % 50},\n"
        )
    # Later rows win: an id repeated with another name and address, and a repeated phone.
    lines.append("E5,Later,Costa,919999999,,Rua Nova 1,2000-001,Lisboa,vol,T9,1980,\n")
    lines.append("E7,Again,Costa,,,,,,,,,\n")
    # Values COPY must escape: a backslash, a tab and a line break inside quotes.
    lines.append(
        'E900,"Back\\slash","Tab\there, ""quoted""","Two\nlines",,Rua X 9,1000-001,Porto,,,,'
        '"a\\b\nc,d"\n'
    )
    # Field problems are reported and the row kept; a row without identity is rejected.
    lines.append("E901,Bad,Year,,,Rua Y,1000-001,Porto,,,18,\n")
    lines.append(",,,,,,,,,,,\n")
    return "".join(lines)


MAPPING = {
    "id": "external_id",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone",
    "phone2": "phone",
    "street": "street",
    "postcode": "postcode",
    "city": "city",
    "tags": "tags",
    "team": "custom:team",
    "birth_year": "birth_year",
    "notes": "notes",
}


@pytest.fixture
def direct_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test-sized files count as big loads."""
    monkeypatch.setattr(engine, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(engine, "BULK_MIN_RATIO", 0.0)


def _snapshot(org: Any) -> dict[str, Any]:
    people = {}
    skip = {"id", "public_id", "created_at", "updated_at", "organization", "household"}
    for person in Person.objects.filter(organization=org).select_related("household"):
        values = {
            f.name: getattr(person, f.attname)
            for f in Person._meta.concrete_fields
            if f.name not in skip
        }
        values["household"] = person.household.address_key if person.household else None
        values["phones"] = sorted(
            person.phones.values_list("raw", "e164", "kind", "is_valid", "position")
        )
        values["tags"] = sorted(
            PersonTag.objects.filter(person=person).values_list("tag__name", flat=True)
        )
        people[person.external_id] = values
    households = sorted(
        Household.objects.filter(organization=org).values_list("address_key", "postcode", "city")
    )
    return {"people": people, "households": households}


def _column_defaults() -> list[tuple[str, str, str]]:
    """The column defaults of people, phones and households (the load changes them for its
    time only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attrdef d
               JOIN pg_class c ON c.oid = d.adrelid
               JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
               WHERE c.relname IN ('people_person', 'people_personphone', 'people_household')
               ORDER BY 1, 2"""
        )
        return cursor.fetchall()


def _report(job: ImportJob) -> list[list[str]]:
    with job.error_report.open("rb") as fh:
        return list(csv.reader(fh.read().decode("utf-8").splitlines()))


# One chunk (a key repeated in the chunk: the row-by-row later-row-wins), and small chunks (each
# key once in a chunk, the earlier row in an earlier one: the set-wise way).
# With repeats near each other too: chunks of ~40 rows put a repeat in the same chunk, the one
# before (held back from the COPY: dropped) or farther (written: deleted at the end).
# The last case in two worker processes (they read their chunks from the file themselves).
@pytest.mark.parametrize(
    ("chunk_bytes", "near", "workers"),
    [(None, False, 1), (2_000, False, 1), (2_000, True, 1), (None, True, 1), (2_000, True, 2)],
)
def test_the_direct_load_gives_what_the_general_path_gives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk_bytes: int | None,
    near: bool,
    workers: int,
) -> None:
    content = _content(near=near)
    general_org, direct_org = OrganizationFactory(), OrganizationFactory()
    # The general path: a load too small for bulk (the default thresholds).
    general = run_import(
        general_org, write_file(tmp_path, "a.csv", content), mapping=MAPPING, match=["external_id"]
    )
    monkeypatch.setattr(engine, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(engine, "BULK_MIN_RATIO", 0.0)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    defaults = _column_defaults()
    loaded = run_import(
        direct_org,
        write_file(tmp_path, "b.csv", content),
        mapping=MAPPING,
        match=["external_id"],
        chunk_bytes=chunk_bytes,
        workers=workers,
    )
    assert general.status == loaded.status == ImportJob.Status.DONE, loaded.error_message
    assert "direct" not in general.options["timings"]
    assert loaded.options["timings"]["direct"] == 1
    assert loaded.counts == general.counts
    assert _column_defaults() == defaults  # the load's own defaults are gone
    if not near:
        assert loaded.counts["created"] == 402 and loaded.counts["duplicate"] == 2
    else:
        assert loaded.counts["duplicate"] == 2 + 36  # rows 49, 59, ... 399 repeat an id
    assert _report(loaded) == _report(general)
    assert _snapshot(direct_org) == _snapshot(general_org)
    # The details a user would look at.
    later = Person.objects.get(organization=direct_org, external_id="E5")
    assert (later.first_name, later.city) == ("Later", "Lisboa")
    assert later.household is not None and later.household.city == "Lisboa"
    odd = Person.objects.get(organization=direct_org, external_id="E900")
    assert (odd.first_name, odd.last_name, odd.notes) == (
        "Back\\slash",
        'Tab\there, "quoted"',
        "a\\b\nc,d",
    )
    assert odd.phones.get().raw == "Two\nlines"
    # The household only the replaced E7 row had is gone; E7's own phone too.
    e7 = Person.objects.get(organization=direct_org, external_id="E7")
    assert e7.household is None and not e7.phones.exists()
    assert not Household.objects.filter(organization=direct_org, members__isnull=True).exists()
    assert (
        PersonPhone.objects.filter(organization=direct_org).count()
        == PersonPhone.objects.filter(organization=general_org).count()
    )


def test_a_direct_load_that_fails_leaves_nothing(
    org: Any, tmp_path: Path, direct_for_any_size: None
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION imp_direct_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER imp_direct_fail BEFORE INSERT ON people_personphone "
            "FOR EACH ROW EXECUTE FUNCTION imp_direct_fail()"
        )
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'people_person'")
        indexes = cursor.fetchone()[0]
    defaults = _column_defaults()
    job = run_import(org, write_file(tmp_path, "p.csv", _content(50)), mapping=MAPPING)
    assert _column_defaults() == defaults
    assert job.status == ImportJob.Status.FAILED and "Nothing was changed" in job.error_message
    assert not Person.objects.filter(organization=org).exists()
    assert not Household.objects.filter(organization=org).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'people_person'")
        assert cursor.fetchone()[0] == indexes


def test_a_list_with_people_is_matched_the_general_way(
    org: Any, tmp_path: Path, direct_for_any_size: None
) -> None:
    first = run_import(org, write_file(tmp_path, "a.csv", _content(30)), mapping=MAPPING)
    assert first.options["timings"]["direct"] == 1
    again = run_import(
        org, write_file(tmp_path, "b.csv", _content(40)), mapping=MAPPING, match=["external_id"]
    )
    assert "direct" not in again.options["timings"]
    # E0-E29, E900 and E901 are there already; E30-E39 are new.
    assert again.counts["updated"] == 32 and again.counts["created"] == 10
    assert Person.objects.filter(organization=org).count() == first.counts["created"] + 10


def test_the_ids_a_direct_load_gives_are_taken_from_the_sequences(
    org: Any, tmp_path: Path, direct_for_any_size: None
) -> None:
    """The load reserves its ids by moving each sequence past them (setval): rows added
    afterwards, the usual way, get ids of their own."""
    job = run_import(org, write_file(tmp_path, "a.csv", _content(30)), mapping=MAPPING)
    assert job.options["timings"]["direct"] == 1
    loaded_phones = list(PersonPhone.objects.filter(organization=org).values_list("id", flat=True))
    assert len(set(loaded_phones)) == len(loaded_phones) == job.counts["phones_added"] > 0
    household = Household.objects.create(organization=org, address_key="LATER|1|X", street="X")
    person = Person.objects.create(organization=org, first_name="Later", household=household)
    phone = PersonPhone.objects.create(
        organization=org, person=person, raw="912345678", e164="+351912345678"
    )
    assert person.pk > max(Person.objects.exclude(pk=person.pk).values_list("id", flat=True))
    assert phone.pk > max(loaded_phones)
    assert household.pk > max(
        Household.objects.exclude(pk=household.pk).values_list("id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_the_page_sees_the_progress_of_a_direct_load(
    tmp_path: Path, direct_for_any_size: None
) -> None:
    from mobiliza.people.imports import services

    org = OrganizationFactory()
    job = services.import_job_create(
        organization=org, actor=None, path=write_file(tmp_path, "p.csv", _content(100))
    )
    services.import_job_configure(job=job, mapping=MAPPING)
    seen: list[tuple[str, int]] = []
    observer = connections.create_connection(DEFAULT_DB_ALIAS)

    def watch(phase: str, done: int, total: int | None) -> None:
        # What another request (the progress bar) reads while the load's transaction is open.
        with observer.cursor() as cursor:
            cursor.execute(
                "SELECT phase, processed_rows FROM people_importjob WHERE id = %s", [job.pk]
            )
            seen.append(cursor.fetchone())

    try:
        done = services.import_job_run(job_id=job.pk, workers=1, progress=watch)
    finally:
        observer.close()
    assert done.status == ImportJob.Status.DONE and done.options["timings"]["direct"] == 1
    assert ("saving", 105) in seen


def test_a_direct_load_joins_the_households_the_organization_has(
    org: Any, tmp_path: Path, direct_for_any_size: None
) -> None:
    """Electors loaded after contacts at the same addresses share the contacts' households."""
    contacts = run_import(org, write_file(tmp_path, "c.csv", _content(60)), mapping=MAPPING)
    households = set(Household.objects.filter(organization=org).values_list("id", flat=True))
    electors = run_import(
        org, write_file(tmp_path, "e.csv", _content(60)), mapping=MAPPING, person_list="electors"
    )
    assert contacts.options["timings"]["direct"] == electors.options["timings"]["direct"] == 1
    assert electors.counts["households_created"] == 0
    assert (
        set(Household.objects.filter(organization=org).values_list("id", flat=True)) == households
    )
    for elector in Person.objects.filter(organization=org, list="electors").exclude(
        household__isnull=True
    ):
        contact = Person.objects.get(
            organization=org, list="contacts", external_id=elector.external_id
        )
        assert elector.household_id == contact.household_id


def test_the_partial_indexes_no_row_of_a_load_enters_stay_during_it() -> None:
    """An index whose condition fails on every line (the other list's names, emails when the
    file maps none, coordinates, elector records) is not dropped and rebuilt: PostgreSQL
    keeps it, adding nothing. One whose condition depends on the file is rebuilt."""
    electors = engine.direct_layout(
        organization_id=1,
        person_list="electors",
        org_tz="Europe/Lisbon",
        mapping={"id": "external_id", "name": "first_name", "street": "street"},
        constants={},
    )
    assert engine._partial_indexes_left_empty(electors) == {
        "person_contacts_name",
        "person_org_email",
        "person_elector",
        "person_org_geo",
    }
    contacts = engine.direct_layout(
        organization_id=1,
        person_list="contacts",
        org_tz="Europe/Lisbon",
        mapping={"name": "first_name", "mail": "email", "lat": "latitude", "lon": "longitude"},
        constants={},
    )
    assert engine._partial_indexes_left_empty(contacts) == {
        "person_electors_name",
        "person_elector",
    }


def test_a_direct_load_keeps_the_partial_indexes_it_leaves_empty_usable(
    org: Any, tmp_path: Path, direct_for_any_size: None
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'people_person'")
        before = {name for (name,) in cursor.fetchall()}
    job = run_import(org, write_file(tmp_path, "a.csv", _content(30)), mapping=MAPPING)
    assert job.options["timings"]["direct"] == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'people_person'")
        assert {name for (name,) in cursor.fetchall()} == before
        cursor.execute(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'person_org_email' AND i.indisvalid AND i.indisready"
        )
        assert cursor.fetchone()[0] == 1
    # Written afterwards, found through the index the load kept.
    Person.objects.filter(organization=org, external_id="E3").update(email="e3@example.org")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM people_person WHERE organization_id = %s "
            "AND email = 'e3@example.org' AND email <> ''",
            [org.pk],
        )
        assert "person_org_email" in "\n".join(row[0] for row in cursor.fetchall())
    found = Person.objects.filter(organization=org, email="e3@example.org").exclude(email="")
    assert list(found.values_list("external_id", flat=True)) == ["E3"]

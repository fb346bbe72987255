"""People imports: presets, matching order, update or skip, later row wins, phones, time zones,
households, dry runs, isolation between organizations, the parallel path and the command."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mobiliza.core.models import AuditEvent
from mobiliza.people.imports import engine
from mobiliza.people.models import (
    CustomField,
    Household,
    ImportJob,
    Person,
    PersonPhone,
    PersonTag,
)
from mobiliza.people.tests.importing import ncvoter_file, run_import, write_file

pytestmark = pytest.mark.django_db


def _report(job: ImportJob) -> list[list[str]]:
    with job.error_report.open("rb") as fh:
        return list(csv.reader(io.StringIO(fh.read().decode("utf-8"))))


def test_ncvoter_preset(org: Any, tmp_path: Path) -> None:
    content = ncvoter_file(
        [
            {
                "ncid": "AA100",
                "voter_reg_num": "000012345",
                "last_name": "SMITH",
                "first_name": "ANN",
                "middle_name": "MARIE",
                "res_street_address": "12 MAIN ST",
                "zip_code": "27601",
                "full_phone_number": "9195550123",
                "party_cd": "DEM",
                "gender_code": "F",
                "birth_year": "1975",
                "precinct_desc": "PRECINCT 01-07",
            },
            {
                "ncid": "AA101",
                "last_name": "JOHNSON",
                "first_name": "JOSÉ",
                "res_street_address": "12 MAIN ST",
                "zip_code": "27601",
                "full_phone_number": "",
                "gender_code": "M",
            },
        ]
    )
    path = write_file(tmp_path, "ncvoter92.txt", content, encoding="latin-1")
    job = run_import(org, path, preset="ncvoter", person_list="electors")
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.encoding == "latin-1" and job.delimiter == "\t"
    assert job.counts["created"] == 2
    ann = Person.objects.get(external_id="AA100")
    assert ann.list == "electors"
    assert (ann.first_name, ann.middle_name, ann.last_name) == ("ANN", "MARIE", "SMITH")
    assert (ann.street, ann.postcode, ann.city, ann.region, ann.country) == (
        "12 MAIN ST",
        "27601",
        "RALEIGH",
        "NC",
        "US",
    )
    assert ann.voter_id == "000012345" and ann.registration_status == "A"
    assert ann.precinct == "PRECINCT 01-07" and ann.birth_year == 1975 and ann.gender == "F"
    assert ann.custom_fields["party"] == "DEM"
    assert ann.time_zone == "America/New_York"
    phone = ann.phones.get()
    assert (phone.e164, phone.kind, phone.is_valid) == ("+19195550123", "mobile", True)
    assert Person.objects.get(external_id="AA101").first_name == "JOSÉ"
    # Same address: one household.
    assert ann.household is not None
    assert ann.household == Person.objects.get(external_id="AA101").household
    assert CustomField.objects.filter(organization=org, key="party").exists()


def test_spoke_preset_puts_other_columns_in_custom_fields(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "spoke.csv",
        "firstName,lastName,cell,zip,Favourite colour,volunteer_shift\n"
        "Maria,Santos,+351 912 345 678,1100-048,azul,morning\n",
    )
    job = run_import(org, path, preset="spoke")
    assert job.counts["created"] == 1
    maria = Person.objects.get()
    assert maria.postcode == "1100-048"
    assert maria.custom_fields == {"favourite_colour": "azul", "volunteer_shift": "morning"}
    assert maria.phones.get().e164 == "+351912345678"
    labels = dict(CustomField.objects.filter(organization=org).values_list("key", "label"))
    assert labels == {"favourite_colour": "Favourite colour", "volunteer_shift": "volunteer_shift"}
    # A Portuguese postcode and no country: the organization's country gives the zone.
    assert maria.time_zone == "Europe/Lisbon"


def _existing(org: Any, **fields: Any) -> Person:
    phone = fields.pop("phone", None)
    person = Person.objects.create(organization=org, **fields)
    if phone:
        PersonPhone.objects.create(organization=org, person=person, raw=phone, e164=phone)
    return person


def test_matching_order_external_id_then_phone_then_email(org: Any, tmp_path: Path) -> None:
    by_id = _existing(org, external_id="X1", first_name="Old1")
    by_phone = _existing(org, first_name="Old2", phone="+351912000002")
    by_email = _existing(org, first_name="Old3", email="eva@example.org")
    path = write_file(
        tmp_path,
        "m.csv",
        "id,first_name,phone,email\n"
        "X1,New1,912000002,eva@example.org\n"  # id wins over phone and email
        ",New2,912000002,\n"
        ",New3,,EVA@example.org\n"
        ",New4,912000009,new@example.org\n",
    )
    job = run_import(org, path)
    assert job.counts == {**job.counts, "created": 1, "updated": 3}
    assert Person.objects.get(pk=by_id.pk).first_name == "New1"
    assert Person.objects.get(pk=by_phone.pk).first_name == "New2"
    assert Person.objects.get(pk=by_email.pk).first_name == "New3"
    assert Person.objects.filter(organization=org).count() == 4


def test_matching_keys_are_configurable(org: Any, tmp_path: Path) -> None:
    _existing(org, first_name="Old", phone="+351912000002")
    path = write_file(tmp_path, "m.csv", "first_name,phone\nNew,912000002\n")
    job = run_import(org, path, match=["email"])
    assert job.counts["created"] == 1 and job.counts["updated"] == 0
    assert Person.objects.filter(organization=org).count() == 2


def test_skip_leaves_matches_untouched(org: Any, tmp_path: Path) -> None:
    old = _existing(org, external_id="X1", first_name="Old", city="Porto")
    path = write_file(tmp_path, "s.csv", "id,first_name,city\nX1,New,Faro\nX2,Other,Faro\n")
    job = run_import(org, path, on_match="skip")
    assert (job.counts["created"], job.counts["skipped"], job.counts["updated"]) == (1, 1, 0)
    old.refresh_from_db()
    assert (old.first_name, old.city) == ("Old", "Porto")


def test_update_keeps_stored_values_for_empty_cells_and_merges_custom_fields(
    org: Any, tmp_path: Path
) -> None:
    old = _existing(
        org,
        external_id="X1",
        first_name="Ana",
        last_name="Silva",
        email="ana@example.org",
        custom_fields={"shirt": "M"},
        support_level=2,
    )
    path = write_file(tmp_path, "u.csv", "id,last_name,email,team,support\nX1,Costa,,Norte,4\n")
    job = run_import(
        org,
        path,
        mapping={
            "id": "external_id",
            "last_name": "last_name",
            "email": "email",
            "team": "custom:team",
            "support": "support_level",
        },
    )
    assert job.counts["updated"] == 1
    old.refresh_from_db()
    assert (old.first_name, old.last_name, old.email) == ("Ana", "Costa", "ana@example.org")
    assert old.custom_fields == {"shirt": "M", "team": "Norte"}
    assert old.support_level == 4


def test_later_row_wins_for_repeated_ids(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "d.csv",
        "id,first_name,city\nX1,First,Porto\nX2,Other,Faro\nX1,Second,Braga\nX1,Third,Lisboa\n",
    )
    job = run_import(org, path)
    assert job.counts["created"] == 2 and job.counts["duplicate"] == 2
    person = Person.objects.get(external_id="X1")
    assert (person.first_name, person.city) == ("Third", "Lisboa")
    rows = _report(job)
    assert [r[0] for r in rows[1:]] == ["2", "4"]
    assert "A later row in the file has the same external id" in rows[1][2]


def test_later_row_wins_when_two_rows_match_the_same_person(org: Any, tmp_path: Path) -> None:
    old = _existing(org, first_name="Old", email="ana@example.org", phone="+351912000002")
    path = write_file(
        tmp_path, "d.csv", "first_name,phone,email\nByPhone,912000002,\nByEmail,,ana@example.org\n"
    )
    job = run_import(org, path)
    assert job.counts["updated"] == 1 and job.counts["duplicate"] == 1
    old.refresh_from_db()
    assert old.first_name == "ByEmail"
    # The replaced row is in the report, once.
    assert [r[0] for r in _report(job)[1:]] == ["2"]


def test_invalid_phones_are_kept_raw_and_flagged(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "p.csv",
        "first_name,mobile,home\nAna,912345678,12345\nRui,not a number,213456789\n",
    )
    job = run_import(
        org, path, mapping={"first_name": "first_name", "mobile": "phone", "home": "phone"}
    )
    assert job.counts["invalid_phones"] == 2
    ana = Person.objects.get(first_name="Ana")
    phones = list(ana.phones.order_by("position").values_list("raw", "e164", "kind", "is_valid"))
    assert phones == [
        ("912345678", "+351912345678", "mobile", True),
        ("12345", "", "other", False),
    ]
    rui = Person.objects.get(first_name="Rui")
    assert list(rui.phones.order_by("position").values_list("raw", "is_valid", "kind")) == [
        ("not a number", False, "other"),
        ("213456789", True, "landline"),
    ]
    rows = _report(job)
    assert [
        "2",
        "home",
        "“12345” is not a valid phone number; kept as written, flagged invalid.",
    ] in rows


def test_an_update_adds_new_phones_without_dropping_stored_ones(org: Any, tmp_path: Path) -> None:
    old = _existing(org, external_id="X1", phone="+351912000001")
    path = write_file(tmp_path, "p.csv", "id,phone\nX1,912000001\nX1,913000001\n")
    run_import(org, path)
    # Row 2 was replaced by row 3 (same id), which brings a new number.
    assert sorted(old.phones.values_list("e164", flat=True)) == ["+351912000001", "+351913000001"]


@pytest.mark.parametrize(
    ("row", "zone"),
    [
        ("Ana,+1 919 555 0123,,,", "America/New_York"),
        ("Ana,,Rua Augusta 27,1100-048,", "Europe/Lisbon"),
        ("Ana,,Rua da Sé 1,9500-150,", "Atlantic/Azores"),
        ("Ana,,Rua do Aljube 5,9000-060,", "Atlantic/Madeira"),
        ("Ana,,Rue de Rivoli 1,75001,FR", "Europe/Paris"),
        ("Ana,912345678,,,", "Europe/Berlin"),  # a PT mobile spans 3 zones: the org's
    ],
)
def test_time_zones(org: Any, tmp_path: Path, row: str, zone: str) -> None:
    org.time_zone = "Europe/Berlin"
    org.save()
    path = write_file(tmp_path, "tz.csv", f"first_name,phone,street,postcode,country\n{row}\n")
    run_import(org, path)
    assert Person.objects.get().time_zone == zone


def test_households_from_an_import_and_a_move(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "h.csv",
        "id,first_name,street,postcode\n"
        '1,Ana,"Rua Augusta, 27",1100-048\n'
        "2,Rui,R. AUGUSTA 27,1100048\n"
        "3,Eva,Rua do Ouro 3,1100-060\n"
        "4,Zé,,\n",
    )
    job = run_import(org, path)
    assert job.counts["households_created"] == 2
    people = {p.first_name: p for p in Person.objects.filter(organization=org)}
    assert people["Ana"].household_id == people["Rui"].household_id is not None
    assert people["Eva"].household_id not in (None, people["Ana"].household_id)
    assert people["Zé"].household_id is None
    # Eva moves in with Ana and Rui: her old household is deleted.
    old_household = people["Eva"].household_id
    path = write_file(tmp_path, "h2.csv", "id,street,postcode\n3,Rua Augusta 27,1100-048\n")
    run_import(org, path)
    eva = Person.objects.get(pk=people["Eva"].pk)
    assert eva.household_id == people["Ana"].household_id
    assert not Household.objects.filter(pk=old_household).exists()
    assert Household.objects.filter(organization=org).count() == 1


def test_tags_column(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "t.csv", 'first_name,tags\nAna,"volunteer; donor"\nRui,donor\n')
    run_import(org, path)
    ana = Person.objects.get(first_name="Ana")
    assert sorted(ana.tags.values_list("name", flat=True)) == ["donor", "volunteer"]
    assert PersonTag.objects.filter(tag__name="donor").count() == 2


def test_field_problems_are_reported_and_the_row_still_imported(org: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "f.csv",
        "first_name,email,birth_date,support,gender,lat\n"
        "Ana,not-an-email,31/02/1990,7,Q,200\n"
        "Rui,rui@example.org,15/03/1985,3,M,38.72\n",
    )
    job = run_import(
        org,
        path,
        mapping={
            "first_name": "first_name",
            "email": "email",
            "birth_date": "birth_date",
            "support": "support_level",
            "gender": "gender",
            "lat": "latitude",
        },
    )
    assert job.counts["created"] == 2 and job.counts["errors"] == 0
    ana = Person.objects.get(first_name="Ana")
    assert (ana.email, ana.birth_date, ana.support_level, ana.gender, ana.latitude) == (
        "",
        None,
        None,
        "",
        None,
    )
    rui = Person.objects.get(first_name="Rui")
    assert str(rui.birth_date) == "1985-03-15" and rui.support_level == 3 and rui.latitude == 38.72
    columns = [r[1] for r in _report(job)[1:]]
    assert columns == ["email", "birth_date", "support", "gender", "lat"]


def test_rows_without_any_identity_are_refused(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "i.csv", "first_name,city\n,Porto\nAna,Faro\n")
    job = run_import(org, path)
    assert job.counts["created"] == 1 and job.counts["errors"] == 1
    assert "no name, id, phone or email" in _report(job)[1][2]


def test_dry_run_counts_and_changes_nothing(org: Any, tmp_path: Path) -> None:
    _existing(org, external_id="X1", first_name="Old")
    path = write_file(
        tmp_path, "d.csv", "id,first_name,phone,street\nX1,New,912000001,Rua A 1\nX2,Eva,x,Rua B\n"
    )
    job = run_import(org, path, dry_run=True)
    assert job.status == ImportJob.Status.DONE and job.dry_run
    assert (job.counts["created"], job.counts["updated"], job.counts["invalid_phones"]) == (1, 1, 1)
    assert Person.objects.filter(organization=org).count() == 1
    assert Person.objects.get().first_name == "Old"
    assert not PersonPhone.objects.exists() and not Household.objects.exists()


def test_organizations_are_isolated(org: Any, other_org: Any, tmp_path: Path) -> None:
    theirs = _existing(other_org, external_id="X1", first_name="Theirs", phone="+351912000001")
    path = write_file(tmp_path, "o.csv", "id,first_name,phone,street\nX1,Ours,912000001,Rua A 1\n")
    job = run_import(org, path)
    assert job.counts["created"] == 1 and job.counts["updated"] == 0
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs" and theirs.household_id is None
    ours = Person.objects.get(organization=org)
    assert ours.household is not None and ours.household.organization_id == org.pk
    assert PersonPhone.objects.get(person=ours).organization_id == org.pk


def test_contacts_and_electors_are_matched_separately(org: Any, tmp_path: Path) -> None:
    _existing(org, external_id="X1", first_name="Elector", list="electors")
    path = write_file(tmp_path, "c.csv", "id,first_name\nX1,Contact\n")
    job = run_import(org, path, person_list="contacts")
    assert job.counts["created"] == 1
    assert Person.objects.get(list="electors").first_name == "Elector"


def test_parallel_workers_give_the_same_result(
    org: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    lines = "".join(
        f"{i},Name{i},91{i % 5000:07d},Rua {i % 300} {i % 7},{1000 + i % 50}-001\n"
        for i in range(6000)
    )
    path = write_file(
        tmp_path, "p.csv", "id,first_name,phone,street,postcode\n" + lines + "1,Last,,,\n"
    )
    job = run_import(org, path, workers=2, chunk_bytes=16 * 1024)
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["created"] == 6000 and job.counts["duplicate"] == 1
    assert Person.objects.get(external_id="1").first_name == "Last"
    assert Person.objects.get(external_id="4321").phones.get().e164 == "+351910004321"
    assert job.counts["households_created"] == Household.objects.filter(organization=org).count()


def test_the_import_is_audited(org: Any, admin_member: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "a.csv", "first_name\nAna\n")
    job = run_import(org, path, actor=admin_member.user)
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT, object_id=str(job.public_id))
    assert event.actor == admin_member.user and event.organization == org
    assert event.meta["file"] == "a.csv" and event.meta["counts"]["created"] == 1


def test_import_people_command(org: Any, tmp_path: Path) -> None:
    content = ncvoter_file(
        [
            {"ncid": "C1", "last_name": "SMITH", "first_name": "ANN", "res_street_address": "1 A ST",
             "full_phone_number": "919555012"},
            {"ncid": "C2", "last_name": "DOE", "first_name": "JOHN", "res_street_address": "2 A ST",
             "full_phone_number": "9195550124"},
        ]
    )  # fmt: skip
    path = write_file(tmp_path, "nc.txt", content, encoding="latin-1")
    out = io.StringIO()
    call_command(
        "import_people", str(path), org=org.slug, list="electors", preset="ncvoter", dry_run=True,
        stdout=out,
    )  # fmt: skip
    assert "created: 2, updated: 0, skipped: 0" in out.getvalue()
    assert "invalid phones: 1" in out.getvalue()
    assert not Person.objects.exists()
    out = io.StringIO()
    call_command(
        "import_people", str(path), org=org.slug, list="electors", preset="ncvoter", stdout=out
    )
    assert "2 rows" in out.getvalue() and "created: 2" in out.getvalue()
    assert Person.objects.filter(organization=org, list="electors").count() == 2
    with pytest.raises(CommandError, match="No organization"):
        call_command("import_people", str(path), org="nope", list="electors")
    with pytest.raises(CommandError, match="preset “ncvhis” is for another kind"):
        call_command("import_people", str(path), org=org.slug, list="electors", preset="ncvhis")


def test_a_failure_while_saving_rolls_everything_back(org: Any, tmp_path: Path) -> None:
    """The database refuses the phones (a trigger stands in for a full disk or a lost
    connection) after the people and households were inserted: nothing stays."""
    from django.db import connection

    existing = _existing(org, external_id="X1", first_name="Old")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION imp_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER imp_test_fail BEFORE INSERT ON people_personphone "
                "FOR EACH ROW EXECUTE FUNCTION imp_test_fail()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER imp_test_fail BEFORE INSERT ON people_personphone "
                "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
            )
    path = write_file(
        tmp_path, "f.csv", "id,first_name,phone,street\nX1,New,912000001,Rua A 1\nX2,Eva,,Rua B 2\n"
    )
    job = run_import(org, path)
    assert job.status == ImportJob.Status.FAILED
    assert "Nothing was changed" in job.error_message
    assert Person.objects.filter(organization=org).count() == 1
    existing.refresh_from_db()
    assert existing.first_name == "Old" and existing.household_id is None
    assert not Household.objects.filter(organization=org).exists()
    assert not [t for t in connection.introspection.table_names() if t.startswith("imp_stage_")]

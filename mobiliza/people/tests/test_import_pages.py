"""The import pages: upload, detected format and preview, mapping with presets, dry run, the real
import, progress, error report, saved presets, permissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mobiliza.people.models import ImportJob, MappingPreset, Person
from mobiliza.people.tests.importing import media_root, ncvoter_file  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def post(django_capture_on_commit_callbacks: Any) -> Any:
    """POST, then run the `transaction.on_commit` callbacks it queued (the eager import task),
    as a real request does when it commits (the test's transaction never does)."""

    def _post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data or {})

    return _post


CSV = "Nome;Apelido;Telemóvel;Cidade\nJoão;Conceição;912 345 678;Lisboa\nAna;Sá;12;Porto\nRui\n"


def _upload(client: Client, content: bytes, **data: Any) -> Any:
    upload = SimpleUploadedFile("contactos.csv", content, content_type="text/csv")
    return client.post(
        reverse("people:import_new"), {"file": upload, "person_list": "contacts", **data}
    )


def test_volunteers_cannot_import(volunteer_client: Client) -> None:
    assert volunteer_client.get(reverse("people:import_list")).status_code == 403
    assert volunteer_client.get(reverse("people:import_new")).status_code == 403
    assert _upload(volunteer_client, b"first_name\nAna\n").status_code == 403
    assert not ImportJob.objects.exists()


def test_upload_map_dry_run_then_import_for_real(
    organizer_client: Client, post: Any, org: Any
) -> None:
    response = _upload(organizer_client, CSV.encode("latin-1"))
    job = ImportJob.objects.get(organization=org)
    assert response.status_code == 302 and response["Location"] == reverse(
        "people:import_detail", args=[job.public_id]
    )
    page = organizer_client.get(response["Location"]).content.decode()
    assert "Encoding cp1252" in page and "“;”" in page
    assert "Conceição" in page  # the preview
    assert 'data-testid="mapping-form"' in page
    mapping = {"col_0": "first_name", "col_1": "last_name", "col_2": "phone", "col_3": "city"}
    response = post(organizer_client,
        response["Location"],
        {**mapping, "person_list": "contacts", "match": ["phone"], "on_match": "update",
         "dry_run": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.dry_run and job.status == ImportJob.Status.DONE
    assert job.counts["created"] == 2 and job.counts["errors"] == 1
    assert job.counts["invalid_phones"] == 1
    assert not Person.objects.exists()
    page = organizer_client.get(response["Location"]).content.decode()
    assert 'data-testid="count-created">2<' in page and "would be created" in page
    assert 'data-testid="run-for-real"' in page
    report = organizer_client.get(reverse("people:import_errors", args=[job.public_id]))
    assert report.status_code == 200 and report["Content-Type"] == "text/csv"
    text = b"".join(report.streaming_content).decode()
    assert "4,,This row has 1 fields; the header has 4." in text
    # For real.
    response = post(organizer_client, reverse("people:import_run_for_real", args=[job.public_id]))
    real = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("people:import_detail", args=[real.public_id])
    assert real.status == ImportJob.Status.DONE and not real.dry_run
    assert real.counts["created"] == 2
    joao = Person.objects.get(first_name="João")
    assert (joao.last_name, joao.city) == ("Conceição", "Lisboa")
    assert joao.phones.get().e164 == "+351912345678"
    page = organizer_client.get(response["Location"]).content.decode()
    assert 'data-testid="see-people"' in page


def test_bad_files_show_their_error_on_the_page(organizer_client: Client) -> None:
    response = _upload(organizer_client, b"")
    assert response.status_code == 200
    assert "The file is empty." in response.content.decode()
    response = _upload(organizer_client, b"\x00\x01\x02PK\x03\x04" * 100)
    assert "not a text file" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_mapping_without_identity_is_refused_on_the_page(
    organizer_client: Client, post: Any, org: Any
) -> None:
    response = _upload(organizer_client, b"colour,size\nred,L\n")
    url = response["Location"]
    response = post(
        organizer_client,
        url,
        {"col_0": "", "col_1": "", "person_list": "contacts", "on_match": "update"},
    )
    assert response.status_code == 200
    assert "at least one column to a name" in response.content.decode()
    assert ImportJob.objects.get().status == ImportJob.Status.PENDING


def test_presets_apply_and_save(organizer_client: Client, post: Any, org: Any) -> None:
    content = b"firstName,lastName,cell,zip,shirt\nAna,Silva,912345678,1000-001,M\n"
    url = _upload(organizer_client, content)["Location"]
    job = ImportJob.objects.get(organization=org)
    apply_url = reverse("people:import_apply_preset", args=[job.public_id])
    assert organizer_client.get(apply_url).status_code == 405  # a change: POST only
    post(organizer_client, apply_url, {"preset": "spoke"})
    page = organizer_client.get(url).content.decode()
    assert '<option value="first_name" selected>' in page
    assert '<option value="custom:shirt" selected>' in page
    response = post(organizer_client,
        url,
        {"col_0": "first_name", "col_1": "last_name", "col_2": "phone", "col_3": "postcode",
         "col_4": "custom:shirt", "person_list": "contacts", "match": ["phone"],
         "on_match": "skip", "preset_name": "Spoke export", "run": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    preset = MappingPreset.objects.get(organization=org, name="Spoke export")
    assert preset.mapping["cell"] == "phone" and preset.options["on_match"] == "skip"
    assert Person.objects.get().custom_fields == {"shirt": "M"}
    # The saved preset is offered for the next file, and listed.
    url = _upload(organizer_client, content)["Location"]
    page = organizer_client.get(url).content.decode()
    assert '<option value="Spoke export"' in page
    listing = organizer_client.get(reverse("people:import_list")).content.decode()
    assert "Spoke export" in listing
    post(organizer_client, reverse("people:import_preset_delete", args=[preset.public_id]))
    assert not MappingPreset.objects.exists()


def test_a_preset_applied_on_the_mapping_page_brings_its_options(
    organizer_client: Client, post: Any, org: Any
) -> None:
    """The NC voter preset chosen at step 2 (not with the upload), in a Portuguese
    organization: its constant country (US), its matching key and its list apply, as they do
    when it is chosen with the upload: the phones are US numbers, the time zone is North
    Carolina's."""
    assert org.default_country == "PT"
    rows = [
        {"ncid": "AA1", "last_name": "SMITH", "first_name": "ANA", "full_phone_number":
         "9195551234", "res_street_address": "1 MAIN ST", "zip_code": "27601"},
    ]  # fmt: skip
    upload = SimpleUploadedFile(
        "ncvoter92.txt", ncvoter_file(rows).encode("latin-1"), content_type="text/plain"
    )
    url = organizer_client.post(
        reverse("people:import_new"), {"file": upload, "person_list": "contacts"}
    )["Location"]
    job = ImportJob.objects.get(organization=org)
    apply_url = reverse("people:import_apply_preset", args=[job.public_id])
    post(organizer_client, apply_url, {"preset": "nobody"})
    job.refresh_from_db()
    assert job.preset == ""
    page = organizer_client.get(url).content.decode()
    assert "There is no such preset for this import." in page
    post(organizer_client, apply_url, {"preset": "ncvoter"})
    job.refresh_from_db()
    assert (job.preset, job.list) == ("ncvoter", "electors")
    assert job.options["constants"] == {"country": "US"}
    assert job.options["match"] == ["external_id"]
    page = organizer_client.get(url).content.decode()
    assert '<option value="ncvoter" selected>' in page
    form = {
        f"col_{i}": target for i, target in enumerate(
            job.mapping.get(column, "") for column in job.options["header"]
        )
    }  # fmt: skip
    post(organizer_client, url, {**form, "person_list": "electors", "match": ["external_id"],
                                 "on_match": "update"})  # fmt: skip
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error_message
    ana = Person.objects.get(organization=org, external_id="AA1")
    assert (ana.list, ana.country, ana.time_zone) == ("electors", "US", "America/New_York")
    assert ana.phones.get().e164 == "+19195551234"


def test_a_running_job_polls_its_progress(organizer_client: Client, org: Any) -> None:
    url = _upload(organizer_client, b"first_name\nAna\n")["Location"]
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, phase="reading", processed_rows=500, total_rows=1000,
        options={**job.options, "queued": True},
    )  # fmt: skip
    page = organizer_client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and 'aria-valuenow="50"' in page
    assert "Reading and checking rows" in page
    fragment = organizer_client.get(
        reverse("people:import_progress", args=[job.public_id]), headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="import-progress"')
    assert "<html" not in fragment
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE, counts={"created": 1})
    fragment = organizer_client.get(
        reverse("people:import_progress", args=[job.public_id])
    ).content.decode()
    assert "hx-trigger" not in fragment and 'aria-valuenow="100"' in fragment


def test_voting_history_page(organizer_client: Client, post: Any, org: Any) -> None:
    Person.objects.create(organization=org, list="electors", external_id="AA1")
    content = (
        b'"ncid"\t"election_lbl"\t"election_desc"\t"voting_method"\n'
        b'"AA1"\t"11/05/2024"\t"11/05/2024 GENERAL"\t"IN-PERSON"\n'
    )
    upload = SimpleUploadedFile("ncvhis.txt", content)
    response = post(
        organizer_client, reverse("people:import_new_votes"), {"file": upload, "preset": "ncvhis"}
    )
    url = response["Location"]
    page = organizer_client.get(url).content.decode()
    assert '<option value="external_id" selected>' in page
    assert "delimiter tab" in page  # named, not shown as a blank between quotes
    response = post(organizer_client,
        url, {"col_0": "external_id", "col_1": "election_label",
              "col_2": "election_description", "col_3": "voting_method", "run": "1"}
    )  # fmt: skip
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE and job.counts["votes"] == 1
    assert 'data-testid="count-votes">1<' in organizer_client.get(url).content.decode()


def test_list_page_query_count(
    organizer_client: Client, org: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(8):
        ImportJob.objects.create(organization=org, original_name=f"f{i}.csv", file="x.csv")
    with django_assert_max_num_queries(10):
        response = organizer_client.get(reverse("people:import_list"))
    assert response.status_code == 200 and "f7.csv" in response.content.decode()


def test_other_organizations_jobs_are_not_listed(organizer_client: Client, other_org: Any) -> None:
    ImportJob.objects.create(organization=other_org, original_name="secret.csv", file="x.csv")
    assert "secret.csv" not in organizer_client.get(reverse("people:import_list")).content.decode()


def test_error_report_absent_is_404(
    organizer_client: Client, post: Any, org: Any, tmp_path: Path
) -> None:
    url = _upload(organizer_client, b"first_name\nAna\n")["Location"]
    post(organizer_client, url, {"col_0": "first_name", "person_list": "contacts",
                                "on_match": "update", "run": "1"})  # fmt: skip
    job = ImportJob.objects.get()
    assert not job.error_report
    assert (
        organizer_client.get(reverse("people:import_errors", args=[job.public_id])).status_code
        == 404
    )

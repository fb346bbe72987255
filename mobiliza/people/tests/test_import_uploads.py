"""Uploaded import files are not kept: a finished import deletes its upload (the error report
stays), abandoned uploads go after the retention period (`import_purge_uploads`)."""

from __future__ import annotations

import datetime as dt
import os
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mobiliza.people.imports import services
from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import media_root, run_import, write_file  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

CSV = b"first_name,last_name,phone\nAna,Silva,912345678\nRui\n"


def _upload(org: Any, content: bytes = CSV, *, dry_run: bool = False) -> ImportJob:
    upload = SimpleUploadedFile("people.csv", content, content_type="text/csv")
    job = services.import_job_create(organization=org, actor=None, upload=upload)
    return services.import_job_configure(job=job, dry_run=dry_run)


def _age(job: ImportJob, days: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(days=days))


def test_a_finished_import_deletes_its_upload_and_keeps_the_error_report(org: Any) -> None:
    job = _upload(org)
    path = Path(job.file.path)
    assert path.is_file()
    job = services.import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE and job.counts["created"] == 1
    assert not path.exists() and job.file.name == ""
    assert job.error_report and Path(job.error_report.path).is_file()


def test_a_failed_import_deletes_its_upload(org: Any) -> None:
    job = _upload(org, b"first_name,last_name\nAna,Silva\n")
    path = Path(job.file.path)
    path.write_bytes(b"first_name,last_name\nAna,Silva\n\xff\xfe\x00\x00 junk\n")
    job = services.import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert not path.exists() and job.file.name == ""


def test_a_dry_run_keeps_its_upload_until_it_is_run_for_real(org: Any) -> None:
    dry = services.import_job_run(job_id=_upload(org, dry_run=True).pk)
    path = Path(dry.file.path)
    assert dry.status == ImportJob.Status.DONE and path.is_file()
    real = services.import_job_copy_for_real(job=dry, actor=None)
    real = services.import_job_run(job_id=real.pk)
    assert real.status == ImportJob.Status.DONE and Person.objects.count() == 1
    assert not path.exists()
    dry.refresh_from_db()
    assert dry.file.name == ""
    with pytest.raises(ValidationError, match="no longer kept"):
        services.import_job_copy_for_real(job=dry, actor=None)


def test_an_upload_waited_for_by_another_job_is_kept(org: Any) -> None:
    dry = services.import_job_run(job_id=_upload(org, dry_run=True).pk)
    first = services.import_job_copy_for_real(job=dry, actor=None)
    second = services.import_job_copy_for_real(job=dry, actor=None)
    services.import_job_run(job_id=first.pk)
    assert Path(dry.file.path).is_file()  # the second one still needs it
    second = services.import_job_run(job_id=second.pk)
    assert second.status == ImportJob.Status.DONE and not Path(dry.file.path).exists()


def test_a_file_given_to_the_command_is_never_deleted(org: Any, tmp_path: Path) -> None:
    path = write_file(tmp_path, "people.csv", CSV.decode())
    job = run_import(org, path)
    assert job.status == ImportJob.Status.DONE and path.is_file()
    assert services.import_uploads_purge(older_than=dt.timedelta(days=0)) == []
    assert path.is_file()


def test_retention_deletes_abandoned_uploads_only(org: Any, media_root: Path) -> None:  # noqa: F811
    abandoned = _upload(org)  # never started
    old_dry = services.import_job_run(job_id=_upload(org, dry_run=True).pk)
    recent = _upload(org)
    _age(abandoned, 8)
    _age(old_dry, 8)
    stray = media_root / "imports" / "2020" / "01" / "stray.csv"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"first_name\nAna\n")
    old = time.time() - 9 * 86400
    os.utime(stray, (old, old))
    fresh_stray = media_root / "imports" / "2020" / "01" / "fresh.csv"
    fresh_stray.write_bytes(b"first_name\nRui\n")
    paths = {j.pk: Path(j.file.path) for j in (abandoned, old_dry, recent)}

    preview = services.import_uploads_purge(older_than=dt.timedelta(days=7), dry_run=True)
    assert len(preview) == 3 and all(p.exists() for p in paths.values()) and stray.exists()

    out = StringIO()
    call_command("import_purge_uploads", "--days", "7", stdout=out)
    assert "Deleted 3 uploaded file(s) older than 7 days." in out.getvalue()
    assert not paths[abandoned.pk].exists() and not paths[old_dry.pk].exists()
    assert not stray.exists() and fresh_stray.exists()
    assert paths[recent.pk].is_file()
    abandoned.refresh_from_db()
    assert abandoned.status == ImportJob.Status.CANCELLED and abandoned.file.name == ""
    assert "deleted after 7 days" in abandoned.error_message
    old_dry.refresh_from_db()
    assert old_dry.status == ImportJob.Status.DONE and old_dry.error_report  # report kept
    assert Path(old_dry.error_report.path).is_file()
    # The abandoned job can't start any more, and says why.
    with pytest.raises(ValidationError):
        services.import_job_start(job=abandoned)


def test_retention_keeps_a_file_a_recent_job_needs(org: Any) -> None:
    dry = services.import_job_run(job_id=_upload(org, dry_run=True).pk)
    services.import_job_copy_for_real(job=dry, actor=None)  # queued just now
    _age(dry, 30)
    assert services.import_uploads_purge(older_than=dt.timedelta(days=7)) == []
    assert Path(dry.file.path).is_file()


def test_the_command_refuses_a_bad_age() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("import_purge_uploads", "--days", "0")

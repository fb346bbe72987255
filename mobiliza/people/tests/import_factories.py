"""Isolation makers for the import models (imported by `factories.py`)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from mobiliza.accounts.models import Organization
from mobiliza.core.testing.isolation import register_isolation_maker
from mobiliza.people.imports import services
from mobiliza.people.models import ImportJob, MappingPreset


def make_import_job(organization: Organization) -> ImportJob:
    """A finished dry run with an error report: every import URL has something to show."""
    upload = SimpleUploadedFile(
        "people.csv", b"first_name,last_name\nAna,Silva\nRui\n", content_type="text/csv"
    )
    job = services.import_job_create(organization=organization, actor=None, upload=upload)
    services.import_job_configure(job=job, dry_run=True)
    return services.import_job_run(job_id=job.pk)


def make_mapping_preset(organization: Organization) -> MappingPreset:
    return services.mapping_preset_save(
        organization=organization,
        actor=None,
        name="Our CRM export",
        person_list="contacts",
        mapping={"Nome": "first_name", "Telemóvel": "phone"},
    )


register_isolation_maker("people.importjob", make_import_job)
register_isolation_maker("people.mappingpreset", make_mapping_preset)

"""Without a broker (the embedded default of `make run`), an import started from the page runs
on a thread of the web process: the page answers at once, and the job page shows the import
moving until it is done, as it does with a Celery worker."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import media_root  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_root")]

ROWS = 40_000  # a few seconds of import: long enough to be seen running


def test_an_import_started_from_the_page_runs_on_a_thread(
    organizer_client: Client, org: Any, settings: Any
) -> None:
    settings.IMPORTS_IN_THREAD = True
    lines = "".join(f"Name{i},Silva{i % 97},91{i:07d}\n" for i in range(ROWS))
    upload = SimpleUploadedFile(
        "contactos.csv", f"first_name,last_name,phone\n{lines}".encode(), "text/csv"
    )
    response = organizer_client.post(
        reverse("people:import_new"), {"file": upload, "person_list": "contacts"}
    )
    job = ImportJob.objects.get(organization=org)
    mapping = {"col_0": "first_name", "col_1": "last_name", "col_2": "phone"}
    response = organizer_client.post(
        response["Location"],
        {**mapping, "person_list": "contacts", "match": ["phone"], "on_match": "update"},
    )
    # The page answered while the import runs on its own thread.
    assert response.status_code == 302
    thread = next(t for t in threading.enumerate() if t.name == f"import-{job.pk}")
    if connection.vendor == "postgresql":
        # Read while it runs. (SQLite's in-memory test database locks whole tables between
        # connections; `make run`'s file database is in WAL mode, where a reader doesn't.)
        job.refresh_from_db()
        assert job.status in {ImportJob.Status.PENDING, ImportJob.Status.RUNNING}
        page = organizer_client.get(response["Location"]).content.decode()
        assert 'hx-trigger="every 1s"' in page  # the job page polls its progress
    thread.join(timeout=120)
    assert not thread.is_alive()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.error_message
    assert job.counts["created"] == ROWS
    assert Person.objects.filter(organization=org).count() == ROWS
    page = organizer_client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' not in page and 'data-testid="see-people"' in page

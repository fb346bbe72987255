"""In a real Chromium on a phone: upload a file on the import page, check the detected format and
the preview, map a column, run the import, watch the progress panel, see the counts and the
people; then watch a running job's progress update by itself (htmx polling)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from mobiliza.accounts.tests.factories import PASSWORD, OrganizationFactory, make_member
from mobiliza.people.models import ImportJob, Person
from mobiliza.people.tests.importing import media_root  # noqa: F401

CSV = (
    "Nome;Apelido;Telemóvel;Morada;Código postal;Grupo\n"
    "João;Conceição;912 345 678;Rua Augusta 27;1100-048;Norte\n"
    "Maria;Santos;+351 213 456 789;Rua Augusta 27;1100-048;Sul\n"
    "Ana;Sá;12;Rua do Ouro 3;1100-060;Norte\n"
    "Rui\n"
)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_upload_map_import_and_watch_progress_on_a_phone(
    live_server: Any, phone_page: Any, tmp_path: Path
) -> None:
    org = OrganizationFactory(name="Movimento Avante", default_country="PT")
    make_member(org, "organizer", email="org@example.org", full_name="Olga Organizer")
    path = tmp_path / "contactos.csv"
    path.write_bytes(CSV.encode("cp1252"))
    page = phone_page

    page.goto(live_server.url + "/people/imports/new/")
    page.fill("input[name=username]", "org@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=upload-form]")
    page.set_input_files("input[name=file]", str(path))
    page.click("[data-testid=upload]")

    # Step 2: the detected format, the preview and the mapping.
    page.wait_for_selector("[data-testid=mapping-form]")
    expect(page.locator("[data-testid=detected]")).to_contain_text("cp1252")
    expect(page.locator("[data-testid=preview]")).to_contain_text("Conceição")
    page.select_option("select[name=col_0]", "first_name")
    page.select_option("select[name=col_1]", "last_name")
    page.select_option("select[name=col_2]", "phone")
    page.select_option("select[name=col_3]", "street")
    page.select_option("select[name=col_4]", "postcode")
    page.select_option("select[name=col_5]", "custom:grupo")
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(
            path=os.environ["SCREENSHOTS"] + "/import-mapping-phone.png", full_page=True
        )
    page.click("[data-testid=start-import]")

    # The job page: progress panel, finished, with its counts and the error report.
    panel = page.locator("[data-testid=progress-panel]")
    expect(panel.locator("[data-testid=job-status]")).to_have_text("Done")
    expect(page.locator("[data-testid=count-created]")).to_have_text("3")
    expect(page.locator("[data-testid=count-invalid-phones]")).to_have_text("1")
    expect(page.locator("[data-testid=count-errors]")).to_have_text("1")
    expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("[data-testid=error-report]")).to_be_visible()
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=os.environ["SCREENSHOTS"] + "/import-done-phone.png", full_page=True)
    joao = Person.objects.get(organization=org, first_name="João")
    assert joao.custom_fields == {"grupo": "Norte"}
    assert joao.household_id == Person.objects.get(first_name="Maria").household_id

    # The past imports list links to it.
    page.goto(live_server.url + "/people/imports/")
    expect(page.locator("[data-testid=import-list]")).to_contain_text("contactos.csv")

    # A job still running updates itself: htmx polls the progress panel.
    job = ImportJob.objects.create(
        organization=org,
        original_name="big.csv",
        file="x.csv",
        status=ImportJob.Status.RUNNING,
        phase="reading",
        processed_rows=250_000,
        total_rows=1_000_000,
        options={"queued": True},
    )
    page.goto(live_server.url + f"/people/imports/{job.public_id}/")
    expect(page.locator("[data-testid=phase]")).to_contain_text("250,000 rows so far")
    expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "25")
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=750_000)
    expect(page.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "75")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, counts={"created": 999_000, "rows": 1_000_000}
    )
    expect(page.locator("[data-testid=count-created]")).to_have_text("999,000")
    expect(page.locator("[data-testid=job-status]")).to_have_text("Done")

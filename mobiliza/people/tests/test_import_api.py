"""Imports through the API: upload with options, status and counts, error report, list,
voting history, presets, permissions, and 422s with a message for bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import api_client_for
from mobiliza.people.models import ImportJob, MappingPreset, Person, VoteRecord
from mobiliza.people.tests.importing import media_root  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def post(django_capture_on_commit_callbacks: Any) -> Any:
    def _post(client: Client, url: str, data: dict[str, Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return _post


def _file(content: bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_create_follow_and_download_the_report(admin_api: Client, post: Any, org: Any) -> None:
    content = b"Name,Surname,Mobile\nAna,Silva,912345678\nRui,Costa,99\nEva\n"
    response = post(
        admin_api,
        "/api/v1/imports",
        {
            "file": _file(content),
            "list": "contacts",
            "mapping": json.dumps(
                {"Name": "first_name", "Surname": "last_name", "Mobile": "phone"}
            ),
            "match": "phone",
            "on_match": "skip",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["delimiter"] == ","
    job_id = body["id"]
    status = admin_api.get(f"/api/v1/imports/{job_id}").json()
    assert status["status"] == "done"
    assert status["counts"]["created"] == 2 and status["counts"]["errors"] == 1
    assert status["counts"]["invalid_phones"] == 1
    assert status["options"]["on_match"] == "skip"
    assert Person.objects.filter(organization=org).count() == 2
    report = admin_api.get(status["error_report_url"])
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode()
    assert text.splitlines()[0] == "row,column,reason"
    assert "4,,This row has 1 fields; the header has 3." in text
    listing = admin_api.get("/api/v1/imports").json()
    assert [j["id"] for j in listing] == [job_id]


def test_dry_run_through_the_api(admin_api: Client, post: Any, org: Any) -> None:
    response = post(
        admin_api, "/api/v1/imports", {"file": _file(b"first_name\nAna\n"), "dry_run": "true"}
    )
    job = ImportJob.objects.get(public_id=response.json()["id"])
    assert job.dry_run and job.counts["created"] == 1
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"file": _file(b"")}, "The file is empty."),
        ({"file": _file(b"\x00\x01\x02" * 50)}, "not a text file"),
        ({"file": _file(b"a,b\n1,2\n"), "mapping": "{nope"}, "not valid JSON"),
        ({"file": _file(b"a,b\n1,2\n"), "mapping": "[1]"}, "must be an object"),
        ({"file": _file(b"a,b\n1,2\n"), "mapping": '{"a": "password"}'}, "not something"),
        ({"file": _file(b"a,b\n1,2\n"), "preset": "nope"}, "no preset named"),
        ({"file": _file(b"a\tb\nx\ty\n"), "preset": "ncvoter"}, "needs: ncid"),
        ({"file": _file(b"first_name\nAna\n"), "on_match": "merge"}, "update or skip"),
        ({"file": _file(b"first_name\nAna\n"), "list": "friends"}, "contacts or electors"),
    ],
)
def test_bad_input_is_a_422_with_a_message(
    admin_api: Client, post: Any, data: dict[str, Any], message: str
) -> None:
    response = post(admin_api, "/api/v1/imports", data)
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not Person.objects.exists()


def test_voting_history_endpoint(admin_api: Client, post: Any, org: Any) -> None:
    person = Person.objects.create(organization=org, list="electors", external_id="AA1")
    content = (
        b'"ncid"\t"election_lbl"\t"election_desc"\t"voting_method"\n'
        b'"AA1"\t"11/05/2024"\t"11/05/2024 GENERAL"\t"IN-PERSON"\n'
    )
    response = post(admin_api, "/api/v1/imports/voting-history", {"file": _file(content)})
    assert response.status_code == 201, response.content
    status = admin_api.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert status["kind"] == "voting_history" and status["counts"]["votes"] == 1
    assert VoteRecord.objects.get().person == person


def test_volunteers_get_403(volunteer_member: Any, post: Any) -> None:
    client = api_client_for(volunteer_member)
    response = post(client, "/api/v1/imports", {"file": _file(b"first_name\nAna\n")})
    assert response.status_code == 403
    assert client.get("/api/v1/imports").status_code == 403
    assert not ImportJob.objects.exists()


def test_presets(admin_api: Client, org: Any) -> None:
    names = [p["name"] for p in admin_api.get("/api/v1/imports/presets").json()]
    assert names[:3] == ["ncvoter", "spoke", "ncvhis"]
    response = admin_api.post(
        "/api/v1/imports/presets",
        {"name": "CRM export", "mapping": {"Nome": "first_name"}, "list": "contacts"},
        content_type="application/json",
    )
    assert response.status_code == 201
    preset_id = response.json()["id"]
    listed = admin_api.get("/api/v1/imports/presets").json()
    assert {"name": "CRM export", "shipped": False}.items() <= listed[-1].items()
    bad = admin_api.post(
        "/api/v1/imports/presets",
        {"name": "spoke", "mapping": {"a": "first_name"}},
        content_type="application/json",
    )
    assert bad.status_code == 422 and "built-in preset" in bad.json()["detail"]
    assert admin_api.delete(f"/api/v1/imports/presets/{preset_id}").status_code == 204
    assert not MappingPreset.objects.exists()


def test_list_query_count(admin_api: Client, org: Any, django_assert_max_num_queries: Any) -> None:
    for i in range(10):
        ImportJob.objects.create(organization=org, original_name=f"f{i}.csv", file="x.csv")
    with django_assert_max_num_queries(6):
        response = admin_api.get("/api/v1/imports")
    assert len(response.json()) == 10

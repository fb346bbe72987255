import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_the_database() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_openapi_document_and_docs_are_served() -> None:
    client = Client()
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Mobiliza API"
    assert "/api/v1/me" in spec.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 200

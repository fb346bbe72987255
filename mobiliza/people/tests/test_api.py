"""People API: people, phones, tags, elector link, votes, history, segments, merge; permissions
and clear 422 errors."""

from __future__ import annotations

import json
from typing import Any

from conftest import api_client_for
from mobiliza.core.models import AuditEvent
from mobiliza.people.models import Person, Segment
from mobiliza.people.tests.factories import (
    ElectionFactory,
    PersonFactory,
    TagFactory,
    add_phone,
    add_tag,
    add_vote,
)

API = "/api/v1"


def _post(client: Any, url: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_people_crud_and_paging(
    admin_api: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    response = _post(
        admin_api,
        f"{API}/people",
        {
            "first_name": "Ana",
            "last_name": "Silva",
            "email": "ANA@example.org",
            "phones": ["912345678", "garbage"],
            "tags": ["volunteer"],
            "country": "PT",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "ana@example.org" and body["tags"] == ["volunteer"]
    assert [(p["number"], p["is_valid"]) for p in body["phones"]] == [
        ("+351912345678", True),
        ("", False),
    ]
    assert body["time_zone"] == "Europe/Lisbon"
    person_id = body["id"]
    response = _post(admin_api, f"{API}/people/{person_id}", {"support_level": 4}, "patch")
    assert response.status_code == 200 and response.json()["support_level"] == 4
    response = _post(admin_api, f"{API}/people/{person_id}", {"support_level": 9}, "patch")
    assert response.status_code == 422 and "1 to 5" in response.json()["detail"]
    for i in range(12):
        add_phone(PersonFactory(organization=org, last_name=f"Z{i:02}"), f"+3519100000{i:02}")
    with django_assert_max_num_queries(12):
        page = admin_api.get(f"{API}/people", {"size": 5}).json()
    seen = [p["id"] for p in page["items"]]
    while page["next"]:
        page = admin_api.get(f"{API}/people", {"size": 5, "after": page["next"]}).json()
        seen.extend(p["id"] for p in page["items"])
    assert len(seen) == len(set(seen)) == 13
    found = admin_api.get(f"{API}/people", {"q": "912345678"}).json()["items"]
    assert [p["id"] for p in found] == [person_id]


def test_phones_tags_elector_votes_history(admin_api: Any, org: Any) -> None:
    person = PersonFactory(organization=org)
    elector = PersonFactory(organization=org, list="electors")
    add_vote(elector, ElectionFactory(organization=org, label="2024 GENERAL"), "MAIL")
    url = f"{API}/people/{person.public_id}"
    assert _post(admin_api, f"{url}/phones", {"number": "+33 6 12 34 56 78"}).status_code == 201
    response = _post(admin_api, f"{url}/phones/remove", {"number": "+33612345678"})
    assert response.status_code == 200 and response.json()["phones"] == []
    assert _post(admin_api, f"{url}/tags", {"tags": ["a", "b"]}, "put").json()["tags"] == ["a", "b"]
    body = _post(admin_api, f"{url}/elector", {"elector_id": str(elector.public_id)}, "put").json()
    assert body["elector_id"] == str(elector.public_id)
    elector_body = admin_api.get(f"{API}/people/{elector.public_id}").json()
    assert elector_body["linked_contact_ids"] == [str(person.public_id)]
    votes = admin_api.get(f"{API}/people/{elector.public_id}/votes").json()
    assert votes[0]["election_label"] == "2024 GENERAL" and votes[0]["voting_method"] == "MAIL"
    history = admin_api.get(f"{url}/history").json()
    assert {h["action"] for h in history} == {"update"}
    assert any("tags" in h["changes"] for h in history)


def test_segments_api(admin_api: Any, org: Any) -> None:
    tag = TagFactory(organization=org, name="volunteer")
    for i in range(3):
        add_tag(PersonFactory(organization=org, last_name=f"V{i}"), tag)
    PersonFactory(organization=org)
    definition = {"op": "and", "children": [{"filter": "tag", "params": {"tag": "volunteer"}}]}
    assert _post(admin_api, f"{API}/segments/count", {"definition": definition}).json() == {
        "count": 3
    }
    bad = _post(admin_api, f"{API}/segments", {"name": "x", "definition": {"filter": "nope"}})
    assert bad.status_code == 422 and "Unknown filter" in bad.json()["detail"]
    created = _post(admin_api, f"{API}/segments", {"name": "Vols", "definition": definition})
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert admin_api.get(f"{API}/segments/{segment_id}/count").json() == {"count": 3}
    people = admin_api.get(f"{API}/segments/{segment_id}/people").json()
    assert len(people["items"]) == 3
    assert len(admin_api.get(f"{API}/people", {"segment": segment_id}).json()["items"]) == 3
    electors = _post(
        admin_api,
        f"{API}/segments",
        {"name": "Electors", "list": "electors", "definition": {}},
    ).json()
    PersonFactory(organization=org, list="electors")
    found = admin_api.get(f"{API}/people", {"segment": electors["id"]}).json()["items"]
    assert [p["list"] for p in found] == ["electors"]
    frozen = _post(admin_api, f"{API}/segments/{segment_id}/freeze", {"name": "Frozen"})
    assert frozen.status_code == 201 and frozen.json()["kind"] == "static"
    filters = {f["key"] for f in admin_api.get(f"{API}/segment-filters").json()}
    assert {"tag", "voted", "distance", "custom_field", "household_size"} <= filters
    fields = {f["key"]: f for f in admin_api.get(f"{API}/person-fields").json()}
    assert fields["voter_id"]["agent_editable"] is False
    assert admin_api.delete(f"{API}/segments/{segment_id}").status_code == 204
    assert not Segment.objects.filter(public_id=segment_id).exists()


def test_merge_and_duplicates_api(admin_api: Any, org: Any) -> None:
    a = PersonFactory(organization=org, email="same@x.org", city="Lisboa")
    b = PersonFactory(organization=org, email="same@x.org", city="Porto")
    groups = admin_api.get(f"{API}/people/duplicates").json()
    assert len(groups) == 1 and groups[0]["rule"] == "email"
    response = _post(
        admin_api,
        f"{API}/people/{a.public_id}/merge",
        {"other_id": str(b.public_id), "choices": {"city": "other"}},
    )
    assert response.status_code == 200 and response.json()["city"] == "Porto"
    assert not Person.objects.filter(pk=b.pk).exists()
    assert AuditEvent.objects.filter(action="merge").count() == 1


def test_api_permissions(org: Any, volunteer_member: Any, organizer_member: Any) -> None:
    volunteer = api_client_for(volunteer_member)
    assert volunteer.get(f"{API}/people").status_code == 403
    organizer = api_client_for(organizer_member)
    assert organizer.get(f"{API}/people").status_code == 200
    person = PersonFactory(organization=org)
    assert (
        _post(
            volunteer, f"{API}/people/{person.public_id}", {"first_name": "X"}, "patch"
        ).status_code
        == 403
    )

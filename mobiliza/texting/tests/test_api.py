"""The texting API: campaigns, assignment, sending with idempotency, conversations, opt-outs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import api_client_for
from mobiliza.texting.models import Conversation, Message, OptOut
from mobiliza.texting.tests.factories import make_campaign, make_people, make_segment, make_texter

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_campaign_lifecycle_through_the_api(org: Any, admin_member: Any) -> None:
    api = api_client_for(admin_member)
    segment = make_segment(org, make_people(org, 5))
    response = post(
        api,
        "/api/v1/texting/campaigns",
        {
            "name": "API",
            "first_message": "Hi {first_name}",
            "segment_id": str(segment.public_id),
            "hours_start": "00:00",
            "hours_end": "23:59:59",
        },
    )
    assert response.status_code == 201, response.content
    campaign_id = response.json()["id"]
    response = post(api, f"/api/v1/texting/campaigns/{campaign_id}/status", {"status": "active"})
    assert response.json()["stats"]["contacts"] == 5
    bad = post(api, "/api/v1/texting/campaigns", {"name": "x", "first_message": "{nope}"})
    assert bad.status_code == 422 and "Unknown merge field" in bad.json()["detail"]


def test_texter_requests_sends_once_and_reads(org: Any) -> None:
    campaign = make_campaign(org, people=3)
    texter = make_texter(campaign)
    api = api_client_for(texter)
    base = f"/api/v1/texting/campaigns/{campaign.public_id}"
    assert post(api, f"{base}/assignments/request", {"count": 2}).json() == {"count": 2}
    conversations = api.get(f"{base}/conversations").json()
    assert len(conversations) == 2
    url = f"/api/v1/texting/conversations/{conversations[0]['id']}/messages"
    first = post(api, url, {"idempotency_key": "a", "first": True})
    again = post(api, url, {"idempotency_key": "b", "first": True})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    reply = post(api, url, {"idempotency_key": "r1", "body": "Thanks!"})
    reply_again = post(api, url, {"idempotency_key": "r1", "body": "Thanks!"})
    assert reply.status_code == 201 and reply_again.status_code == 200
    detail = api.get(f"/api/v1/texting/conversations/{conversations[0]['id']}").json()
    assert [m["body"] for m in detail["messages"]][-1] == "Thanks!"
    assert Message.objects.count() == 2
    empty = post(api, url, {"idempotency_key": "r2", "body": "  "})
    assert empty.status_code == 422


def test_opt_out_via_api_blocks_sending(org: Any, admin_member: Any) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    api = api_client_for(texter)
    post(api, f"/api/v1/texting/campaigns/{campaign.public_id}/assignments/request", {})
    conversation = Conversation.objects.get()
    admin_api = api_client_for(admin_member)
    created = post(admin_api, "/api/v1/texting/opt-outs", {"number": conversation.phone_e164})
    assert created.status_code == 201
    assert (
        post(admin_api, "/api/v1/texting/opt-outs", {"number": conversation.phone_e164}).status_code
        == 200
    )
    assert post(admin_api, "/api/v1/texting/opt-outs", {"number": "abc"}).status_code == 422
    refused = post(
        api,
        f"/api/v1/texting/conversations/{conversation.public_id}/messages",
        {"idempotency_key": "a", "first": True},
    )
    assert refused.status_code == 422 and "[opted_out]" in refused.json()["detail"]
    assert OptOut.objects.count() == 1 and not Message.objects.exists()
    assert len(admin_api.get("/api/v1/texting/opt-outs").json()) == 1


def test_volunteer_cannot_create_or_reassign(org: Any, volunteer_member: Any) -> None:
    api = api_client_for(volunteer_member)
    assert (
        post(api, "/api/v1/texting/campaigns", {"name": "x", "first_message": "y"}).status_code
        == 403
    )
    assert post(api, "/api/v1/texting/reassign", {"conversation_ids": []}).status_code == 403

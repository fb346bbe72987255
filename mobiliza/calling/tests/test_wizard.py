"""The wizard end to end through the pages, each step's validation, and the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import client_for
from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallTarget,
    FieldRule,
    OperationUser,
)
from mobiliza.calling.tests.factories import make_household, make_operation, make_person
from mobiliza.people.models import Election, Tag, VoteRecord

pytestmark = pytest.mark.django_db


def _step(client: Client, op: CallOperation, n: int) -> str:
    return f"/calling/{op.public_id}/edit/{n}/"


def _post(
    client: Client, op: CallOperation, n: int, data: dict[str, Any], nav: str = "next"
) -> Any:
    return client.post(_step(client, op, n), {**data, "nav": nav})


def test_wizard_end_to_end_with_validation(org: Any, organizer_member: Any) -> None:
    client = client_for(organizer_member)
    household = make_household(org)
    for _ in range(4):
        make_person(org)
    voter = make_person(org, household=household)
    housemate = make_person(org, household=household)
    election = Election.objects.create(organization=org, label="2026 GENERAL")
    VoteRecord.objects.create(organization=org, person=voter, election=election)
    assert client.get("/calling/").status_code == 200
    response = client.post("/calling/new/")
    op = CallOperation.objects.get(organization=org)
    assert response.url == _step(client, op, 1)
    assert op.is_draft and op.users.get().role == OperationUser.Role.OWNER

    # 1 version: required, explained
    page = client.get(_step(client, op, 1)).content.decode()
    assert "one question at a time" in page and "three columns" in page
    assert _post(client, op, 1, {"version": "bogus"}).status_code == 422
    assert _post(client, op, 1, {"version": "specialized"}).url == _step(client, op, 2)
    # jumping ahead past the furthest step is refused
    assert client.get(_step(client, op, 5)).status_code == 302
    # 2 source
    assert _post(client, op, 2, {"source": "martians"}).status_code == 422
    assert _post(client, op, 2, {"source": "contacts"}).status_code == 302
    # 3 details: defaults today / +1 month, validation of name and window
    page = client.get(_step(client, op, 3)).content.decode()
    op.refresh_from_db()
    assert op.starts_on is not None and op.ends_at is not None
    assert (op.ends_at.date() - op.starts_on).days >= 28
    details = {
        "name": "",
        "starts_on": "2026-01-01",
        "ends_at": "2036-01-01T20:00",
        "window_start": "18:00",
        "window_end": "09:00",
        "days_of_week": ["0", "1"],
        "script": "Hello {first_name}, I am {agent_first_name}. Voter id {voter_id}.",
    }
    bad = _post(client, op, 3, details)
    assert bad.status_code == 422
    assert "must end after it starts" in bad.content.decode()
    details.update(name="GOTV calls", window_start="00:00", window_end="23:59")
    details["days_of_week"] = [str(d) for d in range(7)]
    assert _post(client, op, 3, details, nav="stay").status_code == 302
    page = client.get(_step(client, op, 3)).content.decode()
    # the preview fills visible fields; a hidden field (voter id) shows as …
    assert "Hello Ana" in page and "Voter id …" in page
    assert _post(client, op, 3, details).status_code == 302
    # 4 method
    assert _post(client, op, 4, {"call_method": "pigeon"}).status_code == 422
    assert _post(client, op, 4, {"call_method": "own_phone"}).status_code == 302
    # 5 survey: none is fine; a bogus id is refused
    assert _post(client, op, 5, {"survey": "not-a-uuid"}).status_code == 422
    assert _post(client, op, 5, {"survey": ""}).status_code == 302
    # 6 recycling: auto-detected greyed out with own phone; bad numbers refused
    page = client.get(_step(client, op, 6)).content.decode()
    assert "nothing is detected automatically" in page
    no_answer = op.recycling_rules.get(status__key="no_answer")
    prefix = f"r{no_answer.status_id}_"
    assert (
        _post(
            client, op, 6, {prefix + "on": "on", prefix + "max": "99", prefix + "interval": "10"}
        ).status_code
        == 422
    )
    assert (
        _post(
            client, op, 6, {prefix + "on": "on", prefix + "max": "3", prefix + "interval": "90"}
        ).status_code
        == 302
    )
    no_answer.refresh_from_db()
    assert (no_answer.enabled, no_answer.max_further_calls, no_answer.interval_minutes) == (
        True,
        3,
        90,
    )
    assert not op.recycling_rules.get(
        status__key="voicemail"
    ).enabled  # unchecked: removed after one
    # 7 blocking: tag rule without a tag refused; vote rule with household accepted
    assert _post(client, op, 7, {"tag_on": "on", "tag_status": "removed_tag"}).status_code == 422
    ok = _post(
        client,
        op,
        7,
        {
            "vote_on": "on",
            "vote_election": str(election.public_id),
            "vote_status": "removed_voted",
            "vote_reason": "Already voted",
            "vote_household": "on",
        },
    )
    assert ok.status_code == 302
    rule = BlockingRule.objects.get(operation=op)
    assert rule.kind == "vote" and rule.apply_to_household
    # 8 fields: an editable voter id is refused, nothing changes
    before = list(FieldRule.objects.filter(operation=op).values_list("field_key", "visibility"))
    assert (
        _post(
            client, op, 8, {"order": ["voter_id", "first_name"], "vis_voter_id": "editable"}
        ).status_code
        == 422
    )
    assert (
        list(FieldRule.objects.filter(operation=op).values_list("field_key", "visibility"))
        == before
    )
    fields = {
        "order": ["last_name", "first_name", "email"],
        "vis_first_name": "visible",
        "vis_last_name": "visible",
        "hl_last_name": "on",
        "vis_email": "editable",
    }
    assert _post(client, op, 8, fields).status_code == 302
    keys = list(
        FieldRule.objects.filter(operation=op)
        .order_by("position")
        .values_list("field_key", flat=True)
    )
    assert keys[:3] == ["last_name", "first_name", "email"]
    # 9 users: share link role + QR
    page = client.get(_step(client, op, 9)).content.decode()
    assert op.share_token in page
    assert (
        _post(
            client,
            op,
            9,
            {
                "users_action": "save",
                "share_role": "agent",
                "share_enabled": "on",
                "share_qr": "on",
            },
            nav="stay",
        ).status_code
        == 302
    )
    assert "<svg" in client.get(_step(client, op, 9)).content.decode()
    assert (
        _post(client, op, 9, {"users_action": "add", "member": "nobody"}, nav="stay").status_code
        == 422
    )
    assert _post(client, op, 9, {}).status_code == 302
    # 10 contact list: the count after blocking (voter and housemate removed)
    page = client.get(_step(client, op, 10)).content.decode()
    assert "<strong>4</strong>" in page
    assert _post(client, op, 10, {"segment": ""}).status_code == 302
    # 11 finish -> dashboard
    response = _post(client, op, 11, {})
    assert response.url == "/calling/"
    op.refresh_from_db()
    assert not op.is_draft and op.state == "running"
    removed = CallTarget.objects.filter(operation=op, state="removed")
    assert set(removed.values_list("person_id", flat=True)) == {voter.id, housemate.id}
    assert set(removed.values_list("removed_reason", flat=True)) == {"Already voted"}
    page = client.get("/calling/").content.decode()
    assert "GOTV calls" in page and "Running" in page
    share = client.get(f"/calling/{op.public_id}/share/").content.decode()
    assert op.share_token in share and "<svg" in share


def test_finish_refuses_an_incomplete_draft(org: Any, organizer_member: Any) -> None:
    client = client_for(organizer_member)
    client.post("/calling/new/")
    op = CallOperation.objects.get(organization=org)
    op.wizard_step = 11
    op.save()
    response = _post(client, op, 11, {})
    assert response.status_code == 422
    assert "Give the operation a name" in response.content.decode()
    op.refresh_from_db()
    assert op.is_draft


def test_volunteers_cannot_create_or_edit(org: Any, volunteer_member: Any) -> None:
    client = client_for(volunteer_member)
    assert client.post("/calling/new/").status_code == 403
    op = make_operation(org, people=1)
    assert client.get(_step(client, op, 1)).status_code == 404
    # an agent sees the operation on the dashboard and the calling screen, not the wizard
    from mobiliza.calling.services import operation_user_add

    operation_user_add(operation=op, membership=volunteer_member, role="agent", actor=None)
    assert "Phone bank" in client.get("/calling/").content.decode()
    assert client.get(f"/calling/{op.public_id}/call/").status_code == 200
    assert client.get(_step(client, op, 1)).status_code == 404
    assert client.get(f"/calling/{op.public_id}/export/").status_code == 404


def test_dashboard_menu_actions_and_export(org: Any, organizer_member: Any) -> None:
    client = client_for(organizer_member)
    op = make_operation(org, owner=organizer_member, people=2)
    assert client.post(f"/calling/{op.public_id}/pause/").status_code == 302
    op.refresh_from_db()
    assert op.state == "paused"
    client.post(f"/calling/{op.public_id}/resume/")
    client.post(f"/calling/{op.public_id}/duplicate/")
    assert CallOperation.objects.filter(organization=org).count() == 2
    response = client.get(f"/calling/{op.public_id}/export/")
    assert response.status_code == 200
    assert b"status" in b"".join(response.streaming_content)
    from mobiliza.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="export", object_id=str(op.public_id)).exists()
    client.post(f"/calling/{op.public_id}/archive/")
    op.refresh_from_db()
    assert op.state == "archived"


def test_dashboard_query_count_does_not_grow(
    org: Any, organizer_member: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(organizer_member)
    for _ in range(6):
        make_operation(org, owner=organizer_member, people=2)
    with django_assert_max_num_queries(14):
        assert client.get("/calling/").status_code == 200


def test_tag_rule_unknown_blocking_and_restore(org: Any, organizer_member: Any) -> None:
    client = client_for(organizer_member)
    op = make_operation(org, owner=organizer_member, people=0, build=False)
    tagged = make_person(org)
    make_person(org)
    tag = Tag.objects.create(organization=org, name="hostile")
    from mobiliza.people.models import PersonTag

    PersonTag.objects.create(person=tagged, tag=tag)
    op.wizard_step = 11
    op.save()
    assert (
        _post(
            client,
            op,
            7,
            {"tag_on": "on", "tag_tag": str(tag.public_id), "tag_status": "removed_tag"},
        ).status_code
        == 302
    )
    assert _post(client, op, 11, {}).status_code == 302
    target = CallTarget.objects.get(operation=op, person=tagged)
    assert target.state == "removed"
    assert client.post(f"/calling/targets/{target.public_id}/restore/").status_code == 302
    target.refresh_from_db()
    assert target.state == "ready"


def test_admins_extend_the_status_list(org: Any, admin_member: Any, organizer_member: Any) -> None:
    client = client_for(admin_member)
    assert client.get("/calling/statuses/").status_code == 200
    bad = client.post("/calling/statuses/", {"label_en": ""})
    assert bad.status_code == 422
    ok = client.post(
        "/calling/statuses/",
        {"label_en": "Wants a yard sign", "label_fr": "Veut une pancarte", "is_reached": "on"},
    )
    assert ok.status_code == 302
    from mobiliza.calling.models import CallStatus

    status = CallStatus.objects.get(organization=org, key="wants-a-yard-sign")
    assert status.labels["fr"] == "Veut une pancarte" and status.is_reached
    assert client_for(organizer_member).get("/calling/statuses/").status_code == 403
    # new operations offer it in the recycling table
    op = make_operation(org, build=False)
    assert op.recycling_rules.filter(status=status).exists()


def test_dashboard_rows_partial_for_live_refresh(org: Any, organizer_member: Any) -> None:
    client = client_for(organizer_member)
    make_operation(org, owner=organizer_member, people=2)
    page = client.get("/calling/", headers={"HX-Request": "true"}).content.decode()
    assert "Phone bank" in page and "<html" not in page


def test_users_step_adds_and_removes_members(org: Any, organizer_member: Any) -> None:
    from mobiliza.accounts.tests.factories import make_member

    client = client_for(organizer_member)
    op = make_operation(org, owner=organizer_member, build=False)
    op.wizard_step = 9
    op.save()
    colleague = make_member(org, "volunteer", full_name="Zoe Caller")
    found = client.get("/accounts/members/search/?q=Zoe").content.decode()
    assert str(colleague.public_id) in found
    r = _post(
        client,
        op,
        9,
        {"users_action": "add", "member": str(colleague.public_id), "role": "owner"},
        nav="stay",
    )
    assert r.status_code == 302
    user = OperationUser.objects.get(operation=op, membership=colleague)
    assert user.role == "owner"
    _post(
        client, op, 9, {"users_action": "remove", "operation_user": str(user.public_id)}, nav="stay"
    )
    assert not OperationUser.objects.filter(operation=op, membership=colleague).exists()
    # the last owner cannot be removed
    last = OperationUser.objects.get(operation=op, role="owner")
    assert (
        _post(
            client,
            op,
            9,
            {"users_action": "remove", "operation_user": str(last.public_id)},
            nav="stay",
        ).status_code
        == 422
    )
    # another organization's member cannot be added
    from mobiliza.accounts.tests.factories import OrganizationFactory

    stranger = make_member(OrganizationFactory(), "volunteer")
    assert (
        _post(
            client, op, 9, {"users_action": "add", "member": str(stranger.public_id)}, nav="stay"
        ).status_code
        == 422
    )


def test_pwa_service_worker_and_manifest_link(organizer_client: Any) -> None:
    response = organizer_client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"caches.open" in response.content
    page = organizer_client.get("/calling/").content.decode()
    assert 'rel="manifest"' in page and "serviceWorker.register" in page
    assert "Call operations" in page

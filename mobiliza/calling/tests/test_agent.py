"""The agent flow through the API and pages: hidden fields, edits, idempotency, share links."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import api_client_for, client_for
from mobiliza.accounts.models import Membership
from mobiliza.accounts.tests.factories import PASSWORD, UserFactory
from mobiliza.calling import services
from mobiliza.calling.models import CallAttempt, CallOperation, FieldRule, OperationUser
from mobiliza.calling.tests.factories import make_agent, make_operation, make_person
from mobiliza.calling.window import Window, inside, next_opening, zones_inside
from mobiliza.core.models import AuditEvent
from mobiliza.people.models import Person

pytestmark = pytest.mark.django_db

SECRET_VOTER_ID = "VOTER-SECRET-9931"
SECRET_NOTE = "hidden-note-7781"


def _post(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def _hidden_setup(org: Any) -> tuple[CallOperation, Membership, Client]:
    op = make_operation(org, people=0, build=False)
    make_person(org, voter_id=SECRET_VOTER_ID, notes=SECRET_NOTE, email="ana@example.org")
    services.field_rules_save(
        operation=op,
        rows=[
            services.FieldRuleInput("first_name", "visible", True),
            services.FieldRuleInput("email", "editable", False),
            services.FieldRuleInput("support_level", "editable", False),
            services.FieldRuleInput("voter_id", "hidden", False),
            services.FieldRuleInput("notes", "hidden", False),
        ],
    )
    op.script = "Hi {first_name}, your voter id is {voter_id} ({notes})."
    op.is_draft = False
    op.save()
    from mobiliza.calling.dispenser import list_build

    list_build(operation=op)
    agent = make_agent(op)
    return op, agent, api_client_for(agent)


def test_hidden_fields_never_reach_the_agent(org: Any) -> None:
    op, agent, api = _hidden_setup(org)
    response = _post(api, f"/api/v1/call-operations/{op.public_id}/claim")
    assert response.status_code == 200
    body = response.content.decode()
    assert SECRET_VOTER_ID not in body and SECRET_NOTE not in body
    data = response.json()["target"]
    assert [f["key"] for f in data["fields"]] == ["first_name", "email", "support_level"]
    assert data["tel_url"].startswith("tel:+")
    assert "…" in data["script"] and "Ana" in data["script"]
    # The page and the other endpoints don't leak either.
    page = client_for(agent).get(f"/calling/{op.public_id}/call/").content.decode()
    assert SECRET_VOTER_ID not in page and SECRET_NOTE not in page
    tid = data["id"]
    for url in (f"/api/v1/call-targets/{tid}/heartbeat",):
        assert SECRET_VOTER_ID not in _post(api, url).content.decode()
    result = _post(
        api,
        f"/api/v1/call-targets/{tid}/result",
        {"status": "completed", "idempotency_key": uuid.uuid4().hex},
    )
    assert SECRET_VOTER_ID not in result.content.decode()


def test_edits_of_allowed_fields_are_saved_and_audited_others_refused(org: Any) -> None:
    op, _agent, api = _hidden_setup(org)
    tid = _post(api, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    url = f"/api/v1/call-targets/{tid}/result"
    for edits in (
        {"voter_id": "X"},
        {"notes": "x"},
        {"first_name": "Bob"},
        {"birth_date": "2000-01-01"},
    ):
        refused = _post(
            api,
            url,
            {"status": "completed", "idempotency_key": uuid.uuid4().hex, "field_edits": edits},
        )
        assert refused.status_code == 422, edits
    person = Person.objects.get(organization=org)
    assert person.voter_id == SECRET_VOTER_ID and person.first_name.startswith("Ana")
    assert not CallAttempt.objects.exists()
    ok = _post(
        url=url,
        client=api,
        body={
            "status": "completed",
            "idempotency_key": uuid.uuid4().hex,
            "field_edits": {"email": "new@example.org"},
        },
    )
    assert ok.status_code == 201
    person.refresh_from_db()
    assert person.email == "new@example.org"
    assert AuditEvent.objects.filter(object_id=str(person.public_id), action="update").exists()


def test_never_editable_fields_cannot_be_made_editable(org: Any) -> None:
    from django.core.exceptions import ValidationError

    op = make_operation(org, build=False)
    for key in ("birth_date", "donations_this_year", "polling_place", "voter_id", "voting_history"):
        with pytest.raises(ValidationError):
            services.field_rules_save(
                operation=op, rows=[services.FieldRuleInput(key, "editable", False)]
            )
    admin_api = api_client_for(op.isolation_owner)
    response = admin_api.put(
        f"/api/v1/call-operations/{op.public_id}/fields",
        data=json.dumps([{"field_key": "voter_id", "visibility": "editable"}]),
        content_type="application/json",
    )
    assert response.status_code == 422


def test_result_api_is_idempotent_and_conflicts_are_409(org: Any) -> None:
    op = make_operation(org, people=2)
    a, b = make_agent(op), make_agent(op)
    api_a, api_b = api_client_for(a), api_client_for(b)
    tid = _post(api_a, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    body = {"status": "no_answer", "idempotency_key": uuid.uuid4().hex, "notes": "rang out"}
    first = _post(api_a, f"/api/v1/call-targets/{tid}/result", body)
    second = _post(api_a, f"/api/v1/call-targets/{tid}/result", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["replayed"] and first.json()["id"] == second.json()["id"]
    assert CallAttempt.objects.count() == 1
    # b never held it
    other = _post(
        api_b,
        f"/api/v1/call-targets/{tid}/result",
        {"status": "completed", "idempotency_key": uuid.uuid4().hex},
    )
    assert other.status_code == 409
    assert _post(api_b, f"/api/v1/call-targets/{tid}/heartbeat").status_code == 409


def test_a_key_replayed_after_the_target_came_back_moves_nothing(org: Any) -> None:
    """The agent holds the same person again after a recycle and resends an old result (a retry
    that arrived late): the first attempt is replayed, the target stays held, nothing counted."""
    from mobiliza.calling.models import CallTarget

    op = make_operation(org, people=1)
    agent = make_agent(op)
    api = api_client_for(agent)
    tid = _post(api, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    old = {"status": "no_answer", "idempotency_key": uuid.uuid4().hex}
    first = _post(api, f"/api/v1/call-targets/{tid}/result", old)
    assert first.status_code == 201
    CallTarget.objects.filter(public_id=tid).update(available_at=timezone.now())
    again = _post(api, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    assert again == tid
    before = CallTarget.objects.values("state", "held_by_id", "attempts").get(public_id=tid)
    replay = _post(api, f"/api/v1/call-targets/{tid}/result", old)
    assert replay.status_code == 200 and replay.json()["replayed"]
    assert replay.json()["id"] == first.json()["id"]
    after = CallTarget.objects.values("state", "held_by_id", "attempts").get(public_id=tid)
    assert after == before and after["held_by_id"] == agent.id and after["attempts"] == 1
    new = {"status": "completed", "idempotency_key": uuid.uuid4().hex}
    assert _post(api, f"/api/v1/call-targets/{tid}/result", new).status_code == 201
    assert CallTarget.objects.get(public_id=tid).attempts == 2
    assert CallAttempt.objects.filter(target__public_id=tid).count() == 2


def test_claim_endpoint_query_count(org: Any, django_assert_max_num_queries: Any) -> None:
    op = make_operation(org, people=5)
    agent = make_agent(op)
    api = api_client_for(agent)
    _post(api, f"/api/v1/call-operations/{op.public_id}/claim")  # warm up token etc.
    tid = CallAttempt
    with django_assert_max_num_queries(20):
        response = _post(api, f"/api/v1/call-operations/{op.public_id}/claim")
    assert response.status_code == 200
    tid = response.json()["target"]["id"]
    with django_assert_max_num_queries(30):
        assert (
            _post(
                api,
                f"/api/v1/call-targets/{tid}/result",
                {"status": "completed", "idempotency_key": uuid.uuid4().hex},
            ).status_code
            == 201
        )


def test_empty_claim_explains_why(org: Any) -> None:
    op = make_operation(org, people=1)
    a, b = make_agent(op), make_agent(op)
    _post(api_client_for(a), f"/api/v1/call-operations/{op.public_id}/claim")
    data = _post(api_client_for(b), f"/api/v1/call-operations/{op.public_id}/claim").json()
    assert data["target"] is None
    assert data["reasons"]["held_by_other_agents"] == 1
    assert data["next_available_at"] is not None


def test_non_members_of_the_operation_get_404(org: Any, volunteer_member: Any) -> None:
    op = make_operation(org, people=1)
    api = api_client_for(volunteer_member)
    assert _post(api, f"/api/v1/call-operations/{op.public_id}/claim").status_code == 404


# --- share links ----------------------------------------------------------------------------
def test_share_link_sign_up_joins_as_agent(org: Any) -> None:
    op = make_operation(org, people=1)
    url = f"/calling/join/{op.share_token}/"
    visitor = Client()
    page = visitor.get(url).content.decode()
    assert "/accounts/signup/?next=" in page
    response = visitor.post(
        f"/accounts/signup/?next={url}",
        {
            "email": "newcomer@example.org",
            "full_name": "New Comer",
            "password": PASSWORD,
            "password2": PASSWORD,
            "next": url,
        },
    )
    assert response.status_code == 302
    assert visitor.post(url).status_code == 302
    membership = Membership.objects.get(user__email="newcomer@example.org", organization=org)
    assert membership.role == "volunteer"
    assert OperationUser.objects.get(operation=op, membership=membership).role == "agent"


def test_share_link_owner_role_and_disabled_or_regenerated_links(org: Any) -> None:
    op = make_operation(org, people=1)
    owner = op.isolation_owner
    user = UserFactory()
    visitor = Client()
    visitor.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    services.share_link_update(operation=op, actor=owner.user, role="owner", qr=True)
    assert visitor.post(f"/calling/join/{op.share_token}/").status_code == 302
    joined = OperationUser.objects.get(operation=op, membership__user=user)
    assert joined.role == "owner"
    old = op.share_token
    services.share_link_update(operation=op, actor=owner.user, regenerate=True)
    assert Client().get(f"/calling/join/{old}/").status_code == 404
    services.share_link_update(operation=op, actor=owner.user, enabled=False)
    late = Client()
    late.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    assert late.get(f"/calling/join/{op.share_token}/").status_code == 404
    assert late.post(f"/calling/join/{op.share_token}/").status_code == 404
    assert not OperationUser.objects.filter(
        operation=op, membership__user__email=late.session.get("x", "")
    ).exists()


def test_qr_encodes_the_same_link(org: Any, organizer_member: Any) -> None:
    op = make_operation(org, owner=organizer_member, people=1)
    client = client_for(organizer_member)
    services.share_link_update(operation=op, actor=organizer_member.user, qr=False)
    assert "<svg" not in client.get(f"/calling/{op.public_id}/share/").content.decode()
    services.share_link_update(operation=op, actor=organizer_member.user, qr=True)
    page = client.get(f"/calling/{op.public_id}/share/").content.decode()
    assert "<svg" in page and op.share_token in page


# --- the calling window, across time zones and DST -------------------------------------------
ZONES = [
    "Europe/Lisbon",
    "Europe/Paris",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
    "Atlantic/Azores",
    "UTC",
]
instants = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)
windows = st.tuples(st.integers(0, 22), st.integers(0, 59), st.integers(1, 12)).map(
    lambda t: (dt.time(t[0], t[1]), dt.time(min(23, t[0] + t[2]), t[1]))
)


@settings(max_examples=300, deadline=None)
@given(now=instants, win=windows, days=st.sets(st.integers(0, 6), min_size=1))
def test_zones_inside_matches_local_clock(now: dt.datetime, win: Any, days: set[int]) -> None:
    from zoneinfo import ZoneInfo

    window = Window(win[0], win[1], frozenset(days))
    chosen = set(zones_inside(window, ZONES, now))
    for name in ZONES:
        local = now.astimezone(ZoneInfo(name))
        expected = local.weekday() in days and win[0] <= local.time() < win[1]
        assert (name in chosen) == expected, (name, local)
        opening = next_opening(window, name, now)
        if opening is not None:
            assert opening >= now and inside(window, name, opening)
            # nothing in between opens earlier (check on the minute grid)
            if opening > now:
                probe = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
                steps = 0
                while probe < opening and steps < 50:
                    assert not inside(window, name, probe)
                    probe += dt.timedelta(minutes=37)
                    steps += 1


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(now=instants, win=windows)
def test_nobody_is_handed_out_outside_their_window(org: Any, now: dt.datetime, win: Any) -> None:
    from zoneinfo import ZoneInfo

    from mobiliza.calling.dispenser import list_build, target_claim

    op = CallOperation.objects.filter(organization=org, name="hyp").first()
    if op is None:
        op = make_operation(org, people=0, build=False, name="hyp")
        for name in ZONES:
            make_person(org, time_zone=name)
        op.is_draft = False
        op.save()
        list_build(operation=op)
        op.agent = make_agent(op)  # type: ignore[attr-defined]
    agent = OperationUser.objects.filter(operation=op, role="agent").first().membership
    op.window_start, op.window_end = win
    op.starts_on = dt.date(2024, 1, 1)
    op.ends_at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    op.save()
    from mobiliza.calling.models import CallTarget

    CallTarget.objects.filter(operation=op).update(
        held_by=None, lease_expires_at=None, available_at=now - dt.timedelta(days=1)
    )
    handed = 0
    for _ in range(len(ZONES)):
        claim = target_claim(operation=op, agent=agent, now=now)
        if claim.target is None:
            break
        local = now.astimezone(ZoneInfo(claim.target.time_zone))
        assert win[0] <= local.time() < win[1], (claim.target.time_zone, local)
        from mobiliza.calling.dispenser import target_release

        target_release(target=claim.target, agent=agent, now=now, skip=True)
        handed += 1
    expected = sum(1 for z in ZONES if win[0] <= now.astimezone(ZoneInfo(z)).time() < win[1])
    assert handed == expected


def test_dst_gap_and_overlap() -> None:
    # Lisbon springs forward at 01:00 UTC on 2026-03-29 (01:00 -> 02:00 local).
    window = Window(dt.time(1, 30), dt.time(2, 30), frozenset(range(7)))
    before = dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC)  # 00:59 local
    opening = next_opening(window, "Europe/Lisbon", before)
    assert opening == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 02:00 local, first valid
    assert inside(window, "Europe/Lisbon", opening)
    # New York: 2026-11-01 01:30 happens twice; both are inside a 01:00-02:00 window.
    window = Window(dt.time(1, 0), dt.time(2, 0), frozenset(range(7)))
    assert inside(window, "America/New_York", dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC))
    assert inside(window, "America/New_York", dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC))
    assert not inside(window, "America/New_York", dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC))


def test_blocking_at_claim_time_with_household(org: Any) -> None:
    """People vote during the campaign: the rule is applied again when handing out."""
    from mobiliza.calling.dispenser import list_build, target_claim
    from mobiliza.calling.models import CallStatus, CallTarget
    from mobiliza.calling.tests.factories import make_household
    from mobiliza.people.models import Election, VoteRecord

    op = make_operation(org, people=0, build=False)
    home = make_household(org)
    voter = make_person(org, household=home)
    mate = make_person(org, household=home)
    other = make_person(org)
    election = Election.objects.create(organization=org, label="E1")
    services.blocking_save(
        operation=op,
        rules=[
            services.BlockingInput(
                kind="vote",
                params={"election_id": str(election.public_id)},
                removal_status=CallStatus.objects.get(organization=org, key="removed_voted"),
                reason="Already voted",
                apply_to_household=True,
            )
        ],
    )
    op.is_draft = False
    op.save()
    list_build(operation=op)
    assert CallTarget.objects.filter(operation=op, state="ready").count() == 3
    VoteRecord.objects.create(organization=org, person=voter, election=election)  # votes now
    agent = make_agent(op)
    claim = target_claim(operation=op, agent=agent, now=timezone.now())
    assert claim.target is not None and claim.target.person_id == other.id
    states = dict(CallTarget.objects.filter(operation=op).values_list("person_id", "state"))
    assert states[voter.id] == "removed" and states[mate.id] == "removed"
    assert CallTarget.objects.get(operation=op, person=mate).removed_reason == "Already voted"
    # restorable
    services.target_restore(
        target=CallTarget.objects.get(operation=op, person=mate), actor=agent.user
    )
    assert CallTarget.objects.get(operation=op, person=mate).state == "ready"


def test_hidden_rule_default_keeps_everything_else_hidden(org: Any) -> None:
    op = make_operation(org, build=False)
    rules = dict(FieldRule.objects.filter(operation=op).values_list("field_key", "visibility"))
    assert rules["voter_id"] == "hidden" and rules["birth_date"] == "hidden"


def test_survey_answers_are_saved_once_and_counted_for_the_key_question(org: Any) -> None:
    from mobiliza.calling.selectors import operation_stats
    from mobiliza.surveys.models import Answer, Question
    from mobiliza.surveys.tests.factories import make_survey

    survey = make_survey(org)
    op = make_operation(org, people=2)
    op.survey = survey
    op.key_question = Question.objects.get(survey=survey, key="support")
    op.save()
    agent = make_agent(op)
    api = api_client_for(agent)
    tid = _post(api, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    body = {
        "status": "completed",
        "idempotency_key": uuid.uuid4().hex,
        "answers": {"support": "yes", "age": 44},
    }
    assert _post(api, f"/api/v1/call-targets/{tid}/result", body).status_code == 201
    assert _post(api, f"/api/v1/call-targets/{tid}/result", body).status_code == 200
    assert Answer.objects.filter(source_type="call_attempt").count() == 2
    stats = operation_stats(operation=op)
    assert stats["key_answers"] == [{"answer": "Yes", "n": 1}]
    # a bad answer is refused and nothing is stored
    tid2 = _post(api, f"/api/v1/call-operations/{op.public_id}/claim").json()["target"]["id"]
    bad = {
        "status": "completed",
        "idempotency_key": uuid.uuid4().hex,
        "answers": {"support": "banana"},
    }
    assert _post(api, f"/api/v1/call-targets/{tid2}/result", bad).status_code == 422
    assert CallAttempt.objects.filter(operation=op).count() == 1
    # the calling page carries the survey description for the runner
    page = client_for(agent).get(f"/calling/{op.public_id}/call/").content.decode()
    assert "Will you support us?" in page

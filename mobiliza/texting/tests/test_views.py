"""Pages: create a campaign, join by link, send first messages, answer in the thread, supervise."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import client_for
from mobiliza.accounts.models import Membership
from mobiliza.accounts.tests.factories import UserFactory, make_member
from mobiliza.texting.models import Conversation, Message, OptOut, TextCampaign
from mobiliza.texting.services import assignment_request, canned_response_create, message_send
from mobiliza.texting.tests.factories import make_campaign, make_people, make_segment, make_texter

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_organizer_creates_a_campaign_and_starts_it(org: Any, organizer_client: Client) -> None:
    segment = make_segment(org, make_people(org, 4))
    response = organizer_client.post(
        reverse("texting:create"),
        {
            "name": "Saturday action",
            "segment": segment.pk,
            "first_message": "Hi {first_name}, it's {agent_first_name}!",
            "opt_out_sentence": "Reply STOP to stop.",
            "hours_start": "09:00",
            "hours_end": "21:00",
            "max_per_texter": 100,
            "batch_size": 10,
        },
    )
    campaign = TextCampaign.objects.get()
    assert response.status_code == 302
    assert organizer_client.get(response["Location"]).status_code == 200
    organizer_client.post(
        reverse("texting:status", args=[campaign.public_id]), {"status": "active"}
    )
    campaign.refresh_from_db()
    assert campaign.status == "active" and campaign.conversations.count() == 4


def test_bad_merge_field_is_refused_with_a_message(org: Any, organizer_client: Client) -> None:
    response = organizer_client.post(
        reverse("texting:create"),
        {
            "name": "Oops",
            "first_message": "Hi {frist_name}",
            "hours_start": "09:00",
            "hours_end": "21:00",
            "max_per_texter": 100,
            "batch_size": 10,
        },
    )
    assert response.status_code == 200
    assert "Unknown merge field" in response.content.decode()
    assert not TextCampaign.objects.exists()


def test_join_by_link_then_request_and_send(org: Any) -> None:
    campaign = make_campaign(org, people=3, batch_size=2)
    newcomer = UserFactory()
    client = Client()
    client.force_login(newcomer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("texting:join", args=[campaign.join_token])
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response["Location"] == reverse("texting:send", args=[campaign.public_id])
    membership = Membership.objects.get(user=newcomer, organization=org)
    assert membership.role == "volunteer"
    client.post(reverse("texting:request", args=[campaign.public_id]))
    assert Conversation.objects.filter(assigned_to=membership).count() == 2
    page = client.get(reverse("texting:send", args=[campaign.public_id]))
    assert b'data-testid="send-first"' in page.content
    conversation = Conversation.objects.filter(assigned_to=membership).order_by("id").first()
    assert conversation is not None
    send_url = reverse("texting:conversation_send", args=[conversation.public_id])
    for _ in range(3):  # a triple click
        response = client.post(send_url, {"first": "1", "idempotency_key": "x"}, headers=HTMX)
        assert response.status_code == 200
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert b'data-testid="send-first"' in response.content  # the next contact's card


def test_anonymous_join_goes_to_login(org: Any) -> None:
    campaign = make_campaign(org, people=1)
    response = Client().get(reverse("texting:join", args=[campaign.join_token]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_thread_canned_response_records_answer_and_tag(
    org: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from mobiliza.surveys.tests.factories import make_survey

    survey = make_survey(org)
    campaign = make_campaign(org, people=1, survey=survey)
    canned = canned_response_create(
        campaign=campaign,
        actor=None,
        title="Great",
        text="Great, thanks {first_name}!",
        question_key="support",
        answer_value="yes",
        tag_name="texted-yes",
    )
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.select_related("campaign", "person").get()
    message_send(conversation=conversation, membership=texter, idempotency_key="a")
    client = client_for(texter)
    url = reverse("texting:conversation", args=[conversation.public_id])
    assert client.get(url).status_code == 200
    send_url = reverse("texting:conversation_send", args=[conversation.public_id])
    for _ in range(2):
        response = client.post(
            send_url, {"canned": str(canned.public_id), "idempotency_key": "c1"}, headers=HTMX
        )
        assert response.status_code == 200
    replies = Message.objects.filter(conversation=conversation).order_by("id")
    assert [m.body for m in replies][1] == f"Great, thanks {conversation.person.first_name}!"
    assert replies.count() == 2
    from mobiliza.surveys.models import Answer

    answer = Answer.objects.get(person=conversation.person)
    assert answer.question.key == "support" and answer.channel == "text"
    assert conversation.person.tags.filter(name__in=["texted-yes", "supporter"]).count() == 2
    # the texter also records an answer by hand
    client.post(
        reverse("texting:answer", args=[conversation.public_id]),
        {"question": "plan", "value": "yes"},
    )
    assert Answer.objects.filter(person=conversation.person, question__key="plan").exists()


def test_opt_out_button_and_escalate(org: Any) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.get()
    client = client_for(texter)
    client.post(reverse("texting:escalate", args=[conversation.public_id]), {"note": "Angry"})
    client.post(reverse("texting:opt_out", args=[conversation.public_id]))
    conversation.refresh_from_db()
    assert conversation.escalated_at is not None and conversation.status == "opted_out"
    assert OptOut.objects.get().source == "texter"


def test_other_texter_gets_404_on_my_conversation(org: Any) -> None:
    campaign = make_campaign(org, people=1)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter)
    conversation = Conversation.objects.get()
    other = client_for(make_texter(campaign))
    assert (
        other.get(reverse("texting:conversation", args=[conversation.public_id])).status_code == 404
    )
    assert (
        other.post(
            reverse("texting:conversation_send", args=[conversation.public_id]), {"first": "1"}
        ).status_code
        == 404
    )
    assert not Message.objects.exists()


def test_volunteer_cannot_manage(org: Any, volunteer_client: Client) -> None:
    campaign = make_campaign(org, people=1)
    assert (
        volunteer_client.get(reverse("texting:detail", args=[campaign.public_id])).status_code
        == 403
    )
    assert volunteer_client.get(reverse("texting:supervision")).status_code == 403


def test_supervision_filters_and_bulk_reassign(
    org: Any, admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    campaign = make_campaign(org, people=30)
    first, second = make_texter(campaign), make_texter(campaign)
    assignment_request(campaign=campaign, membership=first, count=30)
    for conversation in Conversation.objects.select_related("campaign", "person")[:25]:
        message_send(conversation=conversation, membership=first, idempotency_key="k")
    url = reverse("texting:supervision") + f"?campaign={campaign.public_id}&status=waiting"
    with django_assert_max_num_queries(14):
        response = admin_client.get(url)
    assert response.status_code == 200
    ids = [str(c.public_id) for c in Conversation.objects.filter(status="waiting")[:10]]
    admin_client.post(url, {"conversation": ids, "member": str(second.public_id)})
    assert Conversation.objects.filter(assigned_to=second).count() == 10


def test_texter_inbox_needing_reply_first_and_bounded_queries(
    org: Any, django_assert_max_num_queries: Any
) -> None:
    campaign = make_campaign(org, people=20)
    texter = make_texter(campaign)
    assignment_request(campaign=campaign, membership=texter, count=20)
    for conversation in Conversation.objects.select_related("campaign", "person"):
        message_send(conversation=conversation, membership=texter, idempotency_key="k")
    late = Conversation.objects.order_by("id").last()
    assert late is not None
    Conversation.objects.filter(pk=late.pk).update(status="needs_reply")
    client = client_for(texter)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("texting:inbox", args=[campaign.public_id]))
    html = response.content.decode()
    listing = html[html.index('data-testid="inbox"') :]
    assert listing.index(str(late.public_id)) < listing.index("Waiting for a reply")


def test_unmatched_and_opt_out_pages(org: Any, admin_client: Client) -> None:
    from mobiliza.texting.tests.factories import _make_unmatched

    message = _make_unmatched(org)
    assert admin_client.get(reverse("texting:unmatched")).status_code == 200
    admin_client.post(reverse("texting:unmatched_resolve", args=[message.public_id]))
    message.refresh_from_db()
    assert message.handled_at is not None
    admin_client.post(reverse("texting:opt_outs"), {"number": "912 345 678"})
    assert OptOut.objects.filter(organization=org, phone_e164="+351912345678").exists()
    response = admin_client.post(reverse("texting:opt_outs"), {"number": "12"})
    assert response.status_code == 302 and OptOut.objects.count() == 1


def test_person_page_shows_the_opt_out(org: Any, admin_member: Any) -> None:
    from mobiliza.people.panels import person_panels
    from mobiliza.texting.services import opt_out_record

    [person] = make_people(org, 1)
    opt_out_record(
        organization=org, phone_e164=person.phones.get().e164, source="keyword", actor=None
    )
    [panel] = [
        p for p in person_panels(person, admin_member) if p.template_name.startswith("texting/")
    ]
    assert panel.context["opt_outs"]
    person.refresh_from_db()
    assert person.consent_sms is False


def test_campaign_list_for_volunteer_shows_only_their_campaigns(org: Any) -> None:
    mine = make_campaign(org, people=1, name="Mine")
    make_campaign(org, people=1, name="Not mine")
    volunteer = make_texter(mine)
    html = client_for(volunteer).get(reverse("texting:list")).content.decode()
    assert "Mine" in html and "Not mine" not in html
    admin = client_for(make_member(org, "admin"))
    assert "Not mine" in admin.get(reverse("texting:list")).content.decode()

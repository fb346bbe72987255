"""People pages: list, search, keyset paging, builder, segments, person page, edit, merge,
export permission, query counts."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.urls import reverse

from conftest import client_for
from mobiliza.core.models import AuditEvent
from mobiliza.people import services
from mobiliza.people.models import Person, PersonList, Segment, SegmentMember
from mobiliza.people.selectors import Cursor, people_page, people_queryset
from mobiliza.people.tests.factories import (
    ElectionFactory,
    PersonFactory,
    SegmentFactory,
    TagFactory,
    add_phone,
    add_tag,
    add_vote,
)


def _count(response: Any) -> int:
    match = re.search(r'data-testid="seg-count-value">(\d+)<', response.content.decode())
    assert match, response.content.decode()[:500]
    return int(match.group(1))


def _names(response: Any) -> list[str]:
    return [p.full_name for p in response.context["page"].people]


# --- list, search, paging -----------------------------------------------------------------------
def test_list_shows_contacts_and_electors_separately(organizer_client: Any, org: Any) -> None:
    PersonFactory(organization=org, first_name="Ana", last_name="Contact")
    elector = PersonFactory(
        organization=org, first_name="Eli", last_name="Elector", list="electors"
    )
    PersonFactory(organization=org, first_name="Linked", last_name="Contact", elector=elector)
    response = organizer_client.get(reverse("people:list"))
    assert response.status_code == 200
    assert _names(response) == ["Ana Contact", "Linked Contact"]
    assert b"elector record" in response.content  # the link is shown on the contact's row
    response = organizer_client.get(reverse("people:list") + "?list=electors")
    assert _names(response) == ["Eli Elector"]


def test_volunteers_cannot_see_people(volunteer_client: Any) -> None:
    assert volunteer_client.get(reverse("people:list")).status_code == 403


def test_search_by_name_phone_email(organizer_client: Any, org: Any, other_org: Any) -> None:
    ana = PersonFactory(organization=org, first_name="Ana", last_name="Silva", email="ana@x.org")
    bea = PersonFactory(organization=org, first_name="Beatriz", last_name="Anes", email="b@x.org")
    PersonFactory(organization=org, first_name="Carlos", last_name="Costa", email="c@x.org")
    add_phone(bea, "+351912345678")
    stranger = PersonFactory(organization=other_org, first_name="Ana", email="ana@x.org")
    add_phone(stranger, "+351912345678")

    def search(q: str) -> set[str]:
        response = organizer_client.get(reverse("people:list"), {"q": q})
        return {p.public_id.hex for p in response.context["page"].people}

    assert search("an") == {ana.public_id.hex, bea.public_id.hex}  # first or last name starts
    assert search("ana") == {ana.public_id.hex}
    assert search("ana silva") == {ana.public_id.hex}
    assert search("ANA@X.ORG") == {ana.public_id.hex}
    assert search("912 345 678") == {bea.public_id.hex}  # normalized like the stored number
    assert search("+351912345678") == {bea.public_id.hex}
    assert search("zzz") == set()
    assert search("ANA@") == {ana.public_id.hex}  # an email's start, whatever the case
    dan = PersonFactory(organization=org, first_name="Dan", last_name="Reis", external_id="NC123")
    eva = PersonFactory(organization=org, first_name="Eva", last_name="Reis", voter_id="V-998")
    assert search("NC123") == {dan.public_id.hex}  # a word with digits is an id
    assert search("V-998") == {eva.public_id.hex}
    assert search("reis") == {dan.public_id.hex, eva.public_id.hex}


def test_keyset_pages_have_no_duplicates_no_gaps_and_survive_inserts(org: Any) -> None:
    names = ["Costa", "Silva", "Santos", "Alves", "Costa", "Silva", "", "Zé", "Álvaro", "costa"]
    people = [
        PersonFactory(organization=org, last_name=last, first_name=f"P{i % 3}")
        for i, last in enumerate(names * 3)
    ]
    expected = list(
        Person.objects.filter(organization=org, list="contacts")
        .order_by("last_name", "first_name", "id")
        .values_list("id", flat=True)
    )
    seen: list[int] = []
    after = ""
    inserted = False
    while True:
        page = people_page(
            queryset=people_queryset(organization=org, list="contacts"), after=after, size=7
        )
        seen.extend(p.id for p in page.people)
        if not inserted:
            # Someone is added while we page: earlier names don't shift the next pages.
            PersonFactory(organization=org, last_name="Aaa", first_name="New")
            inserted = True
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == expected
    assert len(seen) == len(set(seen)) == len(people)


def test_search_pages_sort_matches_in_the_same_name_order(org: Any) -> None:
    """A search sorts its matches (`selective`) instead of walking the name index: same order,
    same pages, same cursors as the plain path."""
    for last in ["Silva", "Santos", "Sousa", "Alves", "silva", "Sá", "Simões"]:
        for first in ["Ana", "Sara", "Bruno", "Sílvia"]:
            PersonFactory(organization=org, last_name=last, first_name=first)

    def pages(selective: bool) -> list[list[int]]:
        out, after = [], ""
        while True:
            page = people_page(
                queryset=people_queryset(organization=org, list="contacts", search="s"),
                after=after,
                size=5,
                selective=selective,
            )
            out.append([p.id for p in page.people])
            if not page.next_cursor:
                return out
            after = page.next_cursor

    plain, sorted_matches = pages(False), pages(True)
    assert sorted_matches == plain
    assert sum(len(p) for p in plain) == 6 * 4 + 2  # every S… last name, and Sara/Sílvia Alves


def test_search_page_sorts_ids_then_reads_its_people_once(
    org: Any, django_assert_num_queries: Any
) -> None:
    """A search page sorts the matches' ids, then reads those people with their elector record
    and phones: three queries whatever the page size, the people in name order."""
    elector = PersonFactory(organization=org, list="electors", last_name="Silva")
    for first in ["Ivo", "Rui", "Ema", "Ana", "Zé", "Caio", "Bia"]:
        person = PersonFactory(organization=org, last_name="Silva", first_name=first)
        add_phone(person, "+351912345678")
        Person.objects.filter(pk=person.pk).update(elector=elector)
    PersonFactory(organization=org, last_name="Costa", first_name="Ana")
    qs = people_queryset(organization=org, list="contacts", search="silva")
    with django_assert_num_queries(3):
        page = people_page(queryset=qs, size=5, selective=True)
        shown = [(p.first_name, p.elector.last_name, len(p.phones.all())) for p in page.people]
    assert shown == [(name, "Silva", 1) for name in ["Ana", "Bia", "Caio", "Ema", "Ivo"]]
    rest = people_page(queryset=qs, size=5, after=page.next_cursor or "", selective=True)
    assert [p.first_name for p in rest.people] == ["Rui", "Zé"] and rest.next_cursor is None


def test_garbage_cursor_is_the_first_page(organizer_client: Any, org: Any) -> None:
    PersonFactory(organization=org, last_name="A")
    response = organizer_client.get(reverse("people:list"), {"after": "%%%not-base64"})
    assert response.status_code == 200 and len(response.context["page"].people) == 1
    assert Cursor.decode(Cursor("a", "b", 3).encode()) == Cursor("a", "b", 3)


def test_list_page_query_count_is_flat(
    organizer_client: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(60):
        person = PersonFactory(organization=org, last_name=f"N{i:03}")
        add_phone(person, f"+35191234{i:04}")
    with django_assert_max_num_queries(12):
        response = organizer_client.get(reverse("people:list"))
    assert len(response.context["page"].people) == 50
    next_url = response.context["next_url"]
    with django_assert_max_num_queries(12):
        response = organizer_client.get(reverse("people:list") + next_url)
    assert len(response.context["page"].people) == 10
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        organizer_client.get(reverse("people:list") + next_url)
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


# --- builder and segments -----------------------------------------------------------------------
def _builder_query(*leaves: tuple[str, dict[str, str]], op: str = "and") -> dict[str, Any]:
    data: dict[str, Any] = {"n": ["r:group"], "r.op": op}
    for index, (name, params) in enumerate(leaves):
        data["n"].append(f"r.{index}:leaf")
        data[f"r.{index}.filter"] = name
        for key, value in params.items():
            data[f"r.{index}.p.{key}"] = value
    return data


def test_builder_filters_the_list_and_counts(organizer_client: Any, org: Any) -> None:
    tag = TagFactory(organization=org, name="volunteer")
    election = ElectionFactory(organization=org, label="2024 GENERAL")
    both = PersonFactory(organization=org, last_name="Both")
    tagged = PersonFactory(organization=org, last_name="Tagged")
    PersonFactory(organization=org, last_name="Neither")
    add_tag(both, tag)
    add_tag(tagged, tag)
    add_vote(both, election)
    query = _builder_query(
        ("tag", {"tag": "volunteer"}), ("voted", {"election": "2024 GENERAL", "voted": "yes"})
    )
    response = organizer_client.get(reverse("people:list"), query)
    assert _names(response) == [both.full_name]
    response = organizer_client.get(reverse("people:count"), query)
    assert _count(response) == 1
    query["r.op"] = "or"
    assert _count(organizer_client.get(reverse("people:count"), query)) == 2
    query["r.1.not"] = "1"
    # volunteer OR NOT voted: everyone but nobody... Both voted and is tagged, so all three.
    assert _count(organizer_client.get(reverse("people:count"), query)) == 3


def test_builder_actions_add_and_remove_conditions(organizer_client: Any) -> None:
    url = reverse("people:builder")
    response = organizer_client.get(
        url, {"n": "r:group", "action": "add:r"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    tree = response.context["tree"]
    assert [c.kind for c in tree.children] == ["leaf"]
    response = organizer_client.get(
        url, {"n": ["r:group", "r.0:leaf"], "action": "group:r"}, HTTP_HX_REQUEST="true"
    )
    assert [c.kind for c in response.context["tree"].children] == ["leaf", "group"]
    response = organizer_client.get(
        url,
        {"n": ["r:group", "r.0:leaf", "r.1:group"], "action": "del:r.0"},
        HTTP_HX_REQUEST="true",
    )
    assert [c.kind for c in response.context["tree"].children] == ["group"]


def test_builder_shows_a_clear_error_for_a_bad_value(organizer_client: Any) -> None:
    query = _builder_query(("support_level", {"min": "lots"}))
    response = organizer_client.get(reverse("people:list"), query)
    assert response.status_code == 200
    assert "is not a number" in response.content.decode()


def test_save_segment_from_the_builder(
    organizer_client: Any, organizer_member: Any, org: Any
) -> None:
    TagFactory(organization=org, name="volunteer")
    query = _builder_query(("tag", {"tag": "volunteer"}))
    response = organizer_client.post(
        reverse("people:segment_save"),
        {**query, "name": "Volunteers", "list": "contacts"},
        HTTP_HX_REQUEST="true",
    )
    segment = Segment.objects.get(organization=org, name="Volunteers")
    assert response["HX-Redirect"] == reverse("people:segment_detail", args=[segment.public_id])
    assert segment.definition == {
        "op": "and",
        "children": [{"filter": "tag", "params": {"tag": "volunteer"}}],
    }
    assert segment.created_by == organizer_member.user
    response = organizer_client.post(
        reverse("people:segment_save"), {**query, "name": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422 and "name" in response.content.decode()
    page = organizer_client.get(reverse("people:segments"))
    assert "Volunteers" in page.content.decode()


def test_segment_page_freeze_and_delete(organizer_client: Any, org: Any) -> None:
    tag = TagFactory(organization=org, name="volunteer")
    for i in range(3):
        add_tag(PersonFactory(organization=org, last_name=f"V{i}"), tag)
    segment = services.segment_create(
        organization=org,
        name="Vols",
        list="contacts",
        definition={"filter": "tag", "params": {"tag": "volunteer"}},
        actor=None,
    )
    response = organizer_client.get(reverse("people:segment_detail", args=[segment.public_id]))
    assert response.status_code == 200 and len(response.context["page"].people) == 3
    count = organizer_client.get(reverse("people:segment_count", args=[segment.public_id]))
    assert _count(count) == 3
    response = organizer_client.post(reverse("people:segment_freeze", args=[segment.public_id]))
    frozen = Segment.objects.get(kind="static")
    assert response.url == reverse("people:segment_detail", args=[frozen.public_id])
    assert SegmentMember.objects.filter(segment=frozen).count() == 3
    organizer_client.post(reverse("people:segment_delete", args=[segment.public_id]))
    assert not Segment.objects.filter(pk=segment.pk).exists()


# --- export -------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["organizer", "volunteer"])
def test_export_is_refused_to_organizers_and_volunteers(org: Any, role: str) -> None:
    from mobiliza.accounts.tests.factories import make_member

    segment = SegmentFactory(organization=org)
    client = client_for(make_member(org, role))
    response = client.get(reverse("people:segment_export", args=[segment.public_id]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_admin_export_is_streamed_and_audited(
    admin_client: Any, admin_member: Any, org: Any
) -> None:
    tag = TagFactory(organization=org, name="volunteer")
    ana = PersonFactory(organization=org, first_name="Ana", last_name="=HYPERLINK(1)")
    add_tag(ana, tag)
    add_phone(ana, "+351912345678")
    PersonFactory(organization=org, first_name="Other")
    segment = services.segment_create(
        organization=org,
        name="Vols",
        list="contacts",
        definition={"filter": "tag", "params": {"tag": "volunteer"}},
        actor=None,
    )
    response = admin_client.get(reverse("people:segment_export", args=[segment.public_id]))
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1
    assert rows[0]["first_name"] == "Ana" and rows[0]["phones"] == "+351912345678"
    assert rows[0]["last_name"] == "'=HYPERLINK(1)"  # no formula injection
    assert rows[0]["tags"] == "volunteer"
    event = AuditEvent.objects.get(action="export")
    assert event.actor == admin_member.user and event.object_id == str(segment.public_id)


# --- person page and edit -----------------------------------------------------------------------
def test_person_page_shows_everything_in_few_queries(
    organizer_client: Any, org: Any, django_assert_max_num_queries: Any
) -> None:
    elector = PersonFactory(organization=org, list="electors", voter_id="V123")
    person = services.person_create(
        organization=org,
        actor=None,
        first_name="Ana",
        last_name="Silva",
        street="Rua Augusta 27",
        postcode="1100-048",
        phones=["912345678", "12"],
        tags=["volunteer", "donor"],
    )
    services.person_link_elector(person=person, elector=elector, actor=None)
    housemate = services.person_create(
        organization=org, actor=None, first_name="Rui", street="Rua Augusta, 27", postcode="1100048"
    )
    add_vote(
        person, ElectionFactory(organization=org, label="2024 GENERAL", description="General 2024")
    )
    services.person_consent_record(
        person=person, channel="sms", granted=True, source="form", actor=None
    )
    with django_assert_max_num_queries(25):
        response = organizer_client.get(reverse("people:detail", args=[person.public_id]))
    html = response.content.decode()
    assert "+351912345678" in html and "invalid" in html  # the bad number is kept, flagged
    assert "volunteer" in html and "donor" in html
    assert housemate.full_name in html  # the household
    assert "General 2024" in html  # voting history
    assert "V123" in html  # the elector record's voter id, from the contact side
    response = organizer_client.get(reverse("people:detail", args=[elector.public_id]))
    assert person.full_name in response.content.decode()  # and the contact from the elector side


def test_edit_person_is_audited_field_by_field(
    organizer_client: Any, organizer_member: Any, org: Any
) -> None:
    person = PersonFactory(organization=org, first_name="Ana", last_name="Silva", email="a@x.org")
    url = reverse("people:edit", args=[person.public_id])
    form = organizer_client.get(url).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update({"first_name": "Anna", "support_level": "5"})
    response = organizer_client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    person.refresh_from_db()
    assert person.first_name == "Anna" and person.support_level == 5
    event = AuditEvent.objects.filter(object_id=str(person.public_id), action="update").get()
    assert event.actor == organizer_member.user
    assert event.changes == {
        "first_name": {"old": "Ana", "new": "Anna"},
        "support_level": {"old": None, "new": 5},
    }
    page = organizer_client.get(reverse("people:detail", args=[person.public_id]))
    assert "Anna" in page.content.decode() and "support_level" in page.content.decode()


def test_edit_with_bad_input_shows_the_error_and_changes_nothing(
    organizer_client: Any, org: Any
) -> None:
    person = PersonFactory(organization=org, first_name="Ana", country="PT")
    url = reverse("people:edit", args=[person.public_id])
    response = organizer_client.post(url, {"first_name": "Zed", "country": "Portugal"})
    assert response.status_code == 422
    assert response.context["form"].errors["country"]
    person.refresh_from_db()
    assert person.first_name == "Ana"


def test_create_person_with_phone(organizer_client: Any, org: Any) -> None:
    response = organizer_client.post(
        reverse("people:create") + "?list=contacts",
        {"first_name": "Nova", "last_name": "Pessoa", "phone": "912 000 111", "list": "contacts"},
    )
    assert response.status_code == 302
    person = Person.objects.get(organization=org, first_name="Nova")
    assert [p.e164 for p in person.phones.all()] == ["+351912000111"]


def test_phone_and_tag_actions_on_the_person_page(organizer_client: Any, org: Any) -> None:
    person = PersonFactory(organization=org)
    organizer_client.post(
        reverse("people:phone_add", args=[person.public_id]), {"number": "912345678"}
    )
    phone = person.phones.get()
    assert phone.e164 == "+351912345678"
    organizer_client.post(reverse("people:tag_add", args=[person.public_id]), {"tag": "volunteer"})
    assert list(person.tags.values_list("name", flat=True)) == ["volunteer"]
    organizer_client.post(
        reverse("people:tag_remove", args=[person.public_id]), {"tag": "volunteer"}
    )
    organizer_client.post(
        reverse("people:phone_remove", args=[person.public_id]), {"phone": phone.pk}
    )
    assert not person.phones.exists() and not person.tags.exists()


def test_link_elector_by_voter_id(organizer_client: Any, org: Any) -> None:
    contact = PersonFactory(organization=org)
    elector = PersonFactory(organization=org, list=PersonList.ELECTORS, voter_id="PT-77")
    organizer_client.post(
        reverse("people:link_elector", args=[contact.public_id]), {"elector": "PT-77"}
    )
    contact.refresh_from_db()
    assert contact.elector == elector


# --- duplicates and merge -----------------------------------------------------------------------
def test_duplicates_page_and_merge_review(organizer_client: Any, org: Any) -> None:
    a = PersonFactory(organization=org, first_name="Ana", email="ana@x.org", city="Lisboa")
    b = PersonFactory(organization=org, first_name="Anna", email="ANA@x.org", city="Porto")
    page = organizer_client.get(reverse("people:duplicates"))
    assert page.status_code == 200 and len(page.context["groups"]) == 1
    url = reverse("people:merge", args=[a.public_id]) + f"?with={b.public_id}"
    review = organizer_client.get(url)
    assert review.status_code == 200
    assert {r["key"] for r in review.context["rows"]} >= {"first_name", "city", "email"}
    response = organizer_client.post(
        url, {"with": str(b.public_id), "pick.city": "other", "pick.first_name": "keep"}
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.city == "Porto" and a.first_name == "Ana"
    assert not Person.objects.filter(pk=b.pk).exists()
    assert AuditEvent.objects.filter(action="merge", object_id=str(a.public_id)).exists()


def test_dashboard_card(organizer_client: Any, org: Any) -> None:
    PersonFactory(organization=org)
    PersonFactory(organization=org, list="electors")
    response = organizer_client.get(reverse("web:home"))
    cards = [c for c in response.context["cards"] if c.url == reverse("people:list")]
    assert cards and cards[0].value == "2"
    assert "1 contacts · 1 electors" in cards[0].detail

"""Segment filters: each built-in filter against a Python oracle on a small set of people, and
random AND / OR / NOT trees of them (hypothesis) compared with the same oracle."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobiliza.people.models import CustomField, Person, PersonList, PersonPhone
from mobiliza.people.selectors import definition_queryset
from mobiliza.people.tests.factories import (
    CustomFieldFactory,
    ElectionFactory,
    HouseholdFactory,
    PersonFactory,
    TagFactory,
    add_phone,
    add_tag,
    add_vote,
)

LISBON = (38.7223, -9.1393)
PORTO = (41.1579, -8.6291)
SINTRA = (38.8029, -9.3817)  # ~23 km from Lisbon
ALMADA = (38.6790, -9.1569)  # ~5 km from Lisbon


@dataclass
class World:
    org: Any
    people: list[Person]
    tags: dict[str, set[int]]
    votes: set[int]
    phones: dict[int, list[tuple[str, bool]]]
    household_size: dict[int, int]
    housemates: dict[int, set[int]]
    linked: set[int]


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@pytest.fixture
def world(org: Any, other_org: Any) -> World:
    volunteer = TagFactory(organization=org, name="volunteer")
    donor = TagFactory(organization=org, name="donor")
    election = ElectionFactory(organization=org, label="11/05/2024 GENERAL")
    CustomFieldFactory(organization=org, key="color", label="Color", type=CustomField.Type.TEXT)
    CustomFieldFactory(organization=org, key="age", label="Age", type=CustomField.Type.NUMBER)
    CustomFieldFactory(
        organization=org, key="member", label="Member", type=CustomField.Type.BOOLEAN
    )
    CustomFieldFactory(organization=org, key="joined", label="Joined", type=CustomField.Type.DATE)
    CustomFieldFactory(
        organization=org,
        key="team",
        label="Team",
        type=CustomField.Type.CHOICE,
        choices=["north", "south"],
    )
    h2 = HouseholdFactory(organization=org)
    h3 = HouseholdFactory(organization=org)
    h1 = HouseholdFactory(organization=org)
    specs: list[dict[str, Any]] = [
        dict(first_name="Ana", last_name="Silva", support_level=5, consent_phone=True,
             latitude=LISBON[0], longitude=LISBON[1], household=h2, city="Lisboa",
             birth_date=dt.date(1980, 5, 1), birth_year=1980,
             custom_fields={"color": "Blue", "age": 44, "member": True, "joined": "2020-01-15", "team": "north"}),
        dict(first_name="Bruno", last_name="Silva", support_level=4, consent_phone=False,
             latitude=ALMADA[0], longitude=ALMADA[1], household=h2, city="Almada",
             custom_fields={"color": "red", "age": 17, "member": False, "team": "south"}),
        dict(first_name="Carla", last_name="Sousa", support_level=1, consent_sms=True,
             latitude=SINTRA[0], longitude=SINTRA[1], household=h3, do_not_contact=True,
             birth_date=dt.date(1999, 12, 31), custom_fields={"color": "", "age": "n/a"}),
        dict(first_name="Duarte", last_name="Costa", support_level=None, household=h3,
             latitude=PORTO[0], longitude=PORTO[1], email="",
             custom_fields={"joined": "2023-06-01", "age": 30.5}),
        dict(first_name="Eva", last_name="Costa", support_level=3, household=h3, consent_email=True,
             custom_fields={"member": True, "color": "Dark blue"}),
        dict(first_name="Filipe", last_name="Nunes", support_level=2, household=h1,
             latitude=LISBON[0] + 0.05, longitude=LISBON[1] + 0.05, region="Lisboa",
             custom_fields={"team": "north", "joined": "not a date"}),
        dict(first_name="Gil", last_name="", support_level=None, list=PersonList.ELECTORS,
             voter_id="V1", polling_place="Escola A", birth_year=1950),
        dict(first_name="Helena", last_name="Ramos", support_level=4, list=PersonList.ELECTORS,
             voter_id="V2", polling_place="Escola B", latitude=LISBON[0], longitude=LISBON[1]),
        dict(first_name="Ines", last_name="Ramos", support_level=None, do_not_contact=True,
             consent_phone=True, consent_sms=False, custom_fields={"age": 65}),
    ]  # fmt: skip
    people = [PersonFactory(organization=org, **spec) for spec in specs]
    ana, bruno, carla, duarte, eva, filipe, gil, helena, ines = people
    ines.elector = helena
    ines.save()
    for person in (ana, carla, eva):
        add_tag(person, volunteer)
    for person in (bruno, filipe, helena):
        add_tag(person, donor)
    for person in (ana, carla, gil, helena):
        add_vote(person, election)
    add_phone(ana, "+351912345678", PersonPhone.Kind.MOBILE)
    add_phone(bruno, "+351212345678", PersonPhone.Kind.LANDLINE)
    add_phone(carla, "", PersonPhone.Kind.OTHER, valid=False)
    add_phone(duarte, "+351932345678", PersonPhone.Kind.MOBILE)
    add_phone(duarte, "+351222345678", PersonPhone.Kind.LANDLINE)
    # Noise in another organization that no filter may ever return.
    other_tag = TagFactory(organization=other_org, name="volunteer")
    stranger = PersonFactory(organization=other_org, first_name="Ana", last_name="Silva")
    add_tag(stranger, other_tag)

    households: dict[int, list[int]] = {}
    for p in people:
        if p.household_id:
            households.setdefault(p.household_id, []).append(p.id)
    tags = {"volunteer": {ana.id, carla.id, eva.id}, "donor": {bruno.id, filipe.id, helena.id}}
    return World(
        org=org,
        people=people,
        tags=tags,
        votes={ana.id, carla.id, gil.id, helena.id},
        phones={
            ana.id: [("mobile", True)],
            bruno.id: [("landline", True)],
            carla.id: [("other", False)],
            duarte.id: [("mobile", True), ("landline", True)],
        },
        household_size={
            p.id: len(households[p.household_id]) if p.household_id else 1 for p in people
        },
        housemates={
            p.id: (set(households[p.household_id]) - {p.id}) if p.household_id else set()
            for p in people
        },
        linked={ines.id, helena.id},
    )


# --- the oracle ---------------------------------------------------------------------------------
Pred = Callable[[World, Person], bool]


def _cf(p: Person, key: str) -> Any:
    return (p.custom_fields or {}).get(key)


def _present(p: Person, key: str) -> bool:
    return _cf(p, key) not in (None, "")


def _cf_number(p: Person, key: str) -> float | None:
    value = _cf(p, key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value) if str(value).replace(".", "", 1).lstrip("-").isdigit() else None
    except ValueError:
        return None


def _iso(p: Person, key: str) -> str | None:
    value = _cf(p, key)
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value
    return None


def _within(p: Person, km: float) -> bool:
    if p.latitude is None or p.longitude is None:
        return False
    return _haversine(LISBON, (p.latitude, p.longitude)) <= km


LEAVES: dict[str, tuple[dict[str, Any], Pred]] = {
    "first_name_is_ana": (
        {"filter": "field_text", "params": {"field": "first_name", "op": "equals", "value": "ana"}},
        lambda w, p: p.first_name.lower() == "ana",
    ),
    "last_name_contains_s": (
        {"filter": "field_text", "params": {"field": "last_name", "op": "contains", "value": "S"}},
        lambda w, p: "s" in p.last_name.lower(),
    ),
    "last_name_starts_co": (
        {"filter": "field_text", "params": {"field": "last_name", "op": "starts_with", "value": "co"}},
        lambda w, p: p.last_name.lower().startswith("co"),
    ),
    "last_name_empty": (
        {"filter": "field_text", "params": {"field": "last_name", "op": "empty"}},
        lambda w, p: p.last_name == "",
    ),
    "email_not_empty": (
        {"filter": "field_text", "params": {"field": "email", "op": "not_empty"}},
        lambda w, p: p.email != "",
    ),
    "birth_year_before_1960": (
        {"filter": "field_number", "params": {"field": "birth_year", "max": "1960"}},
        lambda w, p: p.birth_year is not None and p.birth_year <= 1960,
    ),
    "latitude_known": (
        {"filter": "field_number", "params": {"field": "latitude"}},
        lambda w, p: p.latitude is not None,
    ),
    "born_in_the_80s": (
        {"filter": "field_date", "params": {"field": "birth_date", "from": "1980-01-01", "to": "1989-12-31"}},
        lambda w, p: p.birth_date is not None and dt.date(1980, 1, 1) <= p.birth_date <= dt.date(1989, 12, 31),
    ),
    "electors": (
        {"filter": "list", "params": {"list": "electors"}},
        lambda w, p: p.list == "electors",
    ),
    "tag_volunteer": (
        {"filter": "tag", "params": {"tag": "volunteer"}},
        lambda w, p: p.id in w.tags["volunteer"],
    ),
    "tag_donor": (
        {"filter": "tag", "params": {"tag": "donor"}},
        lambda w, p: p.id in w.tags["donor"],
    ),
    "tag_unknown": (
        {"filter": "tag", "params": {"tag": "no such tag"}},
        lambda w, p: False,
    ),
    "supporters": (
        {"filter": "support_level", "params": {"min": 4}},
        lambda w, p: p.support_level is not None and p.support_level >= 4,
    ),
    "support_2_to_3": (
        {"filter": "support_level", "params": {"min": "2", "max": "3"}},
        lambda w, p: p.support_level is not None and 2 <= p.support_level <= 3,
    ),
    "phone_consent": (
        {"filter": "consent", "params": {"channel": "phone", "value": "yes"}},
        lambda w, p: p.consent_phone is True,
    ),
    "sms_refused": (
        {"filter": "consent", "params": {"channel": "sms", "value": "no"}},
        lambda w, p: p.consent_sms is False,
    ),
    "email_unknown": (
        {"filter": "consent", "params": {"channel": "email", "value": "unknown"}},
        lambda w, p: p.consent_email is None,
    ),
    "do_not_contact": (
        {"filter": "do_not_contact", "params": {"value": "yes"}},
        lambda w, p: p.do_not_contact,
    ),
    "has_phone": (
        {"filter": "has_phone", "params": {"kind": "any"}},
        lambda w, p: any(valid for _k, valid in w.phones.get(p.id, [])),
    ),
    "has_mobile": (
        {"filter": "has_phone", "params": {"kind": "mobile"}},
        lambda w, p: any(valid and k == "mobile" for k, valid in w.phones.get(p.id, [])),
    ),
    "household_2_plus": (
        {"filter": "household_size", "params": {"min": 2}},
        lambda w, p: w.household_size[p.id] >= 2,
    ),
    "household_alone": (
        {"filter": "household_size", "params": {"max": 1}},
        lambda w, p: w.household_size[p.id] <= 1,
    ),
    "lives_with_volunteer": (
        {"filter": "household_with", "params": {"tag": "volunteer"}},
        lambda w, p: bool(w.housemates[p.id] & w.tags["volunteer"]),
    ),
    "voted": (
        {"filter": "voted", "params": {"election": "11/05/2024 GENERAL", "voted": "yes"}},
        lambda w, p: p.id in w.votes,
    ),
    "did_not_vote": (
        {"filter": "voted", "params": {"election": "11/05/2024 GENERAL", "voted": "no"}},
        lambda w, p: p.id not in w.votes,
    ),
    "within_10km_of_lisbon": (
        {"filter": "distance", "params": {"latitude": LISBON[0], "longitude": LISBON[1], "km": 10}},
        lambda w, p: _within(p, 10),
    ),
    "within_50km_of_lisbon": (
        {"filter": "distance", "params": {"latitude": str(LISBON[0]), "longitude": str(LISBON[1]), "km": "50"}},
        lambda w, p: _within(p, 50),
    ),
    "linked_elector": (
        {"filter": "linked_elector", "params": {"value": "yes"}},
        lambda w, p: p.id in w.linked,
    ),
    "color_is_blue": (
        {"filter": "custom_field", "params": {"field": "color", "op": "equals", "value": "blue"}},
        lambda w, p: isinstance(_cf(p, "color"), str) and _cf(p, "color").lower() == "blue",
    ),
    "color_contains_blue": (
        {"filter": "custom_field", "params": {"field": "custom.color", "op": "contains", "value": "BLUE"}},
        lambda w, p: isinstance(_cf(p, "color"), str) and "blue" in _cf(p, "color").lower(),
    ),
    "color_empty": (
        {"filter": "custom_field", "params": {"field": "color", "op": "empty"}},
        lambda w, p: not _present(p, "color"),
    ),
    "age_adult": (
        {"filter": "custom_field", "params": {"field": "age", "op": "gte", "value": "18"}},
        lambda w, p: (n := _cf_number(p, "age")) is not None and n >= 18,
    ),
    "age_at_most_30_5": (
        {"filter": "custom_field", "params": {"field": "age", "op": "lte", "value": 30.5}},
        lambda w, p: (n := _cf_number(p, "age")) is not None and n <= 30.5,
    ),
    "member_yes": (
        {"filter": "custom_field", "params": {"field": "member", "op": "yes"}},
        lambda w, p: _cf(p, "member") is True,
    ),
    "member_no": (
        {"filter": "custom_field", "params": {"field": "member", "op": "no"}},
        lambda w, p: _cf(p, "member") is False,
    ),
    "joined_since_2021": (
        {"filter": "custom_field", "params": {"field": "joined", "op": "gte", "value": "2021-01-01"}},
        lambda w, p: (d := _iso(p, "joined")) is not None and d >= "2021-01-01",
    ),
    "team_north": (
        {"filter": "custom_field", "params": {"field": "team", "op": "equals", "value": "north"}},
        lambda w, p: _cf(p, "team") == "north",
    ),
}  # fmt: skip


def _oracle(world: World, node: dict[str, Any]) -> set[int]:
    everyone = {p.id for p in world.people}
    if "leaf" in node:
        _definition, pred = LEAVES[node["leaf"]]
        return {p.id for p in world.people if pred(world, p)}
    parts = [_oracle(world, child) for child in node["children"]]
    if node["op"] == "not":
        return everyone - parts[0]
    if not parts:
        return everyone
    result = parts[0]
    for part in parts[1:]:
        result = (result & part) if node["op"] == "and" else (result | part)
    return result


def _definition(node: dict[str, Any]) -> dict[str, Any]:
    if "leaf" in node:
        return LEAVES[node["leaf"]][0]
    return {"op": node["op"], "children": [_definition(c) for c in node["children"]]}


def _ids(world: World, definition: dict[str, Any]) -> set[int]:
    qs = definition_queryset(organization=world.org, list=None, definition=definition)
    return set(qs.values_list("id", flat=True))


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_each_filter_matches_the_oracle(world: World, leaf: str) -> None:
    expected = _oracle(world, {"leaf": leaf})
    assert _ids(world, LEAVES[leaf][0]) == expected
    # NOT is the exact complement, also where values are missing (NULL, absent JSON keys).
    everyone = {p.id for p in world.people}
    assert _ids(world, {"op": "not", "children": [LEAVES[leaf][0]]}) == everyone - expected


def test_the_data_exercises_every_filter(world: World) -> None:
    """Every leaf except the deliberately empty one selects some people and not all: otherwise
    the comparisons above would prove little."""
    everyone = {p.id for p in world.people}
    for leaf in LEAVES:
        found = _oracle(world, {"leaf": leaf})
        if leaf == "tag_unknown":
            assert found == set()
        else:
            assert found and found != everyone, leaf


leaves = st.sampled_from(sorted(LEAVES)).map(lambda name: {"leaf": name})
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(
            lambda op, kids: {"op": op, "children": kids},
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=0, max_size=4),
        ),
        children.map(lambda c: {"op": "not", "children": [c]}),
    ),
    max_leaves=10,
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees)
def test_random_and_or_not_trees_match_the_oracle(world: World, tree: dict[str, Any]) -> None:
    assert _ids(world, _definition(tree)) == _oracle(world, tree)


def test_list_argument_restricts_to_one_list(world: World) -> None:
    electors = definition_queryset(organization=world.org, list="electors", definition={})
    assert {p.first_name for p in electors} == {"Gil", "Helena"}
    voted_contacts = definition_queryset(
        organization=world.org, list="contacts", definition=LEAVES["voted"][0]
    )
    assert {p.first_name for p in voted_contacts} == {"Ana", "Carla"}


def test_other_organizations_are_never_returned(world: World, other_org: Any) -> None:
    qs = definition_queryset(
        organization=world.org, list=None, definition=LEAVES["tag_volunteer"][0]
    )
    assert all(p.organization_id == world.org.id for p in qs)
    # The same tag name in another organization does not leak.
    assert not definition_queryset(
        organization=other_org,
        list=None,
        definition={"filter": "support_level", "params": {"min": 1}},
    ).exists()


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"filter": "nope"}, "Unknown filter"),
        ({"filter": "support_level", "params": {"min": "lots"}}, "not a number"),
        ({"filter": "support_level", "params": {"min": 9}}, "from 1 to 5"),
        ({"filter": "distance", "params": {"latitude": 1, "longitude": 2}}, "needs a value"),
        ({"filter": "distance", "params": {"latitude": 100, "longitude": 2, "km": 3}}, "not a valid"),
        ({"filter": "field_date", "params": {"field": "birth_date", "from": "31/12/1999"}}, "not a date"),
        ({"filter": "field_text", "params": {"field": "password", "op": "equals", "value": "x"}}, "not a valid choice"),
        ({"filter": "custom_field", "params": {"field": "nope", "op": "empty"}}, "Unknown custom field"),
        ({"filter": "custom_field", "params": {"field": "age", "op": "contains", "value": "1"}}, "can't"),
        ({"op": "not", "children": []}, "exactly one"),
        ({"op": "xor", "children": []}, "Unknown filter group"),
    ],
)  # fmt: skip
def test_bad_definitions_get_clear_errors(world: World, definition: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        definition_queryset(organization=world.org, list=None, definition=definition)
    assert message in " ".join(caught.value.messages)


def test_too_deep_is_refused(world: World) -> None:
    node: dict[str, Any] = LEAVES["voted"][0]
    for _ in range(20):
        node = {"op": "and", "children": [node]}
    with pytest.raises(ValidationError):
        definition_queryset(organization=world.org, list=None, definition=node)

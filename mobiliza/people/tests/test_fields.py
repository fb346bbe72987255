from __future__ import annotations

from typing import Any

from mobiliza.people.fields import (
    NEVER_AGENT_EDITABLE,
    person_field,
    person_field_catalog,
    person_field_value,
)
from mobiliza.people.models import CustomField
from mobiliza.people.tests.factories import (
    CustomFieldFactory,
    ElectionFactory,
    PersonFactory,
    TagFactory,
    add_phone,
    add_tag,
    add_vote,
)


def test_catalogue_lists_builtin_and_custom_fields(org: Any, other_org: Any) -> None:
    CustomFieldFactory(
        organization=org, key="shirt", label="Shirt size", type="choice", choices=["S", "M"]
    )
    CustomFieldFactory(organization=other_org, key="secret", label="Other org field")
    catalog = {f.key: f for f in person_field_catalog(organization=org)}
    for key in ("first_name", "last_name", "phones", "email", "support_level", "tags", "notes"):
        assert key in catalog and catalog[key].agent_editable
    assert catalog["custom.shirt"].custom and catalog["custom.shirt"].type == "choice"
    assert catalog["custom.shirt"].choices == (("S", "S"), ("M", "M"))
    assert "custom.secret" not in catalog


def test_register_and_money_fields_are_never_agent_editable(org: Any) -> None:
    catalog = {f.key: f for f in person_field_catalog(organization=org)}
    for key in (
        "birth_date",
        "birth_year",
        "donations_this_year",
        "polling_place",
        "precinct",
        "voter_id",
        "registration_status",
        "voting_history",
    ):
        assert key in NEVER_AGENT_EDITABLE
        assert catalog[key].agent_editable is False


def test_field_values_are_read_from_a_person(org: Any) -> None:
    CustomFieldFactory(organization=org, key="age", label="Age", type=CustomField.Type.NUMBER)
    person = PersonFactory(
        organization=org, first_name="Ana", polling_place="Escola", custom_fields={"age": 40}
    )
    add_phone(person, "+351912345678")
    add_tag(person, TagFactory(organization=org, name="volunteer"))
    add_vote(person, ElectionFactory(organization=org, label="2024 GENERAL", description=""))
    assert person_field_value(person, "first_name") == "Ana"
    assert person_field_value(person, "polling_place") == "Escola"
    assert person_field_value(person, "phones") == ["+351912345678"]
    assert person_field_value(person, "tags") == ["volunteer"]
    assert person_field_value(person, "voting_history") == ["2024 GENERAL"]
    assert person_field_value(person, "custom.age") == 40
    assert person_field_value(person, "custom.missing") is None
    assert person_field_value(person, "nonsense") is None
    field = person_field("custom.age", organization=org)
    assert field is not None and field.label == "Age"

"""Builders for calling tests, all through the services; isolation makers for every id in URLs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from mobiliza.accounts.models import Membership, Organization
from mobiliza.accounts.tests.factories import make_member
from mobiliza.calling import services
from mobiliza.calling.dispenser import list_build
from mobiliza.calling.models import CallOperation, CallTarget, OperationUser
from mobiliza.core.permissions import Role
from mobiliza.core.testing.isolation import register_isolation_maker
from mobiliza.people.models import Household, Person, PersonPhone

_counter = {"n": 0}


def make_person(
    organization: Organization,
    *,
    phone: str | None = "+351912345678",
    time_zone: str = "Europe/Lisbon",
    household: Household | None = None,
    **fields: Any,
) -> Person:
    _counter["n"] += 1
    n = _counter["n"]
    fields.setdefault("first_name", f"Ana{n}")
    fields.setdefault("last_name", f"Silva{n}")
    person = Person.objects.create(
        organization=organization, time_zone=time_zone, household=household, **fields
    )
    if phone:
        e164 = phone if phone != "+351912345678" else f"+3519{n:08d}"
        PersonPhone.objects.create(
            organization=organization, person=person, raw=e164, e164=e164, kind="mobile"
        )
    return person


def make_household(organization: Organization, key: str = "") -> Household:
    _counter["n"] += 1
    return Household.objects.create(
        organization=organization, address_key=key or f"addr-{_counter['n']}"
    )


def always_open(operation: CallOperation) -> CallOperation:
    """Calling window open all day, every day, dates around now."""
    operation.window_start = dt.time(0, 0)
    operation.window_end = dt.time(23, 59, 59)
    operation.days_of_week = [0, 1, 2, 3, 4, 5, 6]
    operation.starts_on = timezone.localdate() - dt.timedelta(days=1)
    operation.ends_at = timezone.now() + dt.timedelta(days=30)
    return operation


def make_operation(
    organization: Organization,
    *,
    owner: Membership | None = None,
    people: int = 0,
    build: bool = True,
    name: str = "Phone bank",
    **values: Any,
) -> CallOperation:
    owner = owner or make_member(organization, Role.ORGANIZER)
    operation = services.operation_create(organization=organization, creator=owner)
    operation.name = name
    always_open(operation)
    for key, value in values.items():
        setattr(operation, key, value)
    operation.save()
    for _ in range(people):
        make_person(organization)
    if build:
        operation.is_draft = False
        operation.save(update_fields=["is_draft"])
        list_build(operation=operation)
    operation.isolation_owner = owner  # type: ignore[attr-defined]
    return operation


def make_agent(operation: CallOperation, role: str = Role.VOLUNTEER) -> Membership:
    membership = make_member(operation.organization, role)
    services.operation_user_add(
        operation=operation, membership=membership, role=OperationUser.Role.AGENT, actor=None
    )
    return membership


def _make_operation(organization: Organization) -> CallOperation:
    return make_operation(organization, people=1)


def _make_target(organization: Organization) -> CallTarget:
    operation = make_operation(organization, people=1)
    target = CallTarget.objects.filter(operation=operation).get()
    target.isolation_owner = operation.isolation_owner  # type: ignore[attr-defined]
    return target


def _make_operation_user(organization: Organization) -> OperationUser:
    operation = make_operation(organization, build=False)
    membership = make_agent(operation)
    user = OperationUser.objects.get(operation=operation, membership=membership)
    user.isolation_owner = operation.isolation_owner  # type: ignore[attr-defined]
    return user


register_isolation_maker("calling.calloperation", _make_operation)
register_isolation_maker("calling.calltarget", _make_target)
register_isolation_maker("calling.operationuser", _make_operation_user)

"""The demo people go through the real import pipeline, quickly, and look like a campaign's."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db.models import Count

from mobiliza.people.demo import seed_demo_people
from mobiliza.people.models import Household, ImportJob, Person, PersonPhone, VoteRecord
from mobiliza.people.tests.importing import media_root  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def test_demo_people(org: Any, admin_member: Any) -> None:
    started = time.monotonic()
    seed_demo_people(org, admin_member.user)
    assert time.monotonic() - started < 30  # seconds, even on a busy test machine
    people = Person.objects.filter(organization=org)
    assert people.filter(list="contacts").count() == 2000
    assert people.filter(list="electors").count() == 1000
    jobs = ImportJob.objects.filter(organization=org, status=ImportJob.Status.DONE)
    assert jobs.count() == 3
    multi = (
        Household.objects.filter(organization=org)
        .annotate(n=Count("members"))
        .filter(n__gt=1)
        .count()
    )
    assert multi > 200
    zones = set(people.values_list("time_zone", flat=True))
    assert {"Europe/Lisbon", "Atlantic/Madeira", "Atlantic/Azores"} <= zones
    phones = PersonPhone.objects.filter(organization=org)
    assert phones.filter(kind="mobile").exists() and phones.filter(kind="landline").exists()
    assert phones.filter(is_valid=False).exists()
    assert VoteRecord.objects.filter(organization=org).count() > 1000
    assert people.filter(first_name__in=["Camille", "Léa", "Jean", "Pierre"]).exists()
    assert people.exclude(latitude=None).count() > 2900

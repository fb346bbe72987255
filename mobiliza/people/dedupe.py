"""Likely duplicates, found by rules; the merge itself is `services.person_merge`.

Rules (each a GROUP BY the database does in one query, within one organization and one list):

* the same valid phone number (E.164);
* the same email (case-insensitive);
* the same last name (case-insensitive) and birth date.

The review page shows each group and merges two people at a time, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from mobiliza.people.models import Person, PersonList, PersonPhone

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from mobiliza.accounts.models import Organization

RULES: dict[str, str | _StrPromise] = {
    "phone": _("Same phone number"),
    "email": _("Same email"),
    "name_birth": _("Same last name and birth date"),
}


@dataclass(frozen=True)
class DuplicateGroup:
    rule: str
    key: str
    people: list[Person]

    @property
    def rule_label(self) -> str:
        return str(RULES[self.rule])


def _groups_by_phone(
    organization: Organization, people_list: str, limit: int
) -> list[tuple[str, list[int]]]:
    rows = (
        PersonPhone.objects.filter(
            organization=organization, person__list=people_list, is_valid=True
        )
        .exclude(e164="")
        .values("e164")
        .annotate(n=Count("person_id", distinct=True))
        .filter(n__gt=1)
        .order_by("e164")[:limit]
    )
    keys = [r["e164"] for r in rows]
    members: dict[str, list[int]] = {k: [] for k in keys}
    for e164, person_id in (
        PersonPhone.objects.filter(
            organization=organization, person__list=people_list, e164__in=keys
        )
        .values_list("e164", "person_id")
        .distinct()
    ):
        if person_id not in members[e164]:
            members[e164].append(person_id)
    return [(k, members[k]) for k in keys]


def _groups_by_email(
    organization: Organization, people_list: str, limit: int
) -> list[tuple[str, list[int]]]:
    base = Person.objects.filter(organization=organization, list=people_list).exclude(email="")
    rows = (
        base.annotate(k=Lower("email"))
        .values("k")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("k")[:limit]
    )
    keys = [r["k"] for r in rows]
    members: dict[str, list[int]] = {k: [] for k in keys}
    for key, pk in base.annotate(k=Lower("email")).filter(k__in=keys).values_list("k", "id"):
        members[key].append(pk)
    return [(k, members[k]) for k in keys]


def _groups_by_name_birth(
    organization: Organization, people_list: str, limit: int
) -> list[tuple[str, list[int]]]:
    base = (
        Person.objects.filter(organization=organization, list=people_list, birth_date__isnull=False)
        .exclude(last_name="")
        .annotate(k=Lower("last_name"), b=F("birth_date"))
    )
    rows = base.values("k", "b").annotate(n=Count("id")).filter(n__gt=1).order_by("k", "b")[:limit]
    pairs = [(r["k"], r["b"]) for r in rows]
    if not pairs:
        return []
    condition = Q()
    for last, born in pairs:
        condition |= Q(k=last, b=born)
    members: dict[tuple[str, object], list[int]] = {p: [] for p in pairs}
    for last, born, pk in base.filter(condition).values_list("k", "b", "id"):
        members[(last, born)].append(pk)
    return [(f"{last} · {born.isoformat()}", members[(last, born)]) for last, born in pairs]


def duplicate_groups(
    *,
    organization: Organization,
    people_list: str = PersonList.CONTACTS,
    rules: tuple[str, ...] = tuple(RULES),
    limit: int = 50,
) -> list[DuplicateGroup]:
    """Groups of people that are probably the same, by rule (at most `limit` groups a rule)."""
    found: list[tuple[str, str, list[int]]] = []
    finders = {
        "phone": _groups_by_phone,
        "email": _groups_by_email,
        "name_birth": _groups_by_name_birth,
    }
    for rule in rules:
        for key, ids in finders[rule](organization, people_list, limit):
            if len(ids) > 1:
                found.append((rule, key, sorted(ids)))
    wanted = {pk for _r, _k, ids in found for pk in ids}
    people = {
        p.pk: p
        for p in Person.objects.filter(organization=organization, pk__in=wanted).prefetch_related(
            "phones"
        )
    }
    return [
        DuplicateGroup(rule=rule, key=key, people=[people[pk] for pk in ids if pk in people])
        for rule, key, ids in found
    ]

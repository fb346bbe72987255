"""Demo data for `make run`: a survey made from a shipped template, with answers to look at."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from mobiliza.web.demo import register_demo_seeder

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User


def seed_demo_surveys(organization: Organization, user: User) -> None:
    from mobiliza.people.models import Person
    from mobiliza.surveys.library import templates_ensure
    from mobiliza.surveys.models import Channel, Survey
    from mobiliza.surveys.services import answers_record, survey_copy, survey_public_set

    templates_ensure(organization=organization, actor=user)
    language = organization.default_language if organization.default_language else "en"
    template = Survey.objects.filter(
        organization=organization, library_key="voter-id", language=language
    ).first() or Survey.objects.get(
        organization=organization, library_key="voter-id", language="en"
    )
    survey = survey_copy(survey=template, actor=user, name=template.name)
    survey_public_set(survey=survey, actor=user, enabled=True)
    rng = random.Random(4)
    people = list(Person.objects.filter(organization=organization).order_by("id")[:60])
    if len(people) < 10:  # the people seeder did not run: make a few contacts to answer
        from mobiliza.people.services import person_create

        names = ["Ana", "Rui", "Marta", "João", "Inês", "Pedro", "Sofia", "Tiago", "Rita", "Luís"]
        people += [
            person_create(
                organization=organization,
                actor=user,
                first_name=names[i % len(names)],
                last_name=f"Demo {i + 1}",
                email=f"survey-demo-{i + 1}@example.org",
            )
            for i in range(30)
        ]
    channels = [Channel.CALL, Channel.CALL, Channel.DOOR, Channel.TEXT, Channel.WEB]
    for person in people:
        support = rng.choice(["yes", "yes", "probably", "undecided", "probably-not", "no"])
        answers: dict[str, object] = {"support": support}
        if support in ("yes", "probably"):
            answers["plan"] = rng.choice(["yes", "yes", "no"])
        if support in ("yes", "probably", "undecided"):
            answers["issue"] = rng.choice(["cost", "health", "education", "housing", "environment"])
            answers["sms-ok"] = rng.choice(["yes", "no"])
        answers_record(
            organization=organization,
            person=person,
            survey=survey,
            answers=answers,
            channel=rng.choice(channels),
            agent=user,
            source_type="demo",
            source_id=str(person.public_id),
        )


def register() -> None:
    register_demo_seeder(seed_demo_surveys, order=200)

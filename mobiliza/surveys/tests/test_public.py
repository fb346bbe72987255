"""The public form: anyone answers, a contact is matched or created, consent, spam defences."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from mobiliza.people.models import ConsentRecord, Person
from mobiliza.surveys.models import Answer, Channel
from mobiliza.surveys.services import survey_public_set
from mobiliza.surveys.tests.factories import make_person, make_phone, make_survey
from mobiliza.surveys.views import PUBLIC_RATE_LIMIT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def survey(org: Any) -> Any:
    survey = make_survey(org)
    survey_public_set(survey=survey, actor=None, enabled=True)
    return survey


def url(survey: Any) -> str:
    return reverse("surveys:public", args=[survey.public_token])


def post(survey: Any, **extra: Any) -> Any:
    data = {
        "survey-version": str(survey.current_version.public_id),
        "q-support": "yes",
        "q-age": "40",
        "first_name": "Maria",
        "last_name": "Costa",
        "email": "maria@example.org",
        "phone": "",
        **extra,
    }
    return Client(REMOTE_ADDR="203.0.113.9").post(url(survey), data)


def test_anyone_can_open_it_without_logging_in(survey: Any) -> None:
    page = Client().get(url(survey))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Will you support us?" in text and 'name="website"' in text
    assert "Ask gently" not in text  # guidance is for callers only


def test_closed_or_unknown_form_is_404(survey: Any) -> None:
    survey_public_set(survey=survey, actor=None, enabled=False)
    assert Client().get(url(survey)).status_code == 404
    assert Client().get(reverse("surveys:public", args=["nope"])).status_code == 404


def test_new_contact_created_with_consent_and_answers(survey: Any, org: Any) -> None:
    response = post(survey, consent_email="on", consent_sms="on", phone="912 345 678")
    assert response.status_code == 302
    assert response["Location"] == reverse("surveys:public_thanks", args=[survey.public_token])
    person = Person.objects.get(organization=org, email="maria@example.org")
    assert person.first_name == "Maria"
    assert person.phones.get().e164 == "+351912345678"
    assert person.consent_email is True and person.consent_sms is True
    assert person.consent_phone is None  # not ticked: nothing recorded
    assert set(ConsentRecord.objects.filter(person=person).values_list("channel", flat=True)) == {
        "email",
        "sms",
    }
    answers = Answer.objects.filter(person=person)
    assert {a.channel for a in answers} == {Channel.WEB}
    assert answers.count() == 2
    person.refresh_from_db()
    assert person.support_level == 5  # the choice's effect


def test_existing_contact_matched_by_email_then_by_phone(survey: Any, org: Any) -> None:
    by_email = make_person(org, first_name="", email="Maria@Example.org")
    post(survey)
    assert Person.objects.filter(organization=org).count() == 1
    by_email.refresh_from_db()
    assert by_email.first_name == "Maria"  # a blank filled in
    assert Answer.objects.filter(person=by_email).count() == 2
    by_phone = make_person(org, first_name="Zé", email="")
    make_phone(by_phone, "+351934567890")
    post(survey, email="", phone="934567890", first_name="Other")
    assert Person.objects.filter(organization=org).count() == 2
    by_phone.refresh_from_db()
    assert by_phone.first_name == "Zé"  # never overwritten
    assert Answer.objects.filter(person=by_phone).count() == 2


def test_honeypot_stores_nothing(survey: Any, org: Any) -> None:
    response = post(survey, website="http://spam.example")
    assert response.status_code == 302
    assert not Person.objects.filter(organization=org).exists()
    assert not Answer.objects.exists()


def test_rate_limit(survey: Any, org: Any) -> None:
    for i in range(PUBLIC_RATE_LIMIT):
        assert post(survey, email=f"p{i}@example.org").status_code == 302
    response = post(survey, email="late@example.org")
    assert response.status_code == 429
    assert "Too many" in response.content.decode()
    assert not Person.objects.filter(email="late@example.org").exists()


def test_bad_input_is_explained_and_nothing_stored(survey: Any, org: Any) -> None:
    response = post(survey, email="", phone="")
    assert response.status_code == 200
    assert "email address or a phone number" in response.content.decode()
    response = post(survey, **{"q-support": "", "q-age": "old"})
    text = response.content.decode()
    assert "needs an answer" in text and "enter a number" in text
    assert not Person.objects.filter(organization=org).exists()

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from mobiliza.accounts.tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_by_email_and_password(admin_member: Any) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": admin_member.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert admin_member.organization.name in home.content.decode()


@pytest.mark.django_db
def test_wrong_password_says_so(admin_member: Any) -> None:
    response = Client().post(
        "/accounts/login/", {"username": admin_member.user.email, "password": "nope"}
    )
    assert response.status_code == 200
    assert "Wrong email or password." in response.content.decode()


@pytest.mark.django_db
def test_login_is_throttled_after_repeated_failures(admin_member: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        client.post("/accounts/login/", {"username": admin_member.user.email, "password": "bad"})
    locked = client.post(
        "/accounts/login/", {"username": admin_member.user.email, "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # another account from the same place is not locked out
    from mobiliza.accounts.tests.factories import make_member

    other = make_member(admin_member.organization, "volunteer")
    ok = Client().post("/accounts/login/", {"username": other.user.email, "password": PASSWORD})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2_in_production(settings: Any) -> None:
    from config import settings as project_settings

    assert "Argon2PasswordHasher" in project_settings.PASSWORD_HASHERS[-2]
    assert any("Argon2" in h for h in project_settings.PASSWORD_HASHERS)


@pytest.mark.django_db
def test_password_reset_by_email(admin_member: Any) -> None:
    client = Client()
    response = client.post("/accounts/password-reset/", {"email": admin_member.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password-reset/\S+/)", mail.outbox[0].body)
    assert link
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link.group(1)
    done = client.post(
        form_url, {"new_password1": "brand-new-pass-2026", "new_password2": "brand-new-pass-2026"}
    )
    assert done.status_code == 302
    login = Client().post(
        "/accounts/login/", {"username": admin_member.user.email, "password": "brand-new-pass-2026"}
    )
    assert login.status_code == 302
    assert (
        Client()
        .post("/accounts/login/", {"username": admin_member.user.email, "password": PASSWORD})
        .status_code
        == 200
    )  # the old password no longer works


@pytest.mark.django_db
def test_password_reset_for_unknown_email_reveals_nothing() -> None:
    response = Client().post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0

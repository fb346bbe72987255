"""Provider test data. Registers isolation makers for the ids the settings pages take."""

from __future__ import annotations

from typing import Any

from mobiliza.core.testing.isolation import register_isolation_maker

TWILIO_TOKEN = "twilio-auth-token-0123456789"
QUIET = {"failure_rate": 0, "reply_rate": 0, "api_error_rate": 0}


def make_account(organization: Any, **options: Any) -> Any:
    """A simulator account whose carrier delivers everything and never replies (unless told)."""
    from mobiliza.providers.services import provider_account_create

    return provider_account_create(
        organization=organization,
        actor=None,
        kind="simulator",
        name="Sim",
        options={**QUIET, **options},
    )


def make_twilio_account(organization: Any, *, token: str = TWILIO_TOKEN) -> Any:
    from mobiliza.providers.services import provider_account_create

    return provider_account_create(
        organization=organization,
        actor=None,
        kind="twilio",
        name="Twilio",
        account_sid="AC" + "0" * 32,
        auth_token=token,
    )


def make_sender(organization: Any, number: str = "+351910000001", account: Any = None) -> Any:
    from mobiliza.providers.services import sender_number_add

    account = account or make_account(organization)
    return sender_number_add(account=account, actor=None, number=number)


register_isolation_maker("providers.provideraccount", make_account)
register_isolation_maker("providers.sendernumber", make_sender)

"""`core.sql`: the hot paths' prepared statements read rows exactly as the ORM does."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from mobiliza.accounts.models import ApiToken, Membership, Organization, User
from mobiliza.core.sql import model_columns, model_from_row, prepared_fetchone

pytestmark = pytest.mark.django_db


def test_rows_read_by_hand_written_sql_equal_the_orm_s(admin_member: Any) -> None:
    from mobiliza.accounts.services import api_token_create

    token, _raw = api_token_create(membership=admin_member, name="sql")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=token.created_at)
    for model, pk in [
        (ApiToken, token.pk),
        (Membership, admin_member.pk),
        (User, admin_member.user_id),
        (Organization, admin_member.organization_id),
    ]:
        row = prepared_fetchone(
            f"SELECT {model_columns(model, 'x')} FROM {model._meta.db_table} x WHERE x.id = %s",  # noqa: S608
            [pk],
        )
        assert row is not None
        ours = model_from_row(model, row)
        orm = model.objects.get(pk=pk)
        for field in model._meta.concrete_fields:
            mine, theirs = getattr(ours, field.attname), getattr(orm, field.attname)
            assert mine == theirs, field.name
            assert type(mine) is type(theirs), field.name
            if hasattr(theirs, "tzinfo") and theirs.tzinfo is not None:
                assert mine.tzinfo is theirs.tzinfo, field.name


def test_the_same_cursor_serves_many_statements_and_survives_an_error() -> None:
    assert prepared_fetchone("SELECT %s", [1]) == (1,)
    if connection.vendor == "postgresql":
        import psycopg
        from django.db import DataError

        # Raised as Django's error (as from the ORM), the driver's as its cause.
        with pytest.raises(DataError) as raised, transaction.atomic():
            prepared_fetchone("SELECT 1 / %s", [0])
        assert isinstance(raised.value.__cause__, psycopg.errors.DivisionByZero)
    assert prepared_fetchone("SELECT %s", [2]) == (2,)

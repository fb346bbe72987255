"""Build a call operation's target list from a segment on PostgreSQL (issue 5: 1,000,000 targets
in <= 15 s).

Seeds N people with one phone each (set-based, generate_series), saves a dynamic segment that
matches them, then times `list_build` (INSERT … SELECT with the phone subquery, blocking rules,
counts, time zones). Reference in the same run: a raw `INSERT … SELECT` of the same people and
phones into an unlogged scratch table with no indexes (what the database alone does).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.common import emit, migrate, postgres_available, postgres_database

N = int(os.environ.get("BENCH_CALLING_TARGETS", "1000000"))
TARGET_SECONDS = 15.0


def _insert_people(org_id: int, n: int) -> None:
    """People of the organization, with every NOT NULL column filled from its model default."""
    from django.db import connection

    from mobiliza.people.models import Person, PersonPhone

    overrides = {
        "public_id": "gen_random_uuid()",
        "created_at": "now()",
        "updated_at": "now()",
        "organization_id": str(org_id),
        "list": "'contacts'",
        "first_name": "'Ana' || g",
        "last_name": "'Silva'",
        "city": "CASE WHEN g %% 3 = 0 THEN 'Porto' ELSE 'Lisboa' END",
        "time_zone": "CASE WHEN g %% 10 = 0 THEN 'Atlantic/Azores' ELSE 'Europe/Lisbon' END",
        "support_level": "(g %% 5) + 1",
        "external_id": "'ext' || g",
    }
    columns, exprs, params = [], [], []
    for field in Person._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(str(field.column))
        name = field.attname
        if name in overrides:
            exprs.append(overrides[name])
        elif field.null:
            exprs.append("NULL")
        else:
            default = field.get_default()
            if isinstance(default, dict | list):
                exprs.append("%s::jsonb")
                import json

                params.append(json.dumps(default))
            else:
                exprs.append("%s")
                params.append(default)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Person._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(exprs)} FROM generate_series(1, {int(n)}) AS g",
            params,
        )
        phone_cols, phone_exprs, phone_params = [], [], []
        for field in PersonPhone._meta.concrete_fields:
            if field.primary_key:
                continue
            phone_cols.append(str(field.column))
            name = field.attname
            fixed = {
                "organization_id": str(org_id),
                "person_id": "p.id",
                "raw": "'+3519' || lpad(p.id::text, 8, '0')",
                "e164": "'+3519' || lpad(p.id::text, 8, '0')",
                "kind": "'mobile'",
                "is_valid": "true",
                "position": "0",
            }
            if name in fixed:
                phone_exprs.append(fixed[name])
            elif name in {"created_at", "updated_at"}:
                phone_exprs.append("now()")
            elif name == "public_id":
                phone_exprs.append("gen_random_uuid()")
            elif field.null:
                phone_exprs.append("NULL")
            else:
                phone_exprs.append("%s")
                phone_params.append(field.get_default())
        cursor.execute(
            f"INSERT INTO {PersonPhone._meta.db_table} ({', '.join(phone_cols)}) "
            f"SELECT {', '.join(phone_exprs)} FROM {Person._meta.db_table} p "
            f"WHERE p.organization_id = {int(org_id)}",
            phone_params,
        )
        cursor.execute("ANALYZE")


def _seed() -> Any:
    from mobiliza.accounts.models import Membership, User
    from mobiliza.accounts.services import organization_create
    from mobiliza.calling import services
    from mobiliza.people.models import Segment

    user = User.objects.create_user("bench@example.org", "bench-password-123", full_name="Bench")
    org = organization_create(name="Bench", creator=user)
    _insert_people(org.id, N)
    segment = Segment.objects.create(
        organization=org,
        name="Everyone with a support level",
        definition={"filter": "support_level", "params": {"min": 1}},
    )
    membership = Membership.objects.get(organization=org, user=user)
    operation = services.operation_create(organization=org, creator=membership)
    operation.name = "Bench"
    operation.segment = segment
    operation.save()
    return operation


def _raw_reference(org_id: int) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_raw_targets (person_id bigint, e164 text, tz text, "
            "household_id bigint)"
        )
        start = time.perf_counter()
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute(
            "INSERT INTO bench_raw_targets "
            "SELECT p.id, ph.e164, p.time_zone, p.household_id FROM people_person p JOIN ("
            " SELECT DISTINCT ON (x.person_id) x.person_id, x.e164 FROM people_personphone x"
            " WHERE x.organization_id = %s AND x.is_valid AND x.e164 <> ''"
            " ORDER BY x.person_id, x.position, x.id) ph ON ph.person_id = p.id"
            " WHERE p.organization_id = %s AND p.support_level >= 1",
            [org_id, org_id],
        )
        seconds = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_raw_targets")
    return seconds


def main() -> None:
    if not postgres_available():
        emit(
            "calling.build_seconds",
            0,
            "s",
            f"<= {TARGET_SECONDS} s",
            None,
            False,
            skipped="no PostgreSQL",
        )
        return
    with postgres_database("mobiliza_bench_calling") as url:
        migrate(url)
        from bench.common import django_setup

        django_setup(url)
        seed_start = time.perf_counter()
        operation = _seed()
        seed_seconds = time.perf_counter() - seed_start
        from mobiliza.calling.dispenser import list_build

        reference = _raw_reference(operation.organization_id)
        start = time.perf_counter()
        report = list_build(operation=operation)
        seconds = time.perf_counter() - start
        from django.db import connections

        connections.close_all()
        emit(
            "calling.build_seconds",
            seconds,
            "s",
            f"<= {TARGET_SECONDS} s for {N:,} targets",
            reference,
            seconds <= TARGET_SECONDS * N / 1_000_000 and report["targets"] == N,
            targets=report["targets"],
            rate_per_s=round(report["targets"] / seconds) if seconds else None,
            reference_note="seconds for the same people/phone SELECT inserted raw into an unlogged table without indexes",
            seed_seconds=round(seed_seconds, 1),
        )


if __name__ == "__main__":
    main()

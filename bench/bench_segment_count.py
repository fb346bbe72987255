"""Count of a three-criteria segment over 1,000,000 people on PostgreSQL (issue 3, "Speed").

Generates BENCH_PEOPLE people (default 1,000,000) set-based with `generate_series`: names drawn
from common Portuguese names, coordinates spread over mainland Portugal (half around Lisbon and
Porto, the rest uniform), a "volunteer" tag on ~10%, a vote in one election for ~40%. Then
times the count of

    tag = volunteer AND voted in the election AND within 10 km of central Lisbon

through `definition_queryset(...).count()` (what the builder's live count and the API run),
median of several runs after one warm-up. Reference in the same run: a raw
`SELECT count(*)` of the whole people table. Target: <= 300 ms.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
)

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
LISBON = (38.7223, -9.1393)

FIRST = [
    "Ana", "Maria", "João", "José", "Pedro", "Rita", "Inês", "Miguel", "Tiago", "Sofia",
    "Beatriz", "Carlos", "Luís", "Marta", "Rui", "Paulo", "Catarina", "Joana", "Diogo", "Helena",
]  # fmt: skip
LAST = [
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
    "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida",
    "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes", "Nunes", "Soares",
    "Vieira", "Monteiro", "Cardoso", "Rocha", "Neves", "Coelho", "Cruz", "Cunha", "Pires",
    "Ramos", "Reis", "Simões", "Antunes", "Matos",
]  # fmt: skip


def _sql_array(values: list[str]) -> str:
    return "(ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "])"


def generate_people(
    *, organization_id: int, people: int, people_list: str = "electors"
) -> dict[str, int]:
    """Insert `people` people, a volunteer tag on ~10% and a vote for ~40%, set-based.

    Returns the ids of the tag and the election."""
    from django.db import connection

    from mobiliza.people.models import Election, Tag

    tag = Tag.objects.create(organization_id=organization_id, name="volunteer")
    election = Election.objects.create(
        organization_id=organization_id, label="11/05/2024 GENERAL", description="General 2024"
    )
    first, last = _sql_array(FIRST), _sql_array(LAST)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""
            INSERT INTO people_person (
                public_id, created_at, updated_at, organization_id, list, external_id,
                first_name, middle_name, last_name, email, street, postcode, city, region,
                country, latitude, longitude, birth_year, gender, language, nationality,
                polling_place, precinct, voter_id, registration_status, support_level,
                donations_this_year, custom_fields, do_not_contact, notes, time_zone)
            SELECT gen_random_uuid(), now(), now(), %s, %s, 'NC' || i,
                {first}[1 + floor(random() * {len(FIRST)})::int], '',
                {last}[1 + floor(random() * {len(LAST)})::int],
                CASE WHEN random() < 0.3 THEN 'p' || i || '@example.org' ELSE '' END,
                'Rua ' || (i %% 5000), lpad(((i %% 9000) + 1000)::text, 4, '0') || '-001',
                CASE WHEN g.r < 0.3 THEN 'Lisboa' WHEN g.r < 0.5 THEN 'Porto' ELSE 'Outro' END,
                '', 'PT',
                CASE WHEN g.r < 0.3 THEN 38.72 + (random() - 0.5) * 0.6
                     WHEN g.r < 0.5 THEN 41.15 + (random() - 0.5) * 0.5
                     ELSE 37.0 + random() * 5.0 END,
                CASE WHEN g.r < 0.3 THEN -9.14 + (random() - 0.5) * 0.7
                     WHEN g.r < 0.5 THEN -8.61 + (random() - 0.5) * 0.6
                     ELSE -9.4 + random() * 2.9 END,
                1930 + floor(random() * 75)::int, '', '', '', 'Escola ' || (i %% 700),
                'P' || (i %% 700), 'V' || i, 'ACTIVE',
                CASE WHEN random() < 0.5 THEN NULL ELSE 1 + floor(random() * 5)::int END,
                0, '{{}}'::jsonb, false, '', 'Europe/Lisbon'
            FROM generate_series(1, %s) AS i
            CROSS JOIN LATERAL (SELECT random() + i * 0 AS r) AS g
            """,
            [organization_id, people_list, people],
        )
        cursor.execute(
            """
            INSERT INTO people_persontag (person_id, tag_id, created_at)
            SELECT id, %s, now() FROM people_person
            WHERE organization_id = %s AND random() < 0.10
            """,
            [tag.pk, organization_id],
        )
        cursor.execute(
            """
            INSERT INTO people_voterecord (organization_id, person_id, election_id, voting_method)
            SELECT %s, id, %s, 'IN-PERSON' FROM people_person
            WHERE organization_id = %s AND random() < 0.40
            """,
            [organization_id, election.pk, organization_id],
        )
        cursor.execute("VACUUM ANALYZE people_person")
        cursor.execute("ANALYZE people_persontag")
        cursor.execute("ANALYZE people_voterecord")
    return {"tag": tag.pk, "election": election.pk}


def make_organization() -> Any:
    from mobiliza.accounts.models import Organization

    return Organization.objects.create(name="Bench", slug="bench", default_country="PT")


def timed_runs(fn: Any, runs: int = RUNS) -> tuple[float, Any]:
    fn()  # warm-up: plans and caches
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


DEFINITION = {
    "op": "and",
    "children": [
        {"filter": "tag", "params": {"tag": "volunteer"}},
        {"filter": "voted", "params": {"election": "11/05/2024 GENERAL", "voted": "yes"}},
        {"filter": "distance", "params": {"latitude": LISBON[0], "longitude": LISBON[1], "km": 10}},
    ],
}


def main() -> None:
    if not postgres_available():
        emit("people.segment_count_ms", 0, "ms", "<= 300 ms", None, False, error="no PostgreSQL")
        return
    with postgres_database() as url:
        migrate(url)
        django_setup(url)
        from django.db import connection

        from mobiliza.people.selectors import definition_queryset

        organization = make_organization()
        start = time.perf_counter()
        generate_people(organization_id=organization.pk, people=PEOPLE)
        generated = time.perf_counter() - start

        def raw_count() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM people_person")
                return int(cursor.fetchone()[0])

        def segment_count() -> int:
            return definition_queryset(
                organization=organization, list="electors", definition=DEFINITION
            ).count()

        reference, total = timed_runs(raw_count)
        value, count = timed_runs(segment_count)
        qs = definition_queryset(organization=organization, list="electors", definition=DEFINITION)
        sql, params = qs.order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) q", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.close()
    emit(
        "people.segment_count_ms",
        value * 1000,
        "ms",
        "<= 300 ms",
        reference * 1000,
        value <= 0.300,
        people=total,
        matched=count,
        generate_s=round(generated, 1),
        reference_is="raw SELECT count(*) of the whole people table",
    )
    if os.environ.get("BENCH_EXPLAIN"):
        print(plan)


if __name__ == "__main__":
    main()

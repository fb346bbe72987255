"""First page and a deep page of the people list over 1,000,000 people on PostgreSQL (issue 3,
"Speed").

Generates BENCH_PEOPLE people set-based (the generator of `bench_segment_count`), then times the
whole people page (`GET /people/?list=electors`: session, organization, permission, the keyset
query, its phones, template rendering) through Django's test client in this process:

* the first page;
* a deep page: the cursor of the person at 90% of the list (`?after=...`), which a keyset
  pagination reaches in the same time as the first page (no OFFSET, no COUNT);
* searches (`?q=`): a common last name, a first + last name, a name nobody has (the worst case:
  nothing to stop early on), an email and a phone number; the figure is the slowest of them.

Median of several runs after a warm-up. Reference in the same run: a raw `SELECT count(*)` of
the people table. Targets: <= 100 ms each.
"""

from __future__ import annotations

import os

from bench.bench_segment_count import PEOPLE, generate_people, make_organization, timed_runs
from bench.common import (
    django_setup,
    emit,
    migrate,
    postgres_available,
    postgres_database,
)


def main() -> None:
    if not postgres_available():
        for name in ("people.list_first_page_ms", "people.list_deep_page_ms"):
            emit(name, 0, "ms", "<= 100 ms", None, False, error="no PostgreSQL")
        return
    with postgres_database() as url:
        migrate(url)
        django_setup(url)
        from django.conf import settings

        # No collectstatic in a benchmark: plain static URLs (the same work otherwise).
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        from django.db import connection
        from django.test import Client

        from mobiliza.accounts.models import Membership, User
        from mobiliza.core.tenancy import SESSION_KEY
        from mobiliza.people.selectors import Cursor

        organization = make_organization()
        generate_people(organization_id=organization.pk, people=PEOPLE)
        user = User.objects.create_user("bench@example.org", "bench-password-123", full_name="B")
        Membership.objects.create(user=user, organization=organization, role="organizer")
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        session = client.session
        session[SESSION_KEY] = str(organization.public_id)
        session.save()

        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT last_name, first_name, id FROM people_person
                WHERE organization_id = %s AND list = 'electors'
                ORDER BY last_name, first_name, id OFFSET %s LIMIT 1
                """,
                [organization.pk, int(PEOPLE * 0.9)],
            )
            last, first, pk = cursor.fetchone()
        deep_cursor = Cursor(last, first, pk).encode()

        def raw_count() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM people_person")
                return int(cursor.fetchone()[0])

        def first_page() -> int:
            response = client.get("/people/", {"list": "electors"})
            assert response.status_code == 200, response.status_code
            return len(response.context["page"].people) if response.context else 50

        def deep_page() -> int:
            response = client.get("/people/", {"list": "electors", "after": deep_cursor})
            assert response.status_code == 200, response.status_code
            return len(response.context["page"].people) if response.context else 50

        searches = {
            "common last name": "Silva",
            "first and last name": "Maria Costa",
            "a name nobody has": "Zyxwv",
            "email": "p123457@example.org",
            "phone": "+351 912 345 678",
        }

        def search(text: str) -> int:
            response = client.get("/people/", {"list": "electors", "q": text})
            assert response.status_code == 200, response.status_code
            return len(response.context["page"].people) if response.context else 0

        search_ms: dict[str, float] = {}
        for label, text in searches.items():
            seconds, _rows = timed_runs(lambda text=text: search(text))
            search_ms[label] = round(seconds * 1000, 1)
        reference, total = timed_runs(raw_count)
        first_value, first_rows = timed_runs(first_page)
        deep_value, deep_rows = timed_runs(deep_page)
        if os.environ.get("BENCH_EXPLAIN"):
            from mobiliza.people.selectors import _after, people_queryset

            qs = (
                people_queryset(organization=organization, list="electors")
                .filter(_after(Cursor(last, first, pk)))
                .order_by("last_name", "first_name", "id")[:51]
            )
            sql, params = qs.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print("\n".join(row[0] for row in cursor.fetchall()))
        connection.close()
    common = {"people": total, "reference_is": "raw SELECT count(*) of the whole people table"}
    emit(
        "people.list_first_page_ms",
        first_value * 1000,
        "ms",
        "<= 100 ms",
        reference * 1000,
        first_value <= 0.100,
        rows=first_rows,
        **common,
    )
    emit(
        "people.list_deep_page_ms",
        deep_value * 1000,
        "ms",
        "<= 100 ms",
        reference * 1000,
        deep_value <= 0.100,
        rows=deep_rows,
        position=int(PEOPLE * 0.9),
        **common,
    )
    slowest = max(search_ms.values())
    emit(
        "people.list_search_ms",
        slowest,
        "ms",
        "<= 100 ms (our target: a search is a list page)",
        reference * 1000,
        slowest <= 100,
        searches=search_ms,
        **common,
    )


if __name__ == "__main__":
    main()

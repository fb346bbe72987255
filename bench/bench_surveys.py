"""Surveys on PostgreSQL at campaign scale (issue 4 sets no figure; these targets are ours).

Seeds N people (default 100,000) with three answers each (set-based SQL), then measures:

* `surveys.results_seconds`: `survey_results` (the results page's reads) over 3·N answers;
  target <= 1 s per 300,000 answers. Reference: the two raw GROUP BY queries alone.
* `surveys.filter_seconds`: counting a segment "latest answer to Q is X" over N people through the
  filter registry; target <= 0.5 s per 100,000 people. Reference: a raw count of the chosen rows.
* `surveys.record_rate`: `answers_record` calls per second (3 answers, effects on the person:
  support level and a tag, audited), one at a time. Reference: the rate of inserting the same
  three answer rows with plain ORM creates in one transaction; target >= 20/s (the call makes ~25
  statements: lock, lookups, one set-based write per table, the people services' own savepoints
  and audit rows). For scale: 1,000 agents submitting a result a minute make ~17/s.
* `surveys.record_rate_parallel`: the same from 4 connections at once; target >= 40/s.

Run: `.venv/bin/python -m bench surveys` (BENCH_SURVEYS_PEOPLE=50000 for a quick run).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.common import emit, median, migrate, postgres_available, postgres_database

N = int(os.environ.get("BENCH_SURVEYS_PEOPLE", "100000"))
RECORD_CALLS = int(os.environ.get("BENCH_SURVEYS_RECORDS", "300"))
RESULTS_TARGET = 1.0 * max(N * 3, 1) / 300_000
FILTER_TARGET = 0.5 * max(N, 1) / 100_000
# Recording is bound by statement round trips (~25 per call against the reference's 5). The
# targets were set before the first measurement and stay: a miss is reported, not re-targeted.
# For scale: 1,000 agents submitting one result a minute make ~17 recordings a second.
RECORD_TARGET = 20.0
PARALLEL_TARGET = 40.0
WORKERS = 4

QUESTIONS: list[dict[str, Any]] = [
    {
        "key": "support",
        "type": "single",
        "label": "Will you support us?",
        "required": True,
        "choices": [
            {"key": "yes", "label": "Yes", "effects": {"support_level": 5, "tag_add": "supporter"}},
            {"key": "maybe", "label": "Maybe"},
            {"key": "no", "label": "No", "branch": {"kind": "end"}},
        ],
    },
    {
        "key": "issue",
        "type": "multiple",
        "label": "Which issues?",
        "choices": [
            {"key": "health", "label": "Health"},
            {"key": "jobs", "label": "Jobs"},
            {"key": "climate", "label": "Climate"},
        ],
    },
    {"key": "age", "type": "number", "label": "How old are you?"},
]


def _fill(model: Any, overrides: dict[str, str]) -> tuple[list[str], list[str], list[Any]]:
    """Columns, SQL expressions and params for an INSERT … SELECT filling every NOT NULL column."""
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.attname in overrides:
            exprs.append(overrides[field.attname])
        elif field.attname == "public_id":
            exprs.append("gen_random_uuid()")
        elif field.attname in {"created_at", "updated_at"}:
            exprs.append("now()")
        elif field.null:
            exprs.append("NULL")
        else:
            default = field.get_default()
            if isinstance(default, dict | list):
                exprs.append("%s::jsonb")
                params.append(json.dumps(default))
            else:
                exprs.append("%s")
                params.append(default)
    return columns, exprs, params


def _seed() -> tuple[Any, Any, Any]:
    from django.db import connection

    from mobiliza.accounts.models import User
    from mobiliza.accounts.services import organization_create
    from mobiliza.people.models import Person
    from mobiliza.surveys.models import Answer, AnswerChoice, Question
    from mobiliza.surveys.services import survey_create

    user = User.objects.create_user("bench@example.org", "bench-password-123", full_name="Bench")
    org = organization_create(name="Bench", creator=user)
    survey = survey_create(organization=org, actor=user, name="Bench", questions=QUESTIONS)
    version = survey.current_version
    assert version is not None
    questions = {q.key: q for q in Question.objects.filter(survey=survey)}
    with connection.cursor() as cursor:
        cols, exprs, params = _fill(
            Person,
            {
                "organization_id": str(org.id),
                "list": "'contacts'",
                "first_name": "'Ana' || g",
                "last_name": "'Silva'",
                "time_zone": "'Europe/Lisbon'",
            },
        )
        cursor.execute(
            f"INSERT INTO {Person._meta.db_table} ({', '.join(cols)}) "
            f"SELECT {', '.join(exprs)} FROM generate_series(1, {N}) AS g",
            params,
        )
        per_question = {
            "support": (
                "to_jsonb((ARRAY['yes','maybe','no'])[1 + p.id %% 3])",
                "(ARRAY['Yes','Maybe','No'])[1 + p.id %% 3]",
            ),
            "issue": (
                "jsonb_build_array((ARRAY['health','jobs','climate'])[1 + p.id %% 3])",
                "(ARRAY['Health','Jobs','Climate'])[1 + p.id %% 3]",
            ),
            "age": ("to_jsonb(18 + p.id %% 60)", "(18 + p.id %% 60)::text"),
        }
        for key, (value_sql, text_sql) in per_question.items():
            cols, exprs, params = _fill(
                Answer,
                {
                    "organization_id": str(org.id),
                    "person_id": "p.id",
                    "survey_id": str(survey.id),
                    "version_id": str(version.id),
                    "question_id": str(questions[key].id),
                    "value": value_sql,
                    "value_text": text_sql,
                    "channel": "(ARRAY['call','door','text','web'])[1 + p.id %% 4]",
                    "answered_at": "now() - ((p.id %% 30) || ' days')::interval",
                    "source_type": "''",
                    "source_id": "''",
                    "is_latest": "true",
                },
            )
            cursor.execute(
                f"INSERT INTO {Answer._meta.db_table} ({', '.join(cols)}) "
                f"SELECT {', '.join(exprs)} FROM {Person._meta.db_table} p "
                f"WHERE p.organization_id = {org.id}",
                params,
            )
        cursor.execute(
            f"INSERT INTO {AnswerChoice._meta.db_table} (answer_id, choice_id) "
            "SELECT a.id, c.id FROM surveys_answer a JOIN surveys_choice c "
            "ON c.question_id = a.question_id AND (a.value ? c.key OR a.value #>> '{}' = c.key) "
            "WHERE a.survey_id = %s",
            [survey.id],
        )
        cursor.execute("ANALYZE")
    return org, user, survey


def _median_time(fn: Any, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    if not postgres_available():
        emit("surveys.results_seconds", 0, "s", "<= 1 s", None, False, skipped="no PostgreSQL")
        return
    with postgres_database("mobiliza_bench_surveys") as url:
        migrate(url)
        from bench.common import django_setup

        django_setup(url)
        from django.db import connection, connections, transaction

        from mobiliza.people.filters import definition_to_q
        from mobiliza.people.models import Person
        from mobiliza.surveys.models import Answer, Channel, Choice, Question
        from mobiliza.surveys.selectors import survey_results
        from mobiliza.surveys.services import answers_record

        seed_start = time.perf_counter()
        org, user, survey = _seed()
        seed_seconds = time.perf_counter() - seed_start
        answers = Answer.objects.filter(survey=survey).count()

        # 1. results
        results = _median_time(lambda: survey_results(organization=org, survey=survey))

        def raw_results() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT question_id, count(*) FROM surveys_answer WHERE survey_id = %s "
                    "GROUP BY question_id",
                    [survey.id],
                )
                cursor.fetchall()
                cursor.execute(
                    "SELECT ac.choice_id, count(*) FROM surveys_answerchoice ac "
                    "JOIN surveys_answer a ON a.id = ac.answer_id WHERE a.survey_id = %s "
                    "GROUP BY ac.choice_id",
                    [survey.id],
                )
                cursor.fetchall()

        reference = _median_time(raw_results)
        emit(
            "surveys.results_seconds",
            results,
            "s",
            f"<= {RESULTS_TARGET:.2f} s for {answers:,} answers",
            reference,
            results <= RESULTS_TARGET,
            answers=answers,
            reference_note="the raw GROUP BY queries alone",
            seed_seconds=round(seed_seconds, 1),
        )

        # 2. segment filter
        question = Question.objects.get(survey=survey, key="support")
        definition = {
            "filter": "survey_answer_is",
            "params": {"question": str(question.public_id), "values": ["yes"]},
        }
        holder: dict[str, int] = {}

        def filtered() -> None:
            holder["n"] = (
                Person.objects.filter(organization=org)
                .filter(definition_to_q(org, definition))
                .count()
            )

        seconds = _median_time(filtered)
        yes = Choice.objects.get(question=question, key="yes")

        def raw_filter() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM surveys_answerchoice WHERE choice_id = %s", [yes.id]
                )
                cursor.fetchone()

        reference = _median_time(raw_filter)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM people_person WHERE organization_id = %s AND id %% 3 = 0",
                [org.id],
            )
            expected = cursor.fetchone()[0]
        emit(
            "surveys.filter_seconds",
            seconds,
            "s",
            f"<= {FILTER_TARGET:.2f} s over {N:,} people",
            reference,
            seconds <= FILTER_TARGET and holder["n"] == expected,
            matched=holder["n"],
            reference_note="raw count of the chosen rows, no join",
        )

        # 3. answers_record rate on fresh people
        people = list(Person.objects.filter(organization=org).order_by("id")[:RECORD_CALLS])
        start = time.perf_counter()
        for i, person in enumerate(people):
            answers_record(
                organization=org,
                person=person,
                survey=survey,
                answers={"support": "yes", "issue": ["jobs", "health"], "age": 30 + i % 40},
                channel=Channel.CALL,
                agent=user,
                source_type="bench",
                source_id=str(i),
            )
        rate = len(people) / (time.perf_counter() - start)
        version = survey.current_version
        qs = {q.key: q for q in Question.objects.filter(survey=survey)}
        start = time.perf_counter()
        for person in people:
            with transaction.atomic():
                for key in ("support", "issue", "age"):
                    Answer.objects.create(
                        organization=org,
                        person=person,
                        survey=survey,
                        version=version,
                        question=qs[key],
                        value=1,
                        value_text="1",
                        channel=Channel.CALL,
                        answered_at=person.created_at,
                        is_latest=False,
                    )
        reference_rate = len(people) / (time.perf_counter() - start)

        # 4. the same with WORKERS connections at once (agents submit in parallel)
        import threading

        batch = list(
            Person.objects.filter(organization=org).order_by("id")[RECORD_CALLS : RECORD_CALLS * 2]
        )
        chunks = [batch[w::WORKERS] for w in range(WORKERS)]
        errors: list[BaseException] = []

        def worker(chunk: list[Any], offset: int) -> None:
            try:
                for i, person in enumerate(chunk):
                    answers_record(
                        organization=org,
                        person=person,
                        survey=survey,
                        answers={"support": "yes", "issue": ["jobs"], "age": 30},
                        channel=Channel.CALL,
                        agent=user,
                        source_type="bench-parallel",
                        source_id=f"{offset}-{i}",
                    )
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(c, w)) for w, c in enumerate(chunks)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel_rate = len(batch) / (time.perf_counter() - start)
        connections.close_all()
        emit(
            "surveys.record_rate",
            rate,
            "/s",
            f">= {RECORD_TARGET:g} /s",
            reference_rate,
            rate >= RECORD_TARGET,
            calls=len(people),
            reference_note="three plain Answer inserts per call in one transaction",
        )
        emit(
            "surveys.record_rate_parallel",
            parallel_rate,
            "/s",
            f">= {PARALLEL_TARGET:g} /s with {WORKERS} connections",
            reference_rate,
            parallel_rate >= PARALLEL_TARGET and not errors,
            calls=len(batch),
            errors=len(errors),
            reference_note="sequential plain inserts (as above)",
        )


if __name__ == "__main__":
    main()

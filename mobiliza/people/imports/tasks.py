"""Thin Celery tasks for imports: they take ids and call services."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, name="people.import_job_run")
def import_job_run_task(job_id: int) -> str:
    from mobiliza.people.imports.services import import_job_run

    return import_job_run(job_id=job_id).status

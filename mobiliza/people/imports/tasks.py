"""Thin Celery tasks for imports: they take ids and call services."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, name="people.import_job_run")
def import_job_run_task(job_id: int) -> str:
    from mobiliza.people.imports.services import import_job_run

    return import_job_run(job_id=job_id).status


@shared_task(name="people.import_uploads_purge")
def import_uploads_purge_task(days: int = 7) -> int:
    """Daily retention of abandoned uploads (beat: `people-import-uploads-purge`)."""
    import datetime as dt

    from mobiliza.people.imports.services import import_uploads_purge

    return len(import_uploads_purge(older_than=dt.timedelta(days=days)))

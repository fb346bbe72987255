"""People's Celery tasks, where a worker's autodiscovery (`<app>.tasks`) finds them."""

from mobiliza.people.imports.tasks import import_job_run_task, import_uploads_purge_task

__all__ = ["import_job_run_task", "import_uploads_purge_task"]

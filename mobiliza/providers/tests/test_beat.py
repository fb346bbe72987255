"""The Celery beat schedule names real tasks, and each one runs (eagerly) without a broker."""

from __future__ import annotations

import pytest

from config.celery import BEAT_SCHEDULE, app

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_exists_and_runs() -> None:
    # What a worker does at start: import every installed app's `tasks` module (autodiscovery).
    app.loader.import_default_modules()
    # Tasks queued by the web process must be known to a worker too, not only the scheduled ones.
    assert {"people.import_job_run", "mobiliza.providers.tasks.process_webhook_event"} <= set(
        app.tasks
    )
    assert app.conf.beat_schedule == BEAT_SCHEDULE
    for entry in BEAT_SCHEDULE.values():
        name = str(entry["task"])
        assert name in app.tasks, name
        assert float(str(entry["schedule"])) > 0
        assert app.tasks[name].apply().get() == 0  # nothing to do in an empty database

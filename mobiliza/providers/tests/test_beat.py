"""The Celery beat schedule names real tasks, and each one runs (eagerly) without a broker."""

from __future__ import annotations

import pytest

from config.celery import BEAT_SCHEDULE, app

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_exists_and_runs() -> None:
    import mobiliza.providers.tasks
    import mobiliza.texting.tasks  # noqa: F401

    assert app.conf.beat_schedule == BEAT_SCHEDULE
    for entry in BEAT_SCHEDULE.values():
        name = str(entry["task"])
        assert name in app.tasks, name
        assert float(str(entry["schedule"])) > 0
        assert app.tasks[name].apply().get() == 0  # nothing to do in an empty database

"""Celery application. With no CELERY_BROKER_URL, tasks run eagerly in-process.

Periodic work (run `celery -A config beat` beside the workers when a broker is set). In eager
mode (no broker) the same work is done by the in-process ticker of the simulator
(`providers.services._ticker_loop`) and by `manage.py simulator_tick --loop`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mobiliza")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# name → (task, every N seconds). Every task is idempotent and safe to overlap (row locks with
# SKIP LOCKED, or per-row claims), so a late or doubled beat does no harm.
BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Outbox: resolve sends a crash left "sending", then hand over messages whose retry is due.
    "texting-outbox-retries": {
        "task": "mobiliza.texting.tasks.retry_due_messages",
        "schedule": 10.0,
    },
    # Stored webhooks not processed yet (WEBHOOK_PROCESS_INLINE=0: the set-based batch drain).
    "providers-process-pending-webhooks": {
        "task": "mobiliza.providers.tasks.process_pending_webhooks",
        "schedule": 2.0,
    },
    # Status callbacks that arrived before their send was recorded: try them again.
    "providers-reprocess-unmatched-webhooks": {
        "task": "mobiliza.providers.tasks.reprocess_unmatched_webhooks",
        "schedule": 60.0,
    },
    # The simulator's due callbacks (sends also queue a countdown task; this catches up after a
    # restart).
    "providers-simulator-tick": {
        "task": "mobiliza.providers.tasks.simulator_tick_task",
        "schedule": 5.0,
    },
    # Call callbacks that arrived before their call id was saved (the eager ticker's hook).
    "telephony-reprocess-unmatched-calls": {
        "task": "telephony.calls_reprocess_unmatched",
        "schedule": 30.0,
    },
    # Software-placed calls take the price the provider reports (Twilio prices a call shortly
    # after it ends); until then they carry the organization's rate.
    "telephony-call-prices": {
        "task": "telephony.call_prices_refresh",
        "schedule": 600.0,
    },
    # Retention: uploaded import files of jobs untouched for 7 days (error reports are kept).
    "people-import-uploads-purge": {
        "task": "people.import_uploads_purge",
        "schedule": 86400.0,
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE

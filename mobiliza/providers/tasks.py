"""Thin Celery tasks: they take ids and call services. The periodic ones are scheduled by
`config.celery.BEAT_SCHEDULE`."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def process_webhook_event(event_id: int) -> str:
    from mobiliza.providers.services import webhook_event_process

    return webhook_event_process(event_id=event_id)


@shared_task
def process_pending_webhooks() -> int:
    from mobiliza.providers.services import webhook_process_pending

    return webhook_process_pending(limit=5000)


@shared_task
def reprocess_unmatched_webhooks() -> int:
    from mobiliza.providers.services import webhook_reprocess_unmatched

    return webhook_reprocess_unmatched()


@shared_task
def simulator_tick_task() -> int:
    from mobiliza.providers.services import simulator_tick

    return simulator_tick()

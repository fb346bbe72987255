"""Thin Celery tasks: ids in, services do the work (idempotent)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def dispatch_message(message_id: int, conversation_id: int | None = None) -> str:
    from mobiliza.texting.services import outbox_dispatch

    return outbox_dispatch(message_id=message_id, conversation_id=conversation_id)


@shared_task
def retry_due_messages() -> int:
    from mobiliza.texting.services import outbox_retry_due

    return outbox_retry_due()

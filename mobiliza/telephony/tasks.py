"""Thin Celery tasks for telephony: they call services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="telephony.call_prices_refresh")
def call_prices_refresh_task() -> int:
    from mobiliza.telephony.services import placed_call_prices_refresh

    return placed_call_prices_refresh()


@shared_task(name="telephony.calls_reprocess_unmatched")
def calls_reprocess_unmatched_task() -> int:
    from mobiliza.telephony.services import calls_reprocess_unmatched

    return calls_reprocess_unmatched()

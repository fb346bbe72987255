from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mobiliza.providers.services import (
    run_tick_hooks,
    simulator_tick,
    webhook_process_pending,
    webhook_reprocess_unmatched,
)


class Command(BaseCommand):
    help = "Deliver the simulator's due callbacks and run due retries (once, or every second with --loop)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            delivered = simulator_tick()
            webhook_process_pending()
            webhook_reprocess_unmatched()
            run_tick_hooks()
            if not options["loop"]:
                self.stdout.write(f"Delivered {delivered} simulated callbacks.")
                return
            time.sleep(1.0)

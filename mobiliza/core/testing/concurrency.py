"""Run test code in real concurrent threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_together(target: Callable[[Any], Any], args: list[Any]) -> list[BaseException]:
    """Call `target(arg)` for each arg in its own thread, all released at once by a barrier.

    Each thread closes its database connections when done. Returns the exceptions raised (the
    caller asserts on them), so a failure in a thread is never silently lost."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(args))

    def work(arg: Any) -> None:
        try:
            barrier.wait()
            target(arg)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors

"""Vacuum the call queue early (PostgreSQL only).

Every claim and every result rewrites a target row with a new queue-index position; the old index
entries stay at the head of the queue, where each claim steps over them, until VACUUM removes
them. With the default settings autovacuum waits for 20 % of the table to be dead (24,000 rows on
a 120,000-target operation: an hour at 200 calls/s leaves that many in minutes). Here it starts
after 1,000 dead rows + 1 % of the table, without the cost-based sleeps that would stretch a pass
over a busy table.
"""

from typing import Any

from django.db import migrations

OPTIONS = (
    "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.01, "
    "autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.05"
)
RESET = (
    "autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor, "
    "autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor"
)


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE calling_calltarget SET ({OPTIONS})")


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE calling_calltarget RESET ({RESET})")


class Migration(migrations.Migration):
    dependencies = [("calling", "0004_target_fk_no_constraints")]

    operations = [migrations.RunPython(forwards, backwards)]

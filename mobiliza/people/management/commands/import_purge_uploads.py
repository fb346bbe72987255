"""python manage.py import_purge_uploads [--days 7] [--dry-run]

Retention for uploaded import files: a finished import deletes its upload by itself; this
deletes the uploads that were abandoned (never imported, a dry run never run for real, a failed
or interrupted import) once untouched for --days days. Run it daily (cron or a scheduler)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mobiliza.people.imports import services


class Command(BaseCommand):
    help = "Delete uploaded import files abandoned for more than --days days (error reports stay)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7, help="age in days (default 7)")
        parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days < 1:
            raise CommandError("--days must be at least 1.")
        names = services.import_uploads_purge(
            older_than=dt.timedelta(days=days), dry_run=options["dry_run"]
        )
        for name in names:
            self.stdout.write(f"  {name}")
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {len(names)} uploaded file(s) older than {days} days.")

"""python manage.py import_people FILE --org SLUG --list contacts|electors [--preset ...] [--dry-run]"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mobiliza.accounts.models import Organization
from mobiliza.people.imports import services
from mobiliza.people.imports.engine import summary_line
from mobiliza.people.models import ImportJob


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument("file", help="CSV / TSV file to import")
    parser.add_argument("--org", required=True, help="organization slug")
    parser.add_argument("--preset", default="", help="ncvoter, spoke, ncvhis or a saved preset")
    parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    parser.add_argument("--encoding", default="", help="utf-8, cp1252 or latin-1 (default: detect)")
    parser.add_argument(
        "--delimiter", default="", help="field delimiter (default: detect); tab: \\t"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="parser processes (default: cores)"
    )


def run_command(command: BaseCommand, options: dict[str, Any], kind: str, person_list: str) -> None:
    organization = Organization.objects.filter(slug=options["org"]).first()
    if organization is None:
        raise CommandError(f"No organization with the slug “{options['org']}”.")
    try:
        job = services.import_job_create(
            organization=organization,
            actor=None,
            kind=kind,
            person_list=person_list,
            path=options["file"],
            preset=options["preset"],
            encoding=options["encoding"],
            delimiter=options["delimiter"],
        )
        services.import_job_configure(
            job=job,
            dry_run=options["dry_run"],
            match=options.get("match") or None,
            on_match=options.get("on_match") or None,
        )
    except ValidationError as exc:
        raise CommandError(" ".join(str(m) for m in exc.messages)) from exc
    out = command.stdout
    out.write(
        f"Reading {job.original_name} ({job.encoding}, delimiter {job.delimiter!r}) "
        f"into {organization.slug} / {job.list}{' (dry run)' if job.dry_run else ''}"
    )
    started = time.monotonic()

    def progress(phase: str, done: int, total: int | None) -> None:
        pct = f" ~{min(99, done * 100 // total)}%" if total else ""
        out.write(f"  {phase}: {done:,} rows{pct} ({time.monotonic() - started:.1f} s)")

    job = services.import_job_run(job_id=job.pk, workers=options["workers"], progress=progress)
    if job.status != ImportJob.Status.DONE:
        raise CommandError(job.error_message or "The import failed.")
    counts = job.counts
    if job.error_report:
        out.write(f"Error report: {job.error_report.path}")
    extra = ""
    if kind == ImportJob.Kind.VOTING_HISTORY:
        extra = (
            f", votes: {counts.get('votes', 0)}, elections created: "
            f"{counts.get('elections_created', 0)}, unmatched: {counts.get('unmatched', 0)}"
        )
    out.write(
        f"{'Dry run: ' if job.dry_run else ''}{counts.get('rows', 0)} rows in "
        f"{time.monotonic() - started:.1f} s; {summary_line(counts)}{extra}"
    )


class Command(BaseCommand):
    help = "Import people from a CSV / TSV file (huge files welcome)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)
        parser.add_argument("--list", required=True, choices=["contacts", "electors"])
        parser.add_argument(
            "--match",
            default="",
            help="comma-separated matching order among external_id,phone,email",
        )
        parser.add_argument("--on-match", default="", choices=["", "update", "skip"])

    def handle(self, *args: Any, **options: Any) -> None:
        options["match"] = [m for m in options["match"].split(",") if m] or None
        run_command(self, options, ImportJob.Kind.PEOPLE, options["list"])

"""python manage.py import_voting_history FILE --org SLUG [--preset ncvhis] [--dry-run]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mobiliza.people.management.commands.import_people import add_common_arguments, run_command
from mobiliza.people.models import ImportJob, PersonList


class Command(BaseCommand):
    help = "Import voting history (who voted in which election), e.g. the NC ncvhis file."

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        options["preset"] = options["preset"] or "ncvhis"
        run_command(self, options, ImportJob.Kind.VOTING_HISTORY, PersonList.ELECTORS)

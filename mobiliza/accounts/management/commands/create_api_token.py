from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mobiliza.accounts.models import Membership
from mobiliza.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a member; prints the secret once (stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", default="CLI token")

    def handle(self, *args: Any, **options: Any) -> None:
        membership = (
            Membership.objects.select_related("user", "organization")
            .filter(user__email__iexact=options["email"], organization__slug=options["org"])
            .first()
        )
        if membership is None:
            raise CommandError(
                f"{options['email']} is not a member of an organization with slug {options['org']!r}."
            )
        _token, raw = api_token_create(membership=membership, name=options["name"])
        self.stdout.write(raw)

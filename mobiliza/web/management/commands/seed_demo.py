from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from mobiliza.accounts.models import Organization, User
from mobiliza.accounts.services import membership_add, organization_create
from mobiliza.core.permissions import Role
from mobiliza.web.demo import demo_seeders

DEMO_SLUG = "movimento-avante"


class Command(BaseCommand):
    help = "Load the demo organization and its admin (safe to run again: nothing is duplicated)."

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = settings.DEMO_ADMIN_EMAIL, settings.DEMO_ADMIN_PASSWORD
        if Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("Demo data already loaded.")
        else:
            with transaction.atomic():
                admin = User.objects.filter(email=email).first() or User.objects.create_superuser(
                    email, password, full_name="Ana Demo"
                )
                org = organization_create(
                    name="Movimento Avante",
                    slug=DEMO_SLUG,
                    creator=admin,
                    default_country="PT",
                    default_language="pt",
                    time_zone="Europe/Lisbon",
                )
                organization_create(
                    name="Ensemble Lyon",
                    creator=admin,
                    default_country="FR",
                    default_language="fr",
                    time_zone="Europe/Paris",
                )
                for mail, name, role in (
                    ("organizadora@mobiliza.local", "Inês Organizadora", Role.ORGANIZER),
                    ("voluntario@mobiliza.local", "João Voluntário", Role.VOLUNTEER),
                ):
                    user = User.objects.filter(email=mail).first() or User.objects.create_user(
                        mail, password, full_name=name
                    )
                    membership_add(organization=org, user=user, role=role, actor=admin)
                for seeder in demo_seeders():
                    seeder(org, admin)
            self.stdout.write(self.style.SUCCESS("Demo organization loaded."))
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"  Mobiliza is starting at http://{host}:{port}/"))
        self.stdout.write(f"  Log in as {email} / {password}  (admin)")
        self.stdout.write(f"  Volunteer: voluntario@mobiliza.local / {password}")
        self.stdout.write(f"  API docs:  http://{host}:{port}/api/v1/docs")
        self.stdout.write("")

"""The political CRM: people (contacts and electors), phones, households, tags, custom fields,
consent, elections and voting history, segments."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mobiliza.core.models import OrganizationScopedModel


class PersonList(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    ELECTORS = "electors", _("Electors")


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


class Household(OrganizationScopedModel):
    """People at one normalized address."""

    # No index of its own: `household_unique` starts with the organization.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    address_key = models.CharField(max_length=255)
    street = models.CharField(max_length=255, blank=True)
    postcode = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["address_key"]
        constraints = [
            # The key is only ever compared for equality: on PostgreSQL the index orders it by
            # bytes (pattern operator class), not by the database collation (strcoll() per
            # comparison): cheaper to build over a register. A unique index, not a constraint,
            # there (Django's way of giving a unique constraint operator classes); SQLite has
            # no operator classes and gets a plain unique index.
            models.UniqueConstraint(
                fields=["organization", "address_key"],
                name="household_unique",
                opclasses=["", "varchar_pattern_ops"],
            )
        ]

    def __str__(self) -> str:
        return (
            ", ".join(p for p in (self.street, self.postcode, self.city) if p) or self.address_key
        )


class Person(OrganizationScopedModel):
    """Someone the campaign may reach: a contact (own CRM) or an elector (official register)."""

    # No index of its own: the organization's people are found by the indexes below that
    # start with it (name, email, place).
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Gender(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        OTHER = "X", _("Other")
        UNKNOWN = "", _("Unknown")

    list = models.CharField(
        _("list"), max_length=10, choices=PersonList.choices, default=PersonList.CONTACTS
    )
    elector = models.ForeignKey(
        "self",
        verbose_name=_("elector record"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="linked_contacts",
        limit_choices_to={"list": PersonList.ELECTORS},
        db_index=False,  # `person_elector`: only the few linked contacts are indexed
    )
    external_id = models.CharField(_("external id"), max_length=64, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    street = models.CharField(_("street"), max_length=255, blank=True)
    postcode = models.CharField(_("postcode"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    region = models.CharField(_("region"), max_length=120, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    nationality = models.CharField(_("nationality"), max_length=64, blank=True)
    polling_place = models.CharField(_("polling place"), max_length=200, blank=True)
    precinct = models.CharField(_("precinct"), max_length=100, blank=True)
    voter_id = models.CharField(_("voter id"), max_length=64, blank=True)
    registration_status = models.CharField(_("registration status"), max_length=32, blank=True)
    support_level = models.PositiveSmallIntegerField(_("support level"), null=True, blank=True)
    donations_this_year = models.DecimalField(
        _("donations this year"), max_digits=12, decimal_places=2, default=0
    )
    custom_fields: models.JSONField[Any, Any] = models.JSONField(
        _("custom fields"), default=dict, blank=True
    )
    consent_phone = models.BooleanField(_("phone consent"), null=True, blank=True)
    consent_sms = models.BooleanField(_("SMS consent"), null=True, blank=True)
    consent_email = models.BooleanField(_("email consent"), null=True, blank=True)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    tags: models.ManyToManyField[Tag, PersonTag] = models.ManyToManyField(
        "Tag", through="PersonTag", related_name="people", blank=True
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            # The list page's name order, one index per list (migration 0009): the list is
            # their condition instead of a column every comparison of the build walks through
            # (the electors' index over a 1M register builds ~0.35 s faster than one index for
            # both). A query names its list, as the list page and the segments do.
            *(
                models.Index(
                    fields=["organization", "last_name", "first_name", "id"],
                    name=f"person_{value}_name",
                    condition=Q(list=value),
                )
                for value in PersonList.values
            ),
            # Looked up for equality only (searches, import matching, voting history). On
            # PostgreSQL ordered by bytes (pattern operator class: `=` and `LIKE 'x%'` use it)
            # and the id first (the sort of the build then compares abbreviated keys): up to
            # twice cheaper to build over a register than (organization, id) in the database
            # collation; a lookup gives both columns. Same for the voter id index (raw SQL,
            # migrations 0005 and 0006: PostgreSQL only).
            models.Index(
                fields=["external_id", "organization"],
                name="person_org_extid",
                opclasses=["varchar_pattern_ops", ""],
            ),
            # Only the people with an email / with coordinates (migration 0007): a register
            # has neither, and its load then builds neither index. Lookups say `email <> ''`
            # (a search's prefix, dedupe, import matching); a distance filter's latitude band
            # implies a latitude.
            models.Index(
                fields=["organization", "email"], name="person_org_email", condition=~Q(email="")
            ),
            # The household: its foreign key index (a household implies its organization).
            # A contact's elector record: only the (few) linked contacts are in the index.
            models.Index(
                fields=["elector"], name="person_elector", condition=Q(elector__isnull=False)
            ),
            # Distance filters: a latitude band, then longitude and the exact test in the index
            # (covering, INCLUDE id, on PostgreSQL: migration 0004).
            models.Index(
                fields=["organization", "list", "latitude", "longitude"],
                name="person_org_geo",
                condition=Q(latitude__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or str(self.public_id)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


class PersonPhone(models.Model):
    """A phone number of a person, stored as E.164. Unparseable numbers are kept raw, flagged."""

    class Kind(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        LANDLINE = "landline", _("Landline")
        OTHER = "other", _("Other")

    # No index of its own: a phone is looked up by its number (`phone_org_e164`) or its
    # person; the organization's phones go with its people.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    raw = models.CharField(_("as written"), max_length=64)
    e164 = models.CharField(_("number"), max_length=20, blank=True)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    is_valid = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["person", "position", "id"]
        # Looked up by equality only (search by phone, inbound texts, import matching): the
        # number first and by bytes, like the external id (migration 0008): half the build.
        indexes = [
            models.Index(
                fields=["e164", "organization"],
                name="phone_org_e164",
                opclasses=["varchar_pattern_ops", ""],
            )
        ]

    def __str__(self) -> str:
        return self.e164 or self.raw


class Tag(OrganizationScopedModel):
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="tag_unique")]

    def __str__(self) -> str:
        return self.name


class PersonTag(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["person", "tag"], name="persontag_unique")]
        indexes = [models.Index(fields=["tag", "person"], name="persontag_tag_person")]


class CustomField(OrganizationScopedModel):
    """A typed field an organization adds to people; values live in Person.custom_fields[key]."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes / no")

    key = models.SlugField(_("key"), max_length=64)
    label = models.CharField(_("label"), max_length=120)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    choices: models.JSONField[Any, Any] = models.JSONField(_("choices"), default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="customfield_unique")
        ]

    def __str__(self) -> str:
        return self.label


class ConsentRecord(OrganizationScopedModel):
    """History of consent per channel: who said yes or no, where, when."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(_("source"), max_length=120, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["person", "channel", "-created_at"], name="consent_person")]


class Election(OrganizationScopedModel):
    """An election that voting history refers to, e.g. 11/05/2024 GENERAL."""

    label = models.CharField(_("label"), max_length=64)
    description = models.CharField(_("description"), max_length=200, blank=True)
    date = models.DateField(_("date"), null=True, blank=True)

    class Meta:
        ordering = ["-date", "label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "label"], name="election_unique")
        ]

    def __str__(self) -> str:
        return self.description or self.label


class VoteRecord(models.Model):
    """One person voted in one election (the ncvhis layout)."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="votes")
    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="votes")
    voting_method = models.CharField(_("voting method"), max_length=64, blank=True)

    class Meta:
        ordering = ["election", "person"]
        constraints = [
            models.UniqueConstraint(fields=["election", "person"], name="voterecord_unique")
        ]
        indexes = [models.Index(fields=["person", "election"], name="voterecord_person")]


class Segment(OrganizationScopedModel):
    """A saved filter over people (dynamic) or a list frozen at a moment (static)."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Saved filter")
        STATIC = "static", _("Frozen list")

    name = models.CharField(_("name"), max_length=150)
    list = models.CharField(
        _("list"), max_length=10, choices=PersonList.choices, default=PersonList.CONTACTS
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    definition: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["segment", "person"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "person"], name="segmentmember_unique")
        ]


class MappingPreset(OrganizationScopedModel):
    """A saved column mapping for imports (the shipped presets ncvoter / spoke / ncvhis live in code)."""

    name = models.CharField(_("name"), max_length=100)
    list = models.CharField(
        _("list"), max_length=10, choices=PersonList.choices, default=PersonList.CONTACTS
    )
    mapping: models.JSONField[Any, Any] = models.JSONField(default=dict)
    options: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="mappingpreset_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ImportJob(OrganizationScopedModel):
    """One import of a people or voting-history file, run as a background task with progress."""

    class Kind(models.TextChoices):
        PEOPLE = "people", _("People")
        VOTING_HISTORY = "voting_history", _("Voting history")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PEOPLE)
    list = models.CharField(
        _("list"), max_length=10, choices=PersonList.choices, default=PersonList.CONTACTS
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    dry_run = models.BooleanField(default=False)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    preset = models.CharField(max_length=100, blank=True)
    mapping: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    options: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    phase = models.CharField(max_length=64, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    counts: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    error_report = models.FileField(upload_to="imports/errors/", max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="importjob_org_time")]

    def __str__(self) -> str:
        return self.original_name or str(self.public_id)

    @property
    def delimiter_is_tab(self) -> bool:
        """For the page, which names the tab instead of showing it as a blank."""
        return self.delimiter == "\t"

"""Call operations (seed 002): the operation and its wizard settings, statuses, recycling rules,
blocking rules, field rules, users, the materialized target list and the append-only attempt log.

The dispenser (`dispenser.py`) works on `CallTarget` only through three columns it keeps current:
`state`, `priority` and `available_at` (the first moment the target may be handed out again: the
lease expiry while an agent holds it, the recycling interval after a call, a callback time).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mobiliza.core.models import BaseModel, OrganizationScopedModel
from mobiliza.people.models import PersonList

ALL_DAYS = [0, 1, 2, 3, 4, 5, 6]


def default_days() -> list[int]:
    return list(ALL_DAYS)


class CallStatus(OrganizationScopedModel):
    """An outcome of a call. Each organization has the built-in list and may add its own."""

    class Group(models.TextChoices):
        AUTO = "auto", _("Auto-detected")
        AGENT = "agent", _("Set by agents")
        REMOVAL = "removal", _("Removal (blocking rules)")

    key = models.SlugField(_("key"), max_length=48)
    labels: models.JSONField[Any, Any] = models.JSONField(
        _("labels"), default=dict, help_text=_("One label per language code, e.g. {'en': 'Busy'}.")
    )
    group = models.CharField(_("group"), max_length=8, choices=Group.choices, default=Group.AGENT)
    is_final = models.BooleanField(_("final"), default=False)
    is_reached = models.BooleanField(_("person reached"), default=False)
    is_system_only = models.BooleanField(_("system only"), default=False)
    is_do_not_call = models.BooleanField(_("do not call again"), default=False)
    removes_target = models.BooleanField(_("removes from the list"), default=False)
    is_builtin = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["group", "position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="callstatus_unique")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        labels = self.labels or {}
        lang = (get_language() or "en").split("-")[0]
        return str(labels.get(lang) or labels.get("en") or next(iter(labels.values()), self.key))


class CallOperation(OrganizationScopedModel):
    """One phone-banking operation, built through the 11-step wizard."""

    class Version(models.TextChoices):
        ORIGINAL = "original", _("Original")
        SPECIALIZED = "specialized", _("Specialized")

    class Method(models.TextChoices):
        OWN_PHONE = "own_phone", _("Via the agent's own phone")
        SOFTWARE = "software", _("From the software")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")
        ARCHIVED = "archived", _("Archived")

    class LinkRole(models.TextChoices):
        AGENT = "agent", _("Agent")
        OWNER = "owner", _("Owner")

    name = models.CharField(_("name"), max_length=150, blank=True)
    description = models.TextField(_("description"), blank=True)
    version = models.CharField(
        _("version"), max_length=12, choices=Version.choices, default=Version.ORIGINAL
    )
    source = models.CharField(
        _("source"), max_length=10, choices=PersonList.choices, default=PersonList.CONTACTS
    )
    survey = models.ForeignKey(
        "surveys.Survey",
        verbose_name=_("survey"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    key_question = models.ForeignKey(
        "surveys.Question",
        verbose_name=_("key question"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    starts_on = models.DateField(_("start date"), null=True, blank=True)
    ends_at = models.DateTimeField(_("end date and time"), null=True, blank=True)
    window_start = models.TimeField(_("calls from"), default=dt.time(9, 0))
    window_end = models.TimeField(_("calls until"), default=dt.time(21, 0))
    days_of_week: models.JSONField[Any, Any] = models.JSONField(
        _("days of the week"), default=default_days
    )
    script = models.TextField(_("call script"), blank=True)
    call_method = models.CharField(
        _("call method"), max_length=12, choices=Method.choices, default=Method.OWN_PHONE
    )
    method_settings: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    segment = models.ForeignKey(
        "people.Segment",
        verbose_name=_("contact list"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    wizard_step = models.PositiveSmallIntegerField(default=1)
    is_draft = models.BooleanField(default=True)
    paused = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    lease_minutes = models.PositiveSmallIntegerField(default=15)
    callback_open_after_minutes = models.PositiveIntegerField(
        _("personal callbacks open to all after (minutes)"), default=60
    )
    share_token = models.CharField(max_length=64, unique=True)
    share_enabled = models.BooleanField(default=True)
    share_role = models.CharField(max_length=8, choices=LinkRole.choices, default=LinkRole.AGENT)
    share_qr = models.BooleanField(default=False)
    built_at = models.DateTimeField(null=True, blank=True)
    build_report: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    time_zones: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="callop_org_time"),
        ]

    def __str__(self) -> str:
        return self.name or str(_("Untitled operation"))

    @property
    def state(self) -> str:
        if self.archived_at:
            return self.State.ARCHIVED
        if self.is_draft:
            return self.State.DRAFT
        now = timezone.now()
        if self.ends_at and now >= self.ends_at:
            return self.State.ENDED
        if self.paused:
            return self.State.PAUSED
        if self.starts_on and timezone.localdate(now) < self.starts_on:
            return self.State.SCHEDULED
        return self.State.RUNNING

    def get_state_display(self) -> str:
        return str(self.State(self.state).label)

    @property
    def is_own_phone(self) -> bool:
        return self.call_method == self.Method.OWN_PHONE


class OperationUser(BaseModel):
    """An owner (may edit the operation) or an agent (may call) of one operation."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        AGENT = "agent", _("Agent")

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    operation = models.ForeignKey(CallOperation, on_delete=models.CASCADE, related_name="users")
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="call_operations"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.AGENT)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["operation", "role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "membership"], name="operationuser_unique")
        ]
        indexes = [models.Index(fields=["membership", "operation"], name="opuser_member")]


class RecyclingRule(models.Model):
    """For one status: redial at most `max_further_calls` more times, `interval_minutes` apart."""

    operation = models.ForeignKey(
        CallOperation, on_delete=models.CASCADE, related_name="recycling_rules"
    )
    status = models.ForeignKey(CallStatus, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    max_further_calls = models.PositiveSmallIntegerField(default=0)
    interval_minutes = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["operation", "status__group", "status__position"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "status"], name="recycling_unique")
        ]


class BlockingRule(models.Model):
    """Removes targets from the list, at build time and again at each claim."""

    class Kind(models.TextChoices):
        VOTE = "vote", _("Vote")
        QUESTION = "question", _("Question")
        TAG = "tag", _("Tag")
        NO_CONSENT = "no_consent", _("Do not contact / no phone consent")

    operation = models.ForeignKey(
        CallOperation, on_delete=models.CASCADE, related_name="blocking_rules"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    params: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    removal_status = models.ForeignKey(CallStatus, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    apply_to_household = models.BooleanField(_("apply to household"), default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["operation", "position", "id"]


class FieldRule(models.Model):
    """What agents see of one person field in one operation."""

    class Visibility(models.TextChoices):
        HIDDEN = "hidden", _("Hidden")
        VISIBLE = "visible", _("Visible")
        EDITABLE = "editable", _("Editable")

    operation = models.ForeignKey(
        CallOperation, on_delete=models.CASCADE, related_name="field_rules"
    )
    field_key = models.CharField(max_length=80)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.HIDDEN
    )
    highlight = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["operation", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "field_key"], name="fieldrule_unique")
        ]


class CallTarget(BaseModel):
    """One person in one operation's queue. Rows are created set-based by `list_build`."""

    class State(models.TextChoices):
        READY = "ready", _("In the queue")
        DONE = "done", _("Done")
        REMOVED = "removed", _("Removed")

    class Priority(models.IntegerChoices):
        CALLBACK = 1, _("Callback")
        RECYCLED = 2, _("Recycled")
        FRESH = 3, _("Fresh")

    # Foreign keys covered by the composite indexes below (or rarely followed) get no index of
    # their own, and none gets a database constraint: a deferred constraint check is a query per
    # row at COMMIT, and a list build inserts a million rows at once. Django still cascades
    # deletes (operation, person) itself; only our services write these rows.
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    operation = models.ForeignKey(
        CallOperation,
        on_delete=models.CASCADE,
        related_name="targets",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    phone_e164 = models.CharField(max_length=20)
    time_zone = models.CharField(max_length=64)
    household_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.READY)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.FRESH)
    available_at = models.DateTimeField()
    held_by = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    callback_for = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    callback_at = models.DateTimeField(null=True, blank=True)
    callback_open_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    status_counts: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    last_status = models.ForeignKey(
        CallStatus,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    removed_status = models.ForeignKey(
        CallStatus,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    removed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["operation", "priority", "available_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "person"], name="calltarget_unique")
        ]
        indexes = [
            models.Index(
                fields=["operation", "state", "priority", "available_at", "id"],
                name="calltarget_queue",
            ),
            # Partial: a fresh target (most of a new list) is in none of these three.
            models.Index(
                fields=["operation", "held_by"],
                name="calltarget_held",
                condition=models.Q(held_by__isnull=False),
            ),
            models.Index(
                fields=["operation", "callback_for"],
                name="calltarget_callback",
                condition=models.Q(callback_for__isnull=False),
            ),
            models.Index(
                fields=["operation", "household_id"],
                name="calltarget_household",
                condition=models.Q(household_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}:{self.person_id}"


class CallAttempt(BaseModel):
    """One call and its result. Append-only: never updated, never deleted by the app."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    operation = models.ForeignKey(CallOperation, on_delete=models.CASCADE, related_name="attempts")
    target = models.ForeignKey(CallTarget, on_delete=models.CASCADE, related_name="attempt_log")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.ForeignKey(CallStatus, on_delete=models.PROTECT, related_name="+")
    is_reached = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=64)
    notes = models.TextField(blank=True)
    answers: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    field_edits: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    callback_at = models.DateTimeField(null=True, blank=True)
    callback_personal = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "idempotency_key"], name="callattempt_idempotent"
            )
        ]
        indexes = [
            models.Index(fields=["operation", "created_at"], name="callattempt_op_time"),
            models.Index(fields=["target", "created_at"], name="callattempt_target"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}:{self.target_id}:{self.status_id}"

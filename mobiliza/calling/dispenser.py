"""The dispenser: builds an operation's target list and hands targets out to agents.

* `list_build` materializes one `CallTarget` per person with a callable phone in one
  `INSERT … SELECT` (never row by row), then applies the blocking rules with set-based `UPDATE`s,
  and records why the others were left out in `CallOperation.build_report`.
* `target_claim` is one transaction that returns a lease: on PostgreSQL the candidate row is taken
  with `SELECT … FOR UPDATE SKIP LOCKED`; on SQLite the transaction is IMMEDIATE (settings), so
  claims are serialized by the database write lock. The agent's `OperationUser` row is locked first,
  so one agent never holds two targets of one operation (two tabs, a double tap).
* A target is claimable when `state = ready`, `available_at <= now` and its time zone is currently
  inside the calling window. `available_at` is the lease expiry while held (a vanished agent's
  target comes back on its own), the recycling interval after a call, or the callback time.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, Min, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from mobiliza.calling.config import (
    hot_fetchone,
    model_columns,
    model_from_row,
    operation_config,
)
from mobiliza.calling.models import (
    BlockingRule,
    CallOperation,
    CallStatus,
    CallTarget,
    OperationUser,
)
from mobiliza.calling.statuses import statuses_ensure
from mobiliza.calling.window import Window, is_valid_zone, next_opening, zones_inside
from mobiliza.core.sql import random_uuid_sql
from mobiliza.people.models import Person, PersonList, PersonTag, Segment, SegmentMember, VoteRecord

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership

S = CallTarget.State
P = CallTarget.Priority
SKIP_DELAY = dt.timedelta(minutes=5)
MAX_BLOCKED_PER_CLAIM = 20


def operation_window(operation: CallOperation) -> Window:
    return Window(
        start=operation.window_start,
        end=operation.window_end,
        days=frozenset(int(d) for d in (operation.days_of_week or [])),
    )


# --- people of the list ----------------------------------------------------------------------
def segment_people(*, organization: Any, source: str, segment: Segment | None) -> QuerySet[Person]:
    """The people a list is built from: a saved segment of the source list (or the whole list)."""
    base = Person.objects.filter(organization=organization, list=source or PersonList.CONTACTS)
    if segment is None:
        return base
    try:
        from mobiliza.people import selectors as people_selectors
    except ImportError:  # pragma: no cover - the CRM selectors land separately
        people_selectors = None  # type: ignore[assignment]
    fn = getattr(people_selectors, "segment_queryset", None)
    if fn is not None:
        qs: QuerySet[Person] = fn(organization=organization, segment=segment)
        return qs.filter(list=source)
    if segment.kind == Segment.Kind.STATIC:
        return base.filter(
            Exists(SegmentMember.objects.filter(segment=segment, person=OuterRef("pk")))
        )
    from mobiliza.people.filters import definition_to_q

    return base.filter(definition_to_q(organization, segment.definition or {}))


def rule_people(rule: BlockingRule, organization: Any) -> QuerySet[Any] | None:
    """The ids of the people a blocking rule removes (before household expansion)."""
    params = rule.params or {}
    if rule.kind == BlockingRule.Kind.VOTE:
        qs = VoteRecord.objects.filter(organization=organization)
        if params.get("election_id"):
            qs = qs.filter(election__public_id=params["election_id"])
        return qs.values("person_id")
    if rule.kind == BlockingRule.Kind.TAG:
        if not params.get("tag_id"):
            return None
        return PersonTag.objects.filter(
            tag__organization=organization, tag__public_id=params["tag_id"]
        ).values("person_id")
    if rule.kind == BlockingRule.Kind.NO_CONSENT:
        return Person.objects.filter(
            Q(do_not_contact=True) | Q(consent_phone=False), organization=organization
        ).values("id")
    if rule.kind == BlockingRule.Kind.QUESTION:
        if not params.get("question_id"):
            return None
        from mobiliza.surveys.models import Answer

        answers = Answer.objects.filter(
            organization=organization, question__public_id=params["question_id"], is_latest=True
        )
        value = params.get("value")
        if value not in (None, ""):
            answers = answers.filter(
                Q(value=value) | Q(value__contains=[value]) | Q(value_text=value)
            )
        return answers.values("person_id")
    return None


def _person_blocked(rule: BlockingRule, target: CallTarget, organization: Any) -> bool:
    people = rule_people(rule, organization)
    if people is None:
        return False
    field_name = "id" if rule.kind == BlockingRule.Kind.NO_CONSENT else "person_id"
    if rule.apply_to_household and target.household_id:
        return (
            Person.objects.filter(organization=organization, household_id=target.household_id)
            .filter(id__in=people.values(field_name))
            .exists()
        )
    return people.filter(**{field_name: target.person_id}).exists()


# --- build -------------------------------------------------------------------------------------
def list_build(*, operation: CallOperation, now: dt.datetime | None = None) -> dict[str, Any]:
    """(Re)build the target list set-based; keep targets already called; return the report."""
    now = now or timezone.now()
    organization = operation.organization
    statuses = {s.key: s for s in statuses_ensure(organization=organization)}
    people = segment_people(
        organization=organization, source=operation.source, segment=operation.segment
    )
    people_sql, people_params = people.values("id").query.sql_with_params()
    target_table = CallTarget._meta.db_table
    person_table = Person._meta.db_table
    phone_table = "people_personphone"
    dnc = statuses["removed_no_consent"]
    with transaction.atomic():
        in_list = people.count()
        # Untouched targets of people no longer in the list leave it (called ones stay: history).
        CallTarget.objects.filter(operation=operation, attempts=0, held_by__isnull=True).exclude(
            person_id__in=people.values("id")
        ).delete()
        insert = f"""
            INSERT INTO {target_table} (
                public_id, created_at, updated_at, organization_id, operation_id, person_id,
                phone_e164, time_zone, household_id, state, priority, available_at, attempts,
                status_counts, removed_reason, removed_status_id
            )
            SELECT {{uuid}}, %s, %s, %s, %s, s.id, s.e164, s.tz, s.household_id,
                   CASE WHEN s.do_not_contact THEN 'removed' ELSE 'ready' END,
                   3, %s, 0, '{{}}',
                   CASE WHEN s.do_not_contact THEN %s ELSE '' END,
                   CASE WHEN s.do_not_contact THEN %s ELSE NULL END
            FROM ({{source}}) s
            WHERE s.e164 IS NOT NULL {{order}} {{conflict}}
        """  # noqa: S608 - table names are ours, values are parameters
        if connection.vendor == "postgresql":
            # One sort of the phones (first valid one per person) and a hash join: much faster
            # than a million index probes.
            source = f"""
                SELECT p.id, p.household_id, p.do_not_contact,
                       COALESCE(NULLIF(p.time_zone, ''), %s) AS tz, ph.e164
                FROM {person_table} p
                JOIN (
                    SELECT DISTINCT ON (x.person_id) x.person_id, x.e164
                    FROM {phone_table} x
                    WHERE x.organization_id = %s AND x.is_valid AND x.e164 <> ''
                    ORDER BY x.person_id, x.position, x.id
                ) ph ON ph.person_id = p.id
                WHERE p.organization_id = %s AND p.id IN ({people_sql})
            """  # noqa: S608
            source_params = [organization.time_zone, organization.id, organization.id]
        else:
            source = f"""
                SELECT p.id, p.household_id, p.do_not_contact,
                       COALESCE(NULLIF(p.time_zone, ''), %s) AS tz,
                       (SELECT ph.e164 FROM {phone_table} ph
                         WHERE ph.person_id = p.id AND ph.is_valid AND ph.e164 <> ''
                         ORDER BY ph.position, ph.id LIMIT 1) AS e164
                FROM {person_table} p
                WHERE p.organization_id = %s AND p.id IN ({people_sql})
            """  # noqa: S608
            source_params = [organization.time_zone, organization.id]
        # A first build inserts into an empty list: a plain INSERT is much cheaper than the
        # speculative insertion of ON CONFLICT. A rebuild keeps existing targets.
        first_build = not CallTarget.objects.filter(operation=operation).exists()
        conflict = "" if first_build else "ON CONFLICT (operation_id, person_id) DO NOTHING"
        if connection.vendor == "postgresql":
            # Public ids of one build share a random 64-bit prefix and end with the person id;
            # inserting in person order then appends to every index instead of scattering over
            # it (access is checked by organization and lease, never by an id being secret).
            uuid_sql = f"('{secrets.token_hex(8)}' || lpad(to_hex(s.id), 16, '0'))::uuid"
            order = "ORDER BY s.id"
        else:
            uuid_sql, order = random_uuid_sql(), ""
        sql = (
            insert.replace("{source}", source)
            .replace("{conflict}", conflict)
            .replace("{uuid}", uuid_sql)
            .replace("{order}", order)
        )
        params = [
            now,
            now,
            organization.id,
            operation.id,
            now,
            "Do not contact",
            dnc.id,
            *source_params,
            *people_params,
        ]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # The list is derived data that a rebuild recreates: trade durability of the
                # last build on a crash for speed, and give the sort and hash room in memory.
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("SET LOCAL work_mem = '256MB'")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        removed = blocking_apply(operation=operation)
        counts = dict(
            CallTarget.objects.filter(operation=operation)
            .values_list("state")
            .annotate(n=Count("id"))
            .order_by()
        )
        zones = sorted(
            CallTarget.objects.filter(operation=operation)
            .values_list("time_zone", flat=True)
            .distinct()
            .order_by()
        )
        total = sum(counts.values())
        bad_zones = [z for z in zones if not is_valid_zone(z)]
        report = {
            "built_at": now.isoformat(),
            "in_list": in_list,
            "no_phone": max(0, in_list - total),
            "targets": total,
            "ready": counts.get(S.READY, 0),
            "removed": counts.get(S.REMOVED, 0),
            "done": counts.get(S.DONE, 0),
            "removed_by_rule": removed,
            "unknown_time_zones": bad_zones,
        }
        operation.time_zones = zones
        operation.build_report = report
        operation.built_at = now
        operation.save(update_fields=["time_zones", "build_report", "built_at", "updated_at"])
    return report


def blocking_apply(*, operation: CallOperation) -> dict[str, int]:
    """Remove the ready targets that a blocking rule matches; {reason: count}."""
    removed: dict[str, int] = {}
    organization = operation.organization
    for rule in operation.blocking_rules.select_related("removal_status"):
        people = rule_people(rule, organization)
        if people is None:
            continue
        field_name = "id" if rule.kind == BlockingRule.Kind.NO_CONSENT else "person_id"
        ids = people.values(field_name)
        match = Q(person_id__in=ids)
        if rule.apply_to_household:
            match |= Q(
                household_id__in=Person.objects.filter(
                    organization=organization, id__in=ids, household__isnull=False
                ).values("household_id")
            )
        reason = rule.reason or rule.removal_status.label
        n = (
            CallTarget.objects.filter(operation=operation, state=S.READY, held_by__isnull=True)
            .filter(match)
            .update(
                state=S.REMOVED,
                removed_status=rule.removal_status,
                removed_reason=reason[:200],
                updated_at=timezone.now(),
            )
        )
        removed[reason] = removed.get(reason, 0) + n
    return removed


# --- claim ---------------------------------------------------------------------------------------
@dataclass
class Claim:
    target: CallTarget | None
    reasons: dict[str, int] = field(default_factory=dict)
    next_available_at: dt.datetime | None = None
    message: str = ""
    reused: bool = False


# Other apps' reasons to hand out no new call (telephony: an operation's spending cap is reached).
# Each check returns "" or a reason key; it must be cheap for operations it doesn't concern.
_OPEN_CHECKS: list[Callable[[CallOperation, dt.datetime], str]] = []


def register_open_check(check: Callable[[CallOperation, dt.datetime], str]) -> None:
    if check not in _OPEN_CHECKS:
        _OPEN_CHECKS.append(check)


def operation_open(operation: CallOperation, now: dt.datetime) -> str:
    """'' when calls may be made now, else the reason (draft, paused, not started, ended...)."""
    if operation.archived_at:
        return "archived"
    if operation.is_draft:
        return "draft"
    if operation.paused:
        return "paused"
    if operation.starts_on and timezone.localdate(now) < operation.starts_on:
        return "not_started"
    if operation.ends_at and now >= operation.ends_at:
        return "ended"
    for check in _OPEN_CHECKS:
        reason = check(operation, now)
        if reason:
            return reason
    return ""


def _lease(operation: CallOperation, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(minutes=operation.lease_minutes or 15)


def target_claim(
    *, operation: CallOperation, agent: Membership, now: dt.datetime | None = None
) -> Claim:
    """Hand the next target to `agent` as a lease, or say why there is none.

    `operation` may be a reference with its fields deferred (`selectors.operation_ref`, the
    API): its row is then read by the claim's first statement, so pause, dates, window and zones
    are the ones committed now.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Proves the member is a user of this operation, serializes this agent's own claims (two
        # tabs, a double tap), marks them active and reads the operation, in one statement.
        if not _agent_lock(operation, agent, now):
            return Claim(target=None, message="not_agent")
        closed = operation_open(operation, now)
        if closed:
            return Claim(target=None, message=closed)
        zones = zones_inside(operation_window(operation), operation.time_zones or [], now)
        if connection.vendor == "postgresql":
            claim = _claim_sql(operation, agent, zones, now)
        else:
            claim = _claim_orm(operation, agent, zones, now)
        if claim is not None:
            return claim
    reasons, next_at = queue_explain(operation=operation, agent=agent, now=now)
    return Claim(target=None, reasons=reasons, next_available_at=next_at, message="empty")


_LOCK_SQL = ""


def _agent_lock(operation: CallOperation, agent: Membership, now: dt.datetime) -> bool:
    """Lock the agent's `OperationUser` row (marking them active) and, when `operation` is a
    reference, load its row, in one `UPDATE … FROM … RETURNING`. False when they are not a user
    of it."""
    global _LOCK_SQL
    if not _LOCK_SQL:
        _LOCK_SQL = (
            "UPDATE calling_operationuser SET last_seen_at = %s "  # noqa: S608 - our tables
            f"FROM calling_calloperation o WHERE calling_operationuser.operation_id = %s "
            "AND calling_operationuser.membership_id = %s AND o.id = calling_operationuser.operation_id "
            f"AND o.organization_id = %s RETURNING {model_columns(CallOperation, 'o')}"
        )
    if connection.vendor == "postgresql":
        row = hot_fetchone(_LOCK_SQL, [now, operation.pk, agent.pk, agent.organization_id])
        if row is None:
            return False
        fresh: CallOperation = model_from_row(CallOperation, row)
    else:
        # SQLite's RETURNING can't read the FROM tables: two statements (the transaction is
        # IMMEDIATE, so nothing changes in between).
        if not OperationUser.objects.filter(
            operation_id=operation.pk, membership=agent, organization_id=agent.organization_id
        ).update(last_seen_at=now):
            return False
        if not operation.get_deferred_fields():
            return True
        fresh = CallOperation.objects.get(pk=operation.pk)
    if operation.get_deferred_fields():
        for f in CallOperation._meta.concrete_fields:
            if not f.primary_key:
                setattr(operation, f.attname, getattr(fresh, f.attname))
    return True


def _hand_out(
    operation: CallOperation, agent: Membership, target: CallTarget, now: dt.datetime
) -> str:
    """The blocking rules checked again at hand-out (people vote during the campaign): "" when
    `target` may be called, else why it was removed (it and its household, as the rule says)."""
    for rule in operation_config(operation).blocking_rules:
        if _person_blocked(rule, target, operation.organization):
            _remove(target, rule, now)
            return "blocked"
    if target.person.do_not_contact:
        CallTarget.objects.filter(pk=target.pk).update(
            state=S.REMOVED,
            removed_reason="Do not contact",
            held_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
        return "do_not_contact"
    return ""


# The claim in one statement: the target this agent still holds (a reload gets it back), else
# this agent's own callback that is due, else the next free target (open callbacks, recycled,
# fresh), each branch `FOR UPDATE SKIP LOCKED LIMIT 1` on its own index (the partial held and
# callback indexes, then the queue index: an OR of the first two would scan the whole queue); the `LIMIT 1` over the `UNION ALL` stops at
# the first branch that yields a row, so later branches don't run (nor lock anything). The
# lease is written and the person read (for the blocking check and the agent's card) in the same
# statement. Zones inside the calling window now are computed in Python and passed as an array.
_CLAIM_SQL = """
WITH held AS (
    SELECT id, true AS reused
      FROM calling_calltarget
     WHERE operation_id = %(op)s AND held_by_id = %(agent)s AND state = 'ready'
       AND lease_expires_at > %(now)s
     ORDER BY available_at, id
     LIMIT 1
       FOR UPDATE SKIP LOCKED
), my_callback AS (
    SELECT id, false AS reused
      FROM calling_calltarget
     WHERE operation_id = %(op)s AND callback_for_id = %(agent)s AND state = 'ready'
       AND available_at <= %(now)s AND time_zone = ANY(%(zones)s)
     ORDER BY available_at, id
     LIMIT 1
       FOR UPDATE SKIP LOCKED
), {free}
pick AS (
    (SELECT id, reused FROM held)
    UNION ALL (SELECT id, reused FROM my_callback)
    {pick_free}
    LIMIT 1
)
UPDATE calling_calltarget t
   SET held_by_id = %(agent)s, lease_expires_at = %(lease)s, available_at = %(lease)s,
       updated_at = %(now)s
  FROM pick, people_person p
 WHERE t.id = pick.id AND p.id = t.person_id
RETURNING pick.reused, {target}, {person}
"""
# One branch per priority (callback, recycled, fresh), each a tight range of the queue index
# (operation, state, priority, available_at, id) ending at `available_at <= now`: a single
# `ORDER BY priority, available_at, id` scan would step over every callback and recycled target
# still waiting (their available_at in the future) on each claim.
_FREE_SQL = """free{p} AS (
    SELECT id, false AS reused
      FROM calling_calltarget
     WHERE operation_id = %(op)s AND state = 'ready' AND priority = {p}
       AND available_at <= %(now)s AND time_zone = ANY(%(zones)s)
       AND (callback_for_id IS NULL OR callback_open_at <= %(now)s)
     ORDER BY available_at, id
     LIMIT 1
       FOR UPDATE SKIP LOCKED
),"""
_CLAIM_SQL_READY = ""


def _claim_statement() -> str:
    """The claim statement with its column lists and per-priority branches filled in."""
    global _CLAIM_SQL_READY
    if not _CLAIM_SQL_READY:
        priorities = sorted(CallTarget.Priority.values)
        _CLAIM_SQL_READY = (
            _CLAIM_SQL.replace("{target}", model_columns(CallTarget, "t"))
            .replace("{person}", model_columns(Person, "p"))
            .replace("{free}", "\n".join(_FREE_SQL.replace("{p}", str(p)) for p in priorities))
            .replace(
                "{pick_free}",
                "\n    ".join(f"UNION ALL (SELECT id, reused FROM free{p})" for p in priorities),  # noqa: S608
            )
        )
    return _CLAIM_SQL_READY


def _claim_sql(
    operation: CallOperation, agent: Membership, zones: list[str], now: dt.datetime
) -> Claim | None:
    params = {
        "agent": agent.pk,
        "now": now,
        "op": operation.pk,
        "zones": list(zones),
        "lease": _lease(operation, now),
    }
    n = len(CallTarget._meta.concrete_fields)
    for _attempt in range(MAX_BLOCKED_PER_CLAIM):
        row = hot_fetchone(_claim_statement(), params)
        if row is None:
            return None
        target: CallTarget = model_from_row(CallTarget, row[1 : n + 1])
        target.person = model_from_row(Person, row[n + 1 :])
        target.operation = operation
        if row[0]:
            return Claim(target=target, reused=True)
        if _hand_out(operation, agent, target, now):
            continue
        return Claim(target=target)
    return None


def _claim_orm(
    operation: CallOperation, agent: Membership, zones: list[str], now: dt.datetime
) -> Claim | None:
    """The claim on SQLite: the IMMEDIATE transaction serializes claims."""
    mine = (
        CallTarget.objects.filter(operation=operation, state=S.READY)
        .filter(
            Q(held_by=agent, lease_expires_at__gt=now)
            | Q(callback_for=agent, available_at__lte=now, time_zone__in=zones)
        )
        .select_related("person")
        .order_by(Case(When(held_by=agent, then=Value(0)), default=Value(1)), "available_at", "id")
        .first()
    )
    if (
        mine is not None
        and mine.held_by_id == agent.id
        and mine.lease_expires_at is not None
        and mine.lease_expires_at > now
    ):
        mine.lease_expires_at = mine.available_at = _lease(operation, now)
        mine.save(update_fields=["lease_expires_at", "available_at", "updated_at"])
        return Claim(target=mine, reused=True)
    for _attempt in range(MAX_BLOCKED_PER_CLAIM):
        target: CallTarget | None
        if mine is not None:
            target, mine = mine, None
        else:
            target = _next_candidate(operation, zones, now) if zones else None
        if target is None:
            return None
        target.held_by = agent
        target.lease_expires_at = target.available_at = _lease(operation, now)
        if _hand_out(operation, agent, target, now):
            continue
        target.save(update_fields=["held_by", "lease_expires_at", "available_at", "updated_at"])
        return Claim(target=target)
    return None


def _next_candidate(
    operation: CallOperation, zones: list[str], now: dt.datetime
) -> CallTarget | None:
    """The next free target: open callbacks, then recycled, then fresh (personal callbacks of
    other agents wait until they open)."""
    return (
        CallTarget.objects.filter(
            operation=operation, state=S.READY, available_at__lte=now, time_zone__in=zones
        )
        .filter(Q(callback_for__isnull=True) | Q(callback_open_at__lte=now))
        .select_related("person")
        .order_by("priority", "available_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )


def _remove(target: CallTarget, rule: BlockingRule, now: dt.datetime) -> None:
    reason = (rule.reason or rule.removal_status.label)[:200]
    values = {
        "state": S.REMOVED,
        "held_by": None,
        "lease_expires_at": None,
        "removed_status": rule.removal_status,
        "removed_reason": reason,
        "updated_at": now,
    }
    if rule.apply_to_household and target.household_id:
        CallTarget.objects.filter(
            operation_id=target.operation_id,
            household_id=target.household_id,
            state=S.READY,
            held_by__isnull=True,
        ).update(**values)
    CallTarget.objects.filter(pk=target.pk).update(**values)


def queue_explain(
    *, operation: CallOperation, agent: Membership | None, now: dt.datetime | None = None
) -> tuple[dict[str, int], dt.datetime | None]:
    """Counts of why targets can't be handed out now, and when the next one can."""
    now = now or timezone.now()
    window = operation_window(operation)
    zones = zones_inside(window, operation.time_zones or [], now)
    qs = CallTarget.objects.filter(operation=operation)
    ready = Q(state=S.READY)
    held = ready & Q(held_by__isnull=False, lease_expires_at__gt=now)
    waiting = ready & Q(available_at__gt=now) & ~held
    due = ready & Q(available_at__lte=now)
    personal_other = Q(callback_for__isnull=False, callback_open_at__gt=now)
    if agent is not None:
        personal_other &= ~Q(callback_for=agent)
    agg = qs.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(state=S.DONE)),
        removed=Count("id", filter=Q(state=S.REMOVED)),
        held=Count("id", filter=held),
        callbacks_not_due=Count("id", filter=waiting & Q(priority=P.CALLBACK)),
        recycling=Count("id", filter=waiting & ~Q(priority=P.CALLBACK)),
        outside_hours=Count("id", filter=due & ~Q(time_zone__in=zones)),
        personal_others=Count("id", filter=due & Q(time_zone__in=zones) & personal_other),
        ready_now=Count("id", filter=due & Q(time_zone__in=zones) & ~personal_other),
        next_wait=Min("available_at", filter=ready & Q(available_at__gt=now)),
    )
    reasons = {
        "ready_now": agg["ready_now"],
        "outside_calling_hours": agg["outside_hours"],
        "waiting_recycling_interval": agg["recycling"],
        "held_by_other_agents": agg["held"],
        "callbacks_not_yet_due": agg["callbacks_not_due"] + agg["personal_others"],
        "removed_by_blocking": agg["removed"],
        "done": agg["done"],
        "total": agg["total"],
    }
    candidates: list[dt.datetime] = []
    if agg["next_wait"] is not None:
        candidates.append(max(agg["next_wait"], now))
    if agg["outside_hours"]:
        outside = sorted(set(operation.time_zones or []) - set(zones))
        for name in outside:
            opening = next_opening(window, name, now)
            if opening is not None:
                candidates.append(opening)
    next_at = min(candidates) if candidates else None
    if operation.ends_at and next_at and next_at >= operation.ends_at:
        next_at = None
    return reasons, next_at


def target_heartbeat(
    *, target: CallTarget, agent: Membership, now: dt.datetime | None = None
) -> CallTarget | None:
    """Extend the lease; None when the agent no longer holds the target."""
    now = now or timezone.now()
    lease = _lease(target.operation, now)
    n = CallTarget.objects.filter(
        pk=target.pk, held_by=agent, state=S.READY, lease_expires_at__gt=now
    ).update(lease_expires_at=lease, available_at=lease, updated_at=now)
    if not n:
        return None
    target.lease_expires_at = target.available_at = lease
    return target


def target_release(
    *, target: CallTarget, agent: Membership, now: dt.datetime | None = None, skip: bool = True
) -> bool:
    """Give the target back (Skip): others may take it after a short delay."""
    now = now or timezone.now()
    n = CallTarget.objects.filter(pk=target.pk, held_by=agent, state=S.READY).update(
        held_by=None,
        lease_expires_at=None,
        available_at=now + (SKIP_DELAY if skip else dt.timedelta(0)),
        updated_at=now,
    )
    return bool(n)


def status_for(operation: CallOperation, key: str) -> CallStatus | None:
    return CallStatus.objects.filter(organization_id=operation.organization_id, key=key).first()

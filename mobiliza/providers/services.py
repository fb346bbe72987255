"""Provider accounts, webhook ingestion (raw first, then processed once), the simulator's clock."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record
from mobiliza.core.models import AuditEvent
from mobiliza.providers.base import ConnectionCheck, MessagingProvider, WebhookKind
from mobiliza.providers.crypto import encrypt
from mobiliza.providers.models import ProviderAccount, SenderNumber, SimulatedEvent, WebhookEvent

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

logger = logging.getLogger(__name__)


# --- accounts ---------------------------------------------------------------------------------
def provider_for(account: ProviderAccount) -> MessagingProvider:
    if account.kind == ProviderAccount.Kind.TWILIO:
        from mobiliza.providers.twilio import TwilioProvider

        return TwilioProvider(account)
    from mobiliza.providers.simulator import SimulatorProvider

    return SimulatorProvider(account)


# Accounts and their providers (decrypted token, options) by id, per process: the send path asks
# for them on every click. Kept `ACCOUNT_CACHE_SECONDS`; a save or delete in this process drops
# the entry at once (other processes see it within the delay).
ACCOUNT_CACHE_SECONDS = 30.0
_account_cache: dict[int, tuple[float, ProviderAccount, MessagingProvider]] = {}


def account_provider(account_id: int) -> tuple[ProviderAccount, MessagingProvider]:
    """(account, provider) for an account id, cached per process (see above)."""
    import time

    cached = _account_cache.get(account_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1], cached[2]
    account = ProviderAccount.objects.select_related("organization").get(pk=account_id)
    provider = provider_for(account)
    _account_cache[account_id] = (time.monotonic() + ACCOUNT_CACHE_SECONDS, account, provider)
    return account, provider


def account_cache_forget(account_id: int | None = None) -> None:
    if account_id is None:
        _account_cache.clear()
    else:
        _account_cache.pop(account_id, None)


def accepts_in_transaction(provider: MessagingProvider) -> bool:
    """True when the provider's acceptance of a message is a write in our own database (the
    simulator): handing a message over inside the sender's transaction is then atomic with
    recording it, with no window where one happened without the other."""
    return bool(getattr(provider, "accepts_in_transaction", False))


def normalize_number(raw: str, *, region: str = "") -> str:
    """E.164 of a valid number, else ValidationError."""
    try:
        parsed = phonenumbers.parse(raw.strip(), region.upper() or None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(_("“%(number)s” is not a valid phone number.") % {"number": raw})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def provider_account_create(
    *,
    organization: Organization,
    actor: User | None,
    kind: str,
    name: str,
    account_sid: str = "",
    auth_token: str = "",
    messaging_service_sid: str = "",
    make_default: bool = True,
    options: Mapping[str, Any] | None = None,
) -> ProviderAccount:
    if kind not in ProviderAccount.Kind.values:
        raise ValidationError(_("Unknown provider."))
    name = name.strip() or str(ProviderAccount.Kind(kind).label)
    if kind == ProviderAccount.Kind.TWILIO:
        if not account_sid.strip().startswith("AC") or len(account_sid.strip()) != 34:
            raise ValidationError(_("A Twilio account SID starts with AC and has 34 characters."))
        if len(auth_token.strip()) < 16:
            raise ValidationError(_("Paste the account's auth token."))
    else:
        # The simulator signs its callbacks with a secret of its own, exactly as Twilio does.
        auth_token = auth_token or secrets.token_hex(16)
        account_sid = account_sid or "AC" + secrets.token_hex(16)
    if make_default:
        ProviderAccount.objects.filter(organization=organization, is_default=True).update(
            is_default=False
        )
    account = ProviderAccount.objects.create(
        organization=organization,
        kind=kind,
        name=name[:100],
        is_default=make_default,
        account_sid=account_sid.strip(),
        auth_token_encrypted=encrypt(auth_token.strip()),
        messaging_service_sid=messaging_service_sid.strip(),
        options=dict(options or {}),
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.SETTINGS,
        target=account,
        meta={"kind": kind},
    )
    return account


@transaction.atomic
def provider_account_update(
    *,
    account: ProviderAccount,
    actor: User | None,
    name: str,
    account_sid: str,
    auth_token: str = "",
    messaging_service_sid: str = "",
    make_default: bool = False,
) -> ProviderAccount:
    """Update an account; an empty `auth_token` keeps the stored one."""
    if account.kind == ProviderAccount.Kind.TWILIO and (
        not account_sid.strip().startswith("AC") or len(account_sid.strip()) != 34
    ):
        raise ValidationError(_("A Twilio account SID starts with AC and has 34 characters."))
    account.name = (name.strip() or account.name)[:100]
    account.account_sid = account_sid.strip() or account.account_sid
    account.messaging_service_sid = messaging_service_sid.strip()
    fields = ["name", "account_sid", "messaging_service_sid", "updated_at"]
    if auth_token.strip():
        account.auth_token_encrypted = encrypt(auth_token.strip())
        fields.append("auth_token_encrypted")
    if make_default and not account.is_default:
        ProviderAccount.objects.filter(
            organization_id=account.organization_id, is_default=True
        ).update(is_default=False)
        account.is_default = True
        fields.append("is_default")
    account.save(update_fields=fields)
    audit_record(
        organization=account.organization,
        actor=actor,
        action=AuditEvent.Action.SETTINGS,
        target=account,
        meta={"token_changed": bool(auth_token.strip())},
    )
    return account


def provider_account_check(*, account: ProviderAccount) -> ConnectionCheck:
    """The "test connection" button: ask the provider, remember the answer."""
    try:
        result = provider_for(account).check_connection()
    except ValueError as exc:  # a secret encrypted with another key
        result = ConnectionCheck(ok=False, message=str(exc))
    account.last_checked_at = timezone.now()
    account.last_check_ok = result.ok
    account.last_check_message = result.message[:300]
    account.save(update_fields=["last_checked_at", "last_check_ok", "last_check_message"])
    return result


def default_account(*, organization: Organization) -> ProviderAccount:
    """The organization's default account; a simulator one is created on first use."""
    account = (
        ProviderAccount.objects.filter(organization=organization)
        .order_by("-is_default", "id")
        .first()
    )
    if account is None:
        account = provider_account_create(
            organization=organization, actor=None, kind="simulator", name="Simulator"
        )
    return account


@transaction.atomic
def sender_number_add(
    *, account: ProviderAccount, actor: User | None, number: str, label: str = ""
) -> SenderNumber:
    organization = account.organization
    e164 = normalize_number(number, region=organization.default_country)
    existing = SenderNumber.objects.filter(organization=organization, e164=e164).first()
    if existing is not None:
        raise ValidationError(_("%(number)s is already a sender number.") % {"number": e164})
    sender = SenderNumber.objects.create(
        organization=organization, account=account, e164=e164, label=label.strip()[:100]
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.SETTINGS,
        target=sender,
    )
    return sender


@transaction.atomic
def sender_number_set_active(
    *, sender: SenderNumber, actor: User | None, active: bool
) -> SenderNumber:
    if sender.is_active != active:
        sender.is_active = active
        sender.save(update_fields=["is_active", "updated_at"])
        audit_record(
            organization=sender.organization,
            actor=actor,
            action=AuditEvent.Action.SETTINGS,
            target=sender,
            changes={"is_active": {"old": not active, "new": active}},
        )
    return sender


# --- webhooks ---------------------------------------------------------------------------------
WebhookHandler = Callable[[WebhookEvent, ProviderAccount, MessagingProvider], str]
# (provider id, status) of a verified payload: the event's identity for deduplication.
WebhookIdentifier = Callable[[ProviderAccount, Mapping[str, str]], tuple[str, str]]
# Processes many stored events of one kind at once, set-based; returns {event id: outcome}. The
# events are locked by the caller, in one transaction; raising falls back to one by one.
WebhookBatchHandler = Callable[[list[WebhookEvent]], Mapping[int, str]]
_HANDLERS: dict[str, WebhookHandler] = {}
_BATCH_HANDLERS: dict[str, WebhookBatchHandler] = {}
_IDENTIFIERS: dict[str, WebhookIdentifier] = {}
_URL_NAMES: dict[str, str] = {
    WebhookKind.MESSAGE_STATUS: "providers:sms_status",
    WebhookKind.MESSAGE_INBOUND: "providers:sms_inbound",
}


def register_webhook_handler(kind: str, handler: WebhookHandler) -> None:
    """The app that owns a kind of event processes it (texting: messages; calling: calls)."""
    _HANDLERS[kind] = handler


def register_webhook_batch_handler(kind: str, handler: WebhookBatchHandler) -> None:
    """Optional: process a batch of pending events of `kind` set-based (the worker's drain)."""
    _BATCH_HANDLERS[kind] = handler


def register_webhook_kind(*, kind: str, url_name: str, identify: WebhookIdentifier) -> None:
    """A kind of webhook another app adds (calls): its URL name and how a payload is identified.

    `identify` returns (provider id, status); two deliveries with the same pair are one event.
    """
    _URL_NAMES[kind] = url_name
    _IDENTIFIERS[kind] = identify


def webhook_base_url() -> str:
    return (settings.WEBHOOK_BASE_URL or settings.SITE_URL).rstrip("/")


def webhook_url(*, account: ProviderAccount, kind: str) -> str:
    name = _URL_NAMES[kind]
    return webhook_base_url() + reverse(name, kwargs={"token": account.webhook_token})


def _dedupe_key(account: ProviderAccount, kind: str, provider_id: str, status: str) -> str:
    return f"{account.pk}:{kind}:{provider_id}:{status}"[:200]


def _identify(
    account: ProviderAccount, kind: str, params: Mapping[str, str], provider: MessagingProvider
) -> tuple[str, str]:
    identify = _IDENTIFIERS.get(kind)
    if identify is not None:
        return identify(account, params)
    if kind == WebhookKind.MESSAGE_STATUS:
        status_event = provider.parse_status(params)
        return status_event.provider_message_id, status_event.status.value
    return provider.parse_inbound(params).provider_message_id, "in"


def webhook_store_row(
    *,
    account: ProviderAccount,
    kind: str,
    params: Mapping[str, str],
    provider: MessagingProvider | None = None,
) -> tuple[int | None, bool]:
    """Store a verified webhook raw: (event id, created); a redelivery only counts up.

    One statement, whatever the engine: `INSERT … ON CONFLICT (dedupe_key) DO UPDATE SET
    deliveries = deliveries + 1 RETURNING id, deliveries` (a new row comes back with 1
    delivery). In autocommit it is its own transaction: one round trip, one commit.
    """
    provider_id, status = _identify(account, kind, params, provider or provider_for(account))
    if not provider_id:
        return None, False
    table = WebhookEvent._meta.db_table
    meta = WebhookEvent._meta
    values = [
        account.organization_id,
        account.pk,
        kind,
        provider_id[:64],
        _dedupe_key(account, kind, provider_id, status),
        meta.get_field("payload").get_db_prep_value(dict(params), connection),
        meta.get_field("received_at").get_db_prep_value(timezone.now(), connection),
        WebhookEvent.Outcome.PENDING.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (organization_id, account_id, kind, provider_id, dedupe_key,
                                 payload, received_at, deliveries, outcome, error)
            VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, '')
            ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = {table}.deliveries + 1
            RETURNING id, deliveries
            """,  # noqa: S608 - the table name is ours, values are parameters
            values,
        )
        row = cursor.fetchone()
    if row is None:  # pragma: no cover - RETURNING always answers one row
        return None, False
    return int(row[0]), row[1] == 1


def webhook_store(
    *,
    account: ProviderAccount,
    kind: str,
    params: Mapping[str, str],
    provider: MessagingProvider | None = None,
) -> tuple[WebhookEvent | None, bool]:
    """Store a verified webhook raw. Returns (event, created); a redelivery only counts up."""
    pk, created = webhook_store_row(account=account, kind=kind, params=params, provider=provider)
    if pk is None:
        return None, False
    return WebhookEvent.objects.filter(pk=pk).first(), created


def webhook_event_process(*, event_id: int) -> str:
    """Process one stored event exactly once. Safe to call again (returns the stored outcome)."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("account", "account__organization")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return "missing"
        if event.outcome not in (WebhookEvent.Outcome.PENDING, WebhookEvent.Outcome.UNMATCHED):
            return event.outcome
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            outcome = WebhookEvent.Outcome.IGNORED.value
        else:
            try:
                with transaction.atomic():
                    outcome = handler(event, event.account, provider_for(event.account))
            except Exception as exc:  # kept for an admin, never lost
                logger.exception("webhook processing failed", extra={"event": event.pk})
                event.outcome = WebhookEvent.Outcome.ERROR
                event.error = repr(exc)[:2000]
                event.processed_at = timezone.now()
                event.save(update_fields=["outcome", "error", "processed_at"])
                return event.outcome
        event.outcome = outcome
        event.processed_at = timezone.now()
        event.save(update_fields=["outcome", "processed_at"])
        return outcome


def _process_inline() -> bool:
    """Eager mode processes a webhook inside its request unless WEBHOOK_PROCESS_INLINE=0, in
    which case the request only stores it and the tick processes pending events in order."""
    return bool(settings.WEBHOOK_PROCESS_INLINE)


def webhook_event_dispatch(*, event: WebhookEvent) -> None:
    """Process now (eager mode), leave it for the tick, or queue it for a worker."""
    webhook_event_dispatch_id(event_id=event.pk)


def webhook_event_dispatch_id(*, event_id: int) -> None:
    """Eager mode: process now (WEBHOOK_PROCESS_INLINE=1) or leave it to the tick's batch drain.
    With a broker: one task per event (WEBHOOK_PROCESS_INLINE=1), or leave it to the beat's
    `process_pending_webhooks` batch drain (0: the high-volume shape, set-based)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if _process_inline():
            webhook_event_process(event_id=event_id)
        else:
            transaction.on_commit(lambda: _wake_simulator(timezone.now()))
    elif _process_inline():
        from mobiliza.providers.tasks import process_webhook_event

        transaction.on_commit(lambda: process_webhook_event.delay(event_id))


def _process_locked(event: WebhookEvent) -> str:
    """One event, already locked by the caller's transaction (same rules as webhook_event_process)."""
    handler = _HANDLERS.get(event.kind)
    if handler is None:
        return WebhookEvent.Outcome.IGNORED.value
    try:
        with transaction.atomic():
            return handler(event, event.account, provider_for(event.account))
    except Exception as exc:  # kept for an admin, never lost
        logger.exception("webhook processing failed", extra={"event": event.pk})
        WebhookEvent.objects.filter(pk=event.pk).update(error=repr(exc)[:2000])
        return WebhookEvent.Outcome.ERROR.value


def webhook_process_batch(*, batch: int = 200) -> int:
    """Process up to `batch` pending events, oldest first, in one transaction. Returns how many.

    The events are claimed with SKIP LOCKED (PostgreSQL), so several workers drain in parallel
    without taking one event twice. Kinds with a batch handler are processed set-based (texting's
    replies: one query matches them all, one insert stores them); a batch that raises is redone
    one event at a time, so one bad payload is marked `error` and the others still go through.
    """
    with transaction.atomic():
        queryset = WebhookEvent.objects.filter(outcome=WebhookEvent.Outcome.PENDING)
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True, of=("self",))
        events = list(
            queryset.select_related("account", "account__organization").order_by("id")[:batch]
        )
        if not events:
            return 0
        outcomes: dict[int, str] = {}
        by_kind: dict[str, list[WebhookEvent]] = {}
        for event in events:
            by_kind.setdefault(event.kind, []).append(event)
        for kind, group in by_kind.items():
            batch_handler = _BATCH_HANDLERS.get(kind)
            if batch_handler is not None:
                try:
                    with transaction.atomic():
                        outcomes.update(batch_handler(group))
                    continue
                except Exception:
                    logger.exception("webhook batch failed; processing one by one")
            for event in group:
                outcomes[event.pk] = _process_locked(event)
        now = timezone.now()
        by_outcome: dict[str, list[int]] = {}
        for pk, outcome in outcomes.items():
            by_outcome.setdefault(outcome, []).append(pk)
        for outcome, pks in by_outcome.items():
            WebhookEvent.objects.filter(pk__in=pks).update(outcome=outcome, processed_at=now)
        return len(events)


def webhook_process_pending(*, limit: int = 1000, batch: int = 200) -> int:
    """Process stored events not processed yet, oldest first (the tick / the worker's beat)."""
    done = 0
    while done < limit:
        got = webhook_process_batch(batch=min(batch, limit - done))
        if not got:
            break
        done += got
    return done


def webhook_reprocess_unmatched(*, max_age: dt.timedelta = dt.timedelta(hours=1)) -> int:
    """Status callbacks that arrived before their send was recorded: try them again."""
    since = timezone.now() - max_age
    ids = list(
        WebhookEvent.objects.filter(
            outcome=WebhookEvent.Outcome.UNMATCHED,
            kind=WebhookKind.MESSAGE_STATUS,
            received_at__gte=since,
        ).values_list("pk", flat=True)[:1000]
    )
    return sum(1 for pk in ids if webhook_event_process(event_id=pk) == "processed")


# --- periodic work -----------------------------------------------------------------------------
_TICK_HOOKS: list[Callable[[], object]] = []


def register_tick_hook(hook: Callable[[], object]) -> None:
    """Work to run every second without a broker (texting: retry due outbox messages). With a
    broker, schedule the owning app's task with Celery beat instead."""
    if hook not in _TICK_HOOKS:
        _TICK_HOOKS.append(hook)


def run_tick_hooks() -> None:
    for hook in _TICK_HOOKS:
        try:
            hook()
        except Exception:
            logger.exception("tick hook failed")


# --- the simulator's clock --------------------------------------------------------------------
_SIMULATED_FIELDS = ("account_id", "path", "params", "due_at", "attempts")


def _simulated_insert(rows: list[SimulatedEvent]) -> None:
    """`bulk_create(rows)` as one prepared INSERT (a send schedules its callbacks on every
    click: the ORM's bulk_create compiled more than PostgreSQL ran). The rows get no pk back."""
    if not rows:
        return
    from django.db import connection

    from mobiliza.core.sql import prepared_fetchone

    fields = [SimulatedEvent._meta.get_field(name) for name in _SIMULATED_FIELDS]
    cols = ", ".join(f'"{f.column}"' for f in fields)  # type: ignore[union-attr]
    marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    params = [
        f.get_db_prep_save(getattr(row, f.attname), connection)  # type: ignore[union-attr]
        for row in rows
        for f in fields
    ]
    prepared_fetchone(
        f'INSERT INTO "{SimulatedEvent._meta.db_table}" ({cols}) VALUES {marks}',  # noqa: S608 - names from the model
        params,
        fetch=False,
    )


def simulator_schedule(
    *, account: ProviderAccount, events: Iterable[tuple[dt.datetime, str, dict[str, str]]]
) -> None:
    """Queue simulated callbacks. `url` "inbound" means this account's inbound webhook."""
    rows = []
    for due_at, url, params in events:
        target = (
            webhook_url(account=account, kind=WebhookKind.MESSAGE_INBOUND)
            if url == "inbound"
            else url
        )
        rows.append(SimulatedEvent(account=account, path=target, params=params, due_at=due_at))
    _simulated_insert(rows)
    if rows:
        first = min(r.due_at for r in rows)
        transaction.on_commit(lambda: _wake_simulator(first))


def simulator_inbound(
    *,
    account: ProviderAccount,
    from_number: str,
    to_number: str,
    body: str,
    delay: float = 0.0,
) -> dict[str, str]:
    """Have a person text one of the organization's numbers (demo button, tests, benchmarks)."""
    from mobiliza.providers.simulator import SimulatorProvider

    params = SimulatorProvider(account).inbound_params(
        from_number=from_number, to_number=to_number, body=body
    )
    simulator_schedule(
        account=account,
        events=[(timezone.now() + dt.timedelta(seconds=delay), "inbound", params)],
    )
    return params


def signed_request(
    *, account: ProviderAccount, url: str, params: Mapping[str, str]
) -> dict[str, str]:
    """The X-Twilio-Signature header a provider holding this account's secret would send."""
    from twilio.request_validator import RequestValidator

    from mobiliza.providers.crypto import decrypt

    signature = RequestValidator(decrypt(account.auth_token_encrypted)).compute_signature(
        url, dict(params)
    )
    return {"X-Twilio-Signature": signature}


def _deliver(event: SimulatedEvent, account: ProviderAccount) -> int:
    headers = signed_request(account=account, url=event.path, params=event.params)
    delivery_base = settings.SIMULATOR_DELIVERY_URL
    if delivery_base:
        import requests

        parts = urlsplit(event.path)
        target = delivery_base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        reply = requests.post(target, data=event.params, headers=headers, timeout=10)
        return int(reply.status_code)
    from django.test import Client

    parts = urlsplit(event.path)
    client = Client(HTTP_HOST=parts.netloc or "testserver")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    response = client.post(
        path,
        data=event.params,
        secure=parts.scheme == "https",
        headers=headers,
    )
    return int(response.status_code)


def simulator_tick(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Deliver every simulated callback that is due at `now`. Returns how many were delivered.

    Events are claimed in a short transaction (SKIP LOCKED on PostgreSQL), then POSTed one by one
    to the real webhook URL, so two tickers never deliver one event twice.
    """
    now = now or timezone.now()
    delivered = 0
    while True:
        with transaction.atomic():
            queryset = SimulatedEvent.objects.filter(delivered_at__isnull=True, due_at__lte=now)
            if connection.features.has_select_for_update_skip_locked:
                queryset = queryset.select_for_update(skip_locked=True)
            batch = list(queryset.order_by("due_at", "id")[:limit])
            if not batch:
                return delivered
            SimulatedEvent.objects.filter(pk__in=[e.pk for e in batch]).update(
                delivered_at=timezone.now(), attempts=F("attempts") + 1
            )
        accounts = {
            a.pk: a
            for a in ProviderAccount.objects.filter(
                pk__in={e.account_id for e in batch}
            ).select_related("organization")
        }
        for event in batch:
            try:
                status = _deliver(event, accounts[event.account_id])
            except Exception:  # the webhook endpoint is down: try again later
                logger.exception("simulator delivery failed")
                SimulatedEvent.objects.filter(pk=event.pk).update(
                    delivered_at=None, due_at=timezone.now() + dt.timedelta(seconds=5)
                )
                continue
            SimulatedEvent.objects.filter(pk=event.pk).update(response_status=status)
            delivered += 1
        if len(batch) < limit:
            return delivered


# In eager mode (no broker) a single daemon thread per process delivers due events, so `make run`
# behaves like a carrier without a worker. Tests turn it off and call simulator_tick themselves.
_ticker_lock = threading.Lock()
_ticker: threading.Thread | None = None


def _autodeliver() -> bool:
    """Eager mode only: deliver the simulator's callbacks from a thread (off in tests; the
    SIMULATOR_AUTODELIVER environment variable, 0 or 1, overrides)."""
    return bool(settings.SIMULATOR_AUTODELIVER)


def _wake_simulator(first_due: dt.datetime) -> None:
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from mobiliza.providers.tasks import simulator_tick_task

        countdown = max(0.0, (first_due - timezone.now()).total_seconds())
        simulator_tick_task.apply_async(countdown=countdown)
        return
    if not _autodeliver():
        return
    global _ticker
    with _ticker_lock:
        if _ticker is not None and _ticker.is_alive():
            return
        _ticker = threading.Thread(target=_ticker_loop, name="simulator-ticker", daemon=True)
        _ticker.start()


def _ticker_loop() -> None:
    import time

    idle = 0.0
    try:
        while idle < 120:
            try:
                delivered = simulator_tick()
            except Exception:
                logger.exception("simulator tick failed")
                delivered = 0
            delivered += webhook_process_pending()
            run_tick_hooks()
            pending = SimulatedEvent.objects.filter(delivered_at__isnull=True).exists()
            idle = 0.0 if (delivered or pending) else idle + 1.0
            time.sleep(1.0)
    finally:
        connection.close()


def simulator_ensure_running() -> None:
    """Eager mode: restart the delivery thread if callbacks wait (e.g. queued by `seed_demo`)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER or not _autodeliver():
        return
    if _ticker is not None and _ticker.is_alive():
        return
    if SimulatedEvent.objects.filter(delivered_at__isnull=True).exists():
        _wake_simulator(timezone.now())

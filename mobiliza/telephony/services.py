"""Software-placed calls: the agent's verified phone, dialing (the click-to-call bridge), the
provider's callbacks, costs and the spending cap.

Callbacks arrive through the providers webhook store (signature checked, stored raw, deduplicated
by (account, kind, call id, event key)) and are processed once by `call_webhook_handle`. Each leg's
rank only moves forward, so a late "ringing" never undoes a "completed". A person's leg that ends
without a human (busy, no answer, voicemail detected, invalid number, error, canceled) is recorded
through `calling.services.call_result_record` with the auto-detected status, keyed by the
provider's call id, so the operation's recycling rules apply exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.calling.providers.base import (
    EVENT_RANK,
    TERMINAL_EVENTS,
    Bridge,
    CallEvent,
    CallUpdate,
    VoiceProvider,
    auto_status_for,
)
from mobiliza.calling.providers.twilio import MACHINE_ANSWERS
from mobiliza.core.audit import audit_record
from mobiliza.core.models import AuditEvent
from mobiliza.providers.base import ProviderError
from mobiliza.providers.models import ProviderAccount, SenderNumber, WebhookEvent
from mobiliza.telephony.models import AgentPhone, PlacedCall, VoiceSettings

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization, User
    from mobiliza.calling.models import CallOperation, CallTarget

logger = logging.getLogger(__name__)
CALL_STATUS_KIND = "call_status"
SPENDING_CAP_REASON = "spending_cap"
CODE_TTL = dt.timedelta(minutes=15)
MAX_CODE_ATTEMPTS = 5
# Twilio's magic test number: what the simulator shows as caller id when none is configured.
SIMULATOR_CALLER_ID = "+15005550006"
Stage = PlacedCall.Stage
STAGE_RANK = {
    Stage.CALLING_AGENT: 1,
    Stage.DIALING: 2,
    Stage.RINGING: 3,
    Stage.CONNECTED: 4,
    Stage.ENDED: 5,
}


class DialRefusedError(Exception):
    """A call that may not be placed now; `message` is translated, `code` is stable for the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- providers ---------------------------------------------------------------------------------
def voice_for(account: ProviderAccount) -> VoiceProvider:
    if account.kind == ProviderAccount.Kind.TWILIO:
        from mobiliza.calling.providers.twilio import TwilioVoice

        return TwilioVoice(account)
    from mobiliza.calling.providers.simulator import SimulatorVoice

    return SimulatorVoice(account)


def call_status_url(*, account: ProviderAccount) -> str:
    from mobiliza.providers.services import webhook_base_url

    path = reverse("telephony_webhooks:call_status", kwargs={"token": account.webhook_token})
    return webhook_base_url() + path


# --- settings ----------------------------------------------------------------------------------
def voice_settings_get(*, organization: Organization) -> VoiceSettings:
    found = VoiceSettings.objects.filter(organization=organization).first()
    if found is None:
        found, _created = VoiceSettings.objects.get_or_create(organization=organization)
    return found


def _decimal(value: Any, *, field: str, maximum: Decimal) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("Enter an amount such as 0.02.")}) from None
    if not amount.is_finite() or amount < 0 or amount > maximum:
        raise ValidationError(
            {field: _("Enter an amount between 0 and %(max)s.") % {"max": maximum}}
        )
    return amount


@transaction.atomic
def voice_settings_update(
    *,
    organization: Organization,
    actor: User | None,
    rate_per_minute: Any,
    currency: str,
    use_provider_price: bool,
) -> VoiceSettings:
    rate = _decimal(rate_per_minute, field="rate_per_minute", maximum=Decimal("100"))
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError({"currency": _("A currency is a three-letter code such as EUR.")})
    current = voice_settings_get(organization=organization)
    changes = {
        "rate_per_minute": {"old": str(current.rate_per_minute), "new": str(rate)},
        "currency": {"old": current.currency, "new": code},
    }
    current.rate_per_minute = rate
    current.currency = code
    current.use_provider_price = use_provider_price
    current.save()
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.SETTINGS,
        target=current,
        changes=changes,
    )
    return current


@dataclass(frozen=True)
class OperationVoice:
    """The software-call settings of one operation (stored in `method_settings` by the wizard)."""

    caller_id: str
    machine_detection: bool
    spending_cap: Decimal | None


def operation_voice(operation: CallOperation) -> OperationVoice:
    data = operation.method_settings or {}
    cap: Decimal | None = None
    raw = data.get("spending_cap")
    if raw not in (None, ""):
        try:
            cap = Decimal(str(raw))
        except InvalidOperation:
            cap = None
    return OperationVoice(
        caller_id=str(data.get("caller_id") or ""),
        machine_detection=bool(data.get("machine_detection", True)),
        spending_cap=cap,
    )


def method_settings_clean(
    *, caller_id: str, record_calls: bool, machine_detection: bool, spending_cap: Any, region: str
) -> dict[str, Any]:
    """The call-method step's settings, validated (the wizard form calls this)."""
    from mobiliza.providers.services import normalize_number

    caller = (caller_id or "").strip()
    if caller:
        try:
            caller = normalize_number(caller, region=region)
        except ValidationError:
            raise ValidationError(
                {"caller_id": _("The caller id must be a valid phone number.")}
            ) from None
    cap: str = ""
    if spending_cap not in (None, ""):
        cap = str(_decimal(spending_cap, field="spending_cap", maximum=Decimal("1000000")))
    return {
        "caller_id": caller,
        "record_calls": bool(record_calls),
        "machine_detection": bool(machine_detection),
        "spending_cap": cap,
    }


# --- costs and the cap ---------------------------------------------------------------------------
def operation_spend(*, operation: CallOperation) -> Decimal:
    total = PlacedCall.objects.filter(operation=operation).aggregate(s=Sum("price"))["s"]
    return Decimal(total or 0)


def spending_cap_reason(operation: CallOperation, now: dt.datetime | None = None) -> str:
    """The dispenser's open check: no new call once the operation's cap is spent."""
    if operation.call_method != "software":
        return ""
    cap = operation_voice(operation).spending_cap
    if cap is None:
        return ""
    return SPENDING_CAP_REASON if operation_spend(operation=operation) >= cap else ""


def _minutes(seconds: int) -> int:
    return math.ceil(seconds / 60) if seconds > 0 else 0


def _price(call: PlacedCall, voice: VoiceSettings) -> Decimal:
    """Both legs are billed per started minute at the organization's rate."""
    minutes = _minutes(call.agent_duration_seconds) + _minutes(call.person_duration_seconds)
    return (voice.rate_per_minute * minutes).quantize(Decimal("0.0001"))


def placed_call_price_refresh(*, call: PlacedCall) -> PlacedCall:
    """Ask the provider what it charged for both legs; keep the rate-based price when unknown."""
    voice = voice_settings_get(organization=call.organization)
    if not voice.use_provider_price or not call.agent_call_id:
        return call
    provider = voice_for(call.account)
    total = Decimal(0)
    for sid in filter(None, [call.agent_call_id, call.person_call_id]):
        try:
            state = provider.fetch_call(sid)
        except ProviderError:
            return call
        if not state.price:
            return call
        try:
            total += Decimal(state.price)
        except InvalidOperation:
            return call
    PlacedCall.objects.filter(pk=call.pk).update(
        price=total, price_source=PlacedCall.PriceSource.PROVIDER, updated_at=timezone.now()
    )
    call.price, call.price_source = total, PlacedCall.PriceSource.PROVIDER
    return call


def placed_call_prices_refresh(
    *,
    now: dt.datetime | None = None,
    settle: dt.timedelta = dt.timedelta(minutes=2),
    window: dt.timedelta = dt.timedelta(days=2),
    limit: int = 500,
) -> int:
    """The periodic price pass (beat: `telephony-call-prices`): ended calls of the last `window`
    on real provider accounts, still priced at the organization's rate, ask the provider what it
    charged. `settle` leaves the provider time to price a call that just ended. Returns how many
    calls now carry the provider's price."""
    now = now or timezone.now()
    calls = (
        PlacedCall.objects.filter(
            stage=PlacedCall.Stage.ENDED,
            ended_at__gte=now - window,
            ended_at__lte=now - settle,
            account__kind=ProviderAccount.Kind.TWILIO,
        )
        .exclude(price_source=PlacedCall.PriceSource.PROVIDER)
        .exclude(agent_call_id="")
        .select_related("account", "organization")
        .order_by("ended_at", "id")[:limit]
    )
    refreshed = 0
    for call in calls:
        if placed_call_price_refresh(call=call).price_source == PlacedCall.PriceSource.PROVIDER:
            refreshed += 1
    return refreshed


# --- the agent's phone ---------------------------------------------------------------------------
def _code_hash(phone: AgentPhone, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone.pk}:{phone.e164}:{code}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def agent_phone_start(*, membership: Membership, number: str) -> AgentPhone:
    """Send a 6-digit code to the agent's phone (SMS through the organization's provider)."""
    from mobiliza.providers.services import default_account, normalize_number, provider_for

    organization = membership.organization
    e164 = normalize_number(number or "", region=organization.default_country)
    phone, _created = AgentPhone.objects.select_for_update().get_or_create(
        membership=membership, defaults={"organization": organization, "e164": e164}
    )
    now = timezone.now()
    if phone.code_sent_at and now - phone.code_sent_at < dt.timedelta(seconds=30):
        raise ValidationError({"number": _("A code was just sent. Wait 30 seconds.")})
    code = f"{secrets.randbelow(1_000_000):06d}"
    phone.e164 = e164
    phone.verified_at = None
    phone.code_attempts = 0
    phone.code_sent_at = now
    phone.code_hash = _code_hash(phone, code)
    account = default_account(organization=organization)
    phone.simulator_code = code if account.kind == ProviderAccount.Kind.SIMULATOR else ""
    phone.save()
    sender = (
        SenderNumber.objects.filter(organization=organization, account=account, is_active=True)
        .order_by("id")
        .first()
    )
    if account.kind == ProviderAccount.Kind.TWILIO:
        if sender is None:
            raise ValidationError(
                {"number": _("Add a sender number in the provider settings first.")}
            )
        body = _("Your Mobiliza calling code: %(code)s") % {"code": code}
        try:
            provider_for(account).send_sms(
                from_number=sender.e164, to_number=e164, body=body, status_callback=""
            )
        except ProviderError as exc:
            raise ValidationError(
                {"number": _("The code could not be sent: %(error)s") % {"error": exc.message}}
            ) from exc
    audit_record(
        organization=organization,
        actor=membership.user,
        action=AuditEvent.Action.SETTINGS,
        target=phone,
        meta={"verification": "sent"},
    )
    return phone


@transaction.atomic
def agent_phone_verify(*, membership: Membership, code: str) -> AgentPhone:
    phone = AgentPhone.objects.select_for_update().filter(membership=membership).first()
    if phone is None or not phone.code_hash:
        raise ValidationError({"code": _("Ask for a code first.")})
    if phone.code_attempts >= MAX_CODE_ATTEMPTS:
        raise ValidationError({"code": _("Too many wrong codes. Ask for a new one.")})
    if phone.code_sent_at is None or timezone.now() - phone.code_sent_at > CODE_TTL:
        raise ValidationError({"code": _("This code has expired. Ask for a new one.")})
    clean = "".join(ch for ch in (code or "") if ch.isdigit())
    if not hmac.compare_digest(_code_hash(phone, clean), phone.code_hash):
        phone.code_attempts += 1
        phone.save(update_fields=["code_attempts", "updated_at"])
        raise ValidationError({"code": _("This code is not the one we sent.")})
    phone.verified_at = timezone.now()
    phone.code_hash = ""
    phone.simulator_code = ""
    phone.save(update_fields=["verified_at", "code_hash", "simulator_code", "updated_at"])
    audit_record(
        organization=membership.organization,
        actor=membership.user,
        action=AuditEvent.Action.SETTINGS,
        target=phone,
        meta={"verification": "verified"},
    )
    return phone


# --- dialing -------------------------------------------------------------------------------------
def _caller_id(operation: CallOperation, account: ProviderAccount) -> str:
    configured = operation_voice(operation).caller_id
    if configured:
        return configured
    sender = (
        SenderNumber.objects.filter(
            organization_id=operation.organization_id, account=account, is_active=True
        )
        .order_by("id")
        .values_list("e164", flat=True)
        .first()
    )
    if sender:
        return str(sender)
    if account.kind == ProviderAccount.Kind.SIMULATOR:
        return SIMULATOR_CALLER_ID
    raise DialRefusedError(
        "no_caller_id",
        _("The operation has no caller id and the provider account no sender number."),
    )


def call_dial(
    *, target: CallTarget, agent: Membership, now: dt.datetime | None = None
) -> PlacedCall:
    """Ring the agent's verified phone, then (provider side) dial the person and bridge them."""
    from mobiliza.calling.dispenser import operation_open
    from mobiliza.providers.services import default_account

    now = now or timezone.now()
    operation = target.operation
    if operation.call_method != "software":
        raise DialRefusedError(
            "own_phone", _("This operation is called from the agents' own phones.")
        )
    if (
        target.held_by_id != agent.id
        or target.state != "ready"
        or (target.lease_expires_at is not None and target.lease_expires_at <= now)
    ):
        raise DialRefusedError("not_held", _("This person is no longer assigned to you."))
    closed = operation_open(operation, now)
    if closed == SPENDING_CAP_REASON:
        raise DialRefusedError(
            SPENDING_CAP_REASON,
            _("This operation reached its spending cap: no new calls can be placed."),
        )
    if closed:
        raise DialRefusedError(closed, _("This operation is not open for calls."))
    phone = AgentPhone.objects.filter(membership=agent).first()
    if phone is None or not phone.is_verified:
        raise DialRefusedError(
            "phone_not_verified", _("Verify your phone number first: we call you on it.")
        )
    account = default_account(organization=operation.organization)
    voice_options = operation_voice(operation)
    caller_id = _caller_id(operation, account)
    with transaction.atomic():
        busy = (
            PlacedCall.objects.select_for_update()
            .filter(agent=agent)
            .exclude(stage=Stage.ENDED)
            .filter(created_at__gte=now - dt.timedelta(hours=2))
            .exists()
        )
        if busy:
            raise DialRefusedError("busy", _("You are already on a call. Hang up first."))
        call = PlacedCall.objects.create(
            organization_id=operation.organization_id,
            operation=operation,
            target=target,
            agent=agent,
            account=account,
            agent_e164=phone.e164,
            to_e164=target.phone_e164,
            machine_detection=voice_options.machine_detection,
        )
    status_url = call_status_url(account=account)
    try:
        with transaction.atomic():
            result = voice_for(account).place_call(
                to_e164=phone.e164,
                from_e164=caller_id,
                status_callback=status_url,
                bridge=Bridge(
                    to_e164=target.phone_e164,
                    caller_id=caller_id,
                    status_callback=status_url,
                    machine_detection=voice_options.machine_detection,
                ),
            )
            call.agent_call_id = result.provider_call_id
            call.save(update_fields=["agent_call_id", "updated_at"])
    except ProviderError as exc:
        PlacedCall.objects.filter(pk=call.pk).update(
            stage=Stage.ENDED,
            end_reason="provider_refused",
            error_code=exc.code[:12],
            ended_at=timezone.now(),
        )
        raise DialRefusedError(
            "provider_refused",
            _("The telephony provider refused the call: %(error)s") % {"error": exc.message},
        ) from exc
    # A callback that raced our save of the call id is stored as unmatched: process it again.
    transaction.on_commit(lambda: calls_reprocess_unmatched(max_age=dt.timedelta(minutes=2)))
    return call


STALE_CALL = dt.timedelta(minutes=5)


def call_hang_up(*, call: PlacedCall, agent: Membership) -> PlacedCall:
    """Ask the provider to end the call; its callbacks then end it here. A call that has heard
    nothing from the provider for 5 minutes (callbacks lost) is ended here at once, so the agent
    is never stuck "on a call" that no longer exists."""
    if call.agent_id != agent.id:
        raise DialRefusedError("not_yours", _("This is not your call."))
    if call.stage == Stage.ENDED:
        return call
    error: ProviderError | None = None
    if call.agent_call_id:
        try:
            voice_for(call.account).hang_up(call.agent_call_id)
        except ProviderError as exc:
            error = exc
    now = timezone.now()
    if not call.agent_call_id or now - call.updated_at > STALE_CALL:
        PlacedCall.objects.filter(pk=call.pk).exclude(stage=Stage.ENDED).update(
            stage=Stage.ENDED, end_reason="no_callbacks", ended_at=now, updated_at=now
        )
        call.refresh_from_db()
        return call
    if error is not None:
        raise DialRefusedError(
            "provider_refused",
            _("The telephony provider refused: %(error)s") % {"error": error.message},
        ) from error
    return call


# --- callbacks -------------------------------------------------------------------------------------
def call_webhook_identify(account: ProviderAccount, params: Any) -> tuple[str, str]:
    from mobiliza.calling.providers.twilio import identify

    return identify(params)


def _advance(call: PlacedCall, stage: str) -> None:
    if STAGE_RANK[Stage(stage)] > STAGE_RANK[Stage(call.stage)]:
        call.stage = stage


def call_webhook_handle(event: WebhookEvent, account: ProviderAccount, _provider: Any) -> str:
    """Process one stored call callback (once, under the providers' row lock)."""
    update = voice_for(account).parse_call_webhook(event.payload)
    sid = update.provider_call_id
    if not sid:
        return WebhookEvent.Outcome.IGNORED.value
    calls = PlacedCall.objects.select_for_update().filter(account=account).order_by()
    call = None
    if update.parent_call_id:
        call = next(iter(calls.filter(agent_call_id=update.parent_call_id)[:1]), None)
    else:
        call = next(iter(calls.filter(agent_call_id=sid)[:1]), None)
        if call is None:
            call = next(iter(calls.filter(person_call_id=sid).exclude(person_call_id="")[:1]), None)
    if call is None:
        return WebhookEvent.Outcome.UNMATCHED.value
    before = {name: getattr(call, name) for name in _HANDLED_FIELDS}
    if update.parent_call_id or (call.person_call_id and call.person_call_id == sid):
        _person_leg(call, update)
    else:
        _agent_leg(call, update)
    changed = [name for name in _HANDLED_FIELDS if getattr(call, name) != before[name]]
    if changed:  # a stale or repeated callback changes nothing and writes nothing
        call.save(update_fields=[*changed, "updated_at"])
    return WebhookEvent.Outcome.PROCESSED.value


# What the callback handlers may change on a call (saved only when changed).
_HANDLED_FIELDS = (
    "person_call_id",
    "stage",
    "agent_event",
    "agent_rank",
    "person_event",
    "person_rank",
    "answered_by",
    "failure_reason",
    "error_code",
    "auto_status",
    "end_reason",
    "answered_at",
    "ended_at",
    "agent_duration_seconds",
    "person_duration_seconds",
    "price",
    "price_source",
    "result_recorded",
    "result_note",
)


def _agent_leg(call: PlacedCall, update: CallUpdate) -> None:
    rank = EVENT_RANK[update.event]
    if rank <= call.agent_rank:
        return  # stale or repeated: never backwards
    call.agent_event, call.agent_rank = update.event.value, rank
    now = timezone.now()
    if update.event in (CallEvent.ANSWERED_HUMAN, CallEvent.ANSWERED_MACHINE):
        _advance(call, Stage.DIALING)
    elif update.event in TERMINAL_EVENTS:
        call.agent_duration_seconds = update.duration_seconds
        if call.person_rank == 0:
            # The person was never dialed: the agent didn't (or couldn't) pick up.
            call.end_reason = (
                "agent_hung_up" if update.event == CallEvent.COMPLETED else "agent_unreachable"
            )
            call.ended_at = call.ended_at or now
            _advance(call, Stage.ENDED)
        _set_price(call)


def _person_leg(call: PlacedCall, update: CallUpdate) -> None:
    if not call.person_call_id:
        call.person_call_id = update.provider_call_id[:64]
    machine = update.event == CallEvent.ANSWERED_MACHINE
    if update.amd or (machine and update.answered_by):
        call.answered_by = update.answered_by[:24]
    if update.amd:
        if machine and call.machine_detection and call.person_rank < 4:
            _hang_up_later(call)
        return
    rank = EVENT_RANK[update.event]
    if rank <= call.person_rank:
        return
    call.person_event, call.person_rank = update.event.value, rank
    now = timezone.now()
    if update.event == CallEvent.QUEUED:
        _advance(call, Stage.DIALING)
    elif update.event == CallEvent.RINGING:
        _advance(call, Stage.RINGING)
    elif update.event in (CallEvent.ANSWERED_HUMAN, CallEvent.ANSWERED_MACHINE):
        call.answered_at = now
        _advance(call, Stage.CONNECTED)
        if machine and call.machine_detection:
            _hang_up_later(call)
    elif update.event in TERMINAL_EVENTS:
        call.person_duration_seconds = update.duration_seconds
        call.ended_at = now
        call.failure_reason = update.reason
        call.error_code = update.error_code[:12]
        call.end_reason = update.event.value
        _advance(call, Stage.ENDED)
        by_machine = call.machine_detection and call.answered_by in MACHINE_ANSWERS
        call.auto_status = auto_status_for(
            update.event, reason=update.reason, answered_by_machine=by_machine
        )
        _set_price(call)
        if call.auto_status:
            _record_auto_result(call)


def _set_price(call: PlacedCall) -> None:
    if call.price_source == PlacedCall.PriceSource.PROVIDER:
        return
    call.price = _price(call, voice_settings_get(organization=call.organization))
    call.price_source = PlacedCall.PriceSource.RATE


def _hang_up_later(call: PlacedCall) -> None:
    """Voicemail detected: end the call (after commit: no provider request under a row lock)."""
    account, sid = call.account, call.person_call_id or call.agent_call_id

    def hang_up() -> None:
        try:
            voice_for(account).hang_up(sid)
        except ProviderError:
            logger.warning("hang up after voicemail failed", extra={"call": sid})

    transaction.on_commit(hang_up)


def _record_auto_result(call: PlacedCall) -> None:
    from mobiliza.calling.models import CallTarget
    from mobiliza.calling.services import ResultConflictError, call_result_record

    target = CallTarget.objects.select_related("operation", "operation__organization").get(
        pk=call.target_id
    )
    if call.agent is None:
        call.result_note = "agent gone"
        return
    try:
        outcome = call_result_record(
            target=target,
            agent=call.agent,
            status_key=call.auto_status,
            idempotency_key=f"call-{call.person_call_id or call.agent_call_id}"[:64],
            notes=_("Detected by the telephony provider."),
            detected_by_provider=True,
        )
    except ResultConflictError:
        call.result_note = "target no longer held by the agent"
        return
    except ValidationError as exc:
        call.result_note = "; ".join(exc.messages)[:200]
        return
    call.result_recorded = True
    call.result_note = outcome.attempt.outcome[:200]


def calls_reprocess_unmatched(*, max_age: dt.timedelta = dt.timedelta(minutes=10)) -> int:
    """Callbacks that arrived before the call id was saved: try them again (oldest first)."""
    from mobiliza.providers.services import webhook_event_process

    since = timezone.now() - max_age
    ids = list(
        WebhookEvent.objects.filter(
            outcome=WebhookEvent.Outcome.UNMATCHED,
            kind=CALL_STATUS_KIND,
            received_at__gte=since,
        )
        .order_by("id")
        .values_list("pk", flat=True)[:500]
    )
    return sum(1 for pk in ids if webhook_event_process(event_id=pk) == "processed")

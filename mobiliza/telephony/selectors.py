"""Reads: a placed call's live state (the agent's screen polls it), spend per operation."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Sum
from django.http import Http404

from mobiliza.telephony.models import AgentPhone, PlacedCall
from mobiliza.telephony.services import operation_voice, voice_settings_get

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership, Organization
    from mobiliza.calling.models import CallOperation


def placed_call_get(*, organization: Organization, agent: Membership, public_id: Any) -> PlacedCall:
    """One of this agent's calls in this organization; 404 otherwise."""
    try:
        return PlacedCall.objects.select_related("account").get(
            organization=organization, agent=agent, public_id=public_id
        )
    except (PlacedCall.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def placed_call_state(call: PlacedCall) -> dict[str, Any]:
    return {
        "id": str(call.public_id),
        "target": str(call.target.public_id) if call.target_id else None,
        "stage": call.stage,
        "stage_label": str(PlacedCall.Stage(call.stage).label),
        "person_event": call.person_event,
        "answered_by": call.answered_by,
        "auto_status": call.auto_status,
        "end_reason": call.end_reason,
        "result_recorded": call.result_recorded,
        "duration_seconds": call.person_duration_seconds,
        "price": str(call.price),
        "over": call.is_over,
    }


def agent_phone_for(*, membership: Membership) -> AgentPhone | None:
    return AgentPhone.objects.filter(membership=membership).first()


def operation_costs(*, operation: CallOperation) -> dict[str, Any]:
    """Spend, calls, billed seconds and the cap of one operation (for the detail page)."""
    agg = PlacedCall.objects.filter(operation=operation).aggregate(
        spend=Sum("price"),
        calls=Count("id"),
        agent_seconds=Sum("agent_duration_seconds"),
        person_seconds=Sum("person_duration_seconds"),
    )
    voice = voice_settings_get(organization=operation.organization)
    cap = operation_voice(operation).spending_cap
    spend = Decimal(agg["spend"] or 0)
    return {
        "spend": spend.quantize(Decimal("0.01")),
        "calls": agg["calls"] or 0,
        "minutes": round(((agg["person_seconds"] or 0) + (agg["agent_seconds"] or 0)) / 60, 1),
        "cap": cap,
        "cap_reached": cap is not None and spend >= cap,
        "currency": voice.currency,
        "rate": voice.rate_per_minute,
    }


def call_screen_context(*, operation: CallOperation, membership: Membership) -> dict[str, Any]:
    """What the calling screen needs for software-placed calls (nothing for own-phone ones)."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from mobiliza.calling.models import CallStatus

    if operation.call_method != "software":
        return {"software": False}
    phone = agent_phone_for(membership=membership)
    back = reverse("calling:call", args=[operation.public_id])
    auto = CallStatus.objects.filter(
        organization_id=operation.organization_id, group=CallStatus.Group.AUTO
    )
    return {
        "software": True,
        "phone_verified": bool(phone and phone.is_verified),
        "phone": phone.e164 if phone else "",
        "phone_url": f"{reverse('telephony:phone')}?next={back}",
        "i18n": {
            "stages": {
                "calling_agent": _("Calling you… pick up your phone"),
                "dialing": _("Dialing the person…"),
                "ringing": _("Ringing…"),
                "connected": _("Connected"),
                "ended": _("Call ended"),
            },
            "auto": {s.key: s.label for s in auto},
            "auto_recorded": _("Recorded automatically:"),
            "agent_unreachable": _("We could not reach your phone. Check it and call again."),
            "choose": _("Choose the result of the conversation."),
            "spending_cap": _(
                "This operation reached its spending cap: no new calls can be placed."
            ),
            "hang_up": _("Hang up"),
            "call": _("Call"),
        },
    }

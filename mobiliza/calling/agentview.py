"""What an agent receives about a target: the one payload the calling page and the API share.

Only fields the operation shows to agents are read (`fieldrules.agent_card`); the person's
internal ids are never included. The phone number is included because the agent must dial it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch

from mobiliza.calling import fieldrules
from mobiliza.calling.models import CallOperation, CallTarget
from mobiliza.people.models import Person

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def target_payload(
    *, target: CallTarget, operation: CallOperation, agent: Membership
) -> dict[str, Any]:
    rules = fieldrules.shown_rules(operation)
    prefetch = fieldrules.prefetches_for(rules)
    person = (
        Person.objects.filter(pk=target.person_id, organization_id=operation.organization_id)
        .prefetch_related(*[Prefetch(p) for p in prefetch])
        .get()
    )
    last = target.last_status
    return {
        "id": str(target.public_id),
        "phone_e164": target.phone_e164,
        "tel_url": f"tel:{target.phone_e164}",
        "script": fieldrules.script_render(
            operation=operation, person=person, agent_user=agent.user, rules=rules
        ),
        "fields": fieldrules.agent_card(operation=operation, person=person, rules=rules),
        "attempts": target.attempts,
        "last_status": last.label if last is not None else "",
        "is_callback": target.priority == CallTarget.Priority.CALLBACK,
        "lease_expires_at": target.lease_expires_at.isoformat()
        if target.lease_expires_at
        else None,
        "time_zone": target.time_zone,
        "survey": survey_payload(operation),
    }


def survey_payload(operation: CallOperation) -> dict[str, Any] | None:
    """The survey version current now: edits take effect for the next person an agent opens."""
    if not operation.survey_id:
        return None
    from mobiliza.surveys.models import Survey

    survey = (
        Survey.objects.filter(pk=operation.survey_id, organization_id=operation.organization_id)
        .select_related("current_version")
        .first()
    )
    if survey is None or survey.current_version is None:
        return None
    return {
        "version": survey.current_version.number,
        "definition": survey.current_version.definition,
    }

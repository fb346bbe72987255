"""What an agent receives about a target: the one payload the calling page and the API share.

Only fields the operation shows to agents are read (`fieldrules.agent_card`); the person's
internal ids are never included. The phone number is included because the agent must dial it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Prefetch

from mobiliza.calling import fieldrules
from mobiliza.calling.config import status_by_id
from mobiliza.calling.models import CallOperation, CallTarget
from mobiliza.people.models import Person

if TYPE_CHECKING:
    from mobiliza.accounts.models import Membership


def target_payload(
    *, target: CallTarget, operation: CallOperation, agent: Membership
) -> dict[str, Any]:
    rules = fieldrules.shown_rules(operation)
    prefetch = fieldrules.prefetches_for(rules)
    person: Person
    if (
        not prefetch
        and CallTarget.person.is_cached(target)
        and target.person.organization_id == operation.organization_id
    ):
        person = target.person  # read by the claim statement itself
    else:
        person = (
            Person.objects.filter(pk=target.person_id, organization_id=operation.organization_id)
            .prefetch_related(*[Prefetch(p) for p in prefetch])
            .get()
        )
    last = (
        status_by_id(organization=operation.organization, pk=target.last_status_id)
        if target.last_status_id
        else None
    )
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


# Survey versions are immutable snapshots: their payload is cached by version id; which version
# is current is read from the survey row each time (one small indexed query).
_VERSIONS: dict[int, dict[str, Any]] = {}


def survey_payload(operation: CallOperation) -> dict[str, Any] | None:
    """The survey version current now: edits take effect for the next person an agent opens."""
    if not operation.survey_id:
        return None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_version_id FROM surveys_survey WHERE id = %s AND organization_id = %s",
                [operation.survey_id, operation.organization_id],
            )
            row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        found = _VERSIONS.get(row[0])
        if found is None:
            from mobiliza.surveys.models import SurveyVersion

            version_id: int = row[0]
            version = (
                SurveyVersion.objects.filter(pk=version_id).values("number", "definition").first()
            )
            if version is None:
                return None
            found = {"version": version["number"], "definition": version["definition"]}
            if len(_VERSIONS) > 1024:
                _VERSIONS.clear()
            _VERSIONS[row[0]] = found
        return found
    return _survey_payload_orm(operation)


def _survey_payload_orm(operation: CallOperation) -> dict[str, Any] | None:
    from mobiliza.surveys.models import Survey

    if operation.survey_id is None:
        return None
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

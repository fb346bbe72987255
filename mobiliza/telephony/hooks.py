"""Registrations with other apps: the providers webhook kind and handler, the dispenser's open
check (spending cap), the tick hook (late callbacks) and the demo seeder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from mobiliza.calling.dispenser import register_open_check
from mobiliza.providers.services import (
    register_tick_hook,
    register_webhook_handler,
    register_webhook_kind,
)
from mobiliza.telephony import services
from mobiliza.web.demo import register_demo_seeder

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

register_webhook_kind(
    kind=services.CALL_STATUS_KIND,
    url_name="telephony_webhooks:call_status",
    identify=services.call_webhook_identify,
)
register_webhook_handler(services.CALL_STATUS_KIND, services.call_webhook_handle)
register_open_check(services.spending_cap_reason)
register_tick_hook(services.calls_reprocess_unmatched)


def _demo(organization: Organization, user: User) -> None:
    """A software-placed demo operation on the simulator (the admin's phone still to verify)."""
    from mobiliza.accounts.models import Membership
    from mobiliza.calling.models import CallOperation
    from mobiliza.calling.services import operation_create, operation_finish, operation_update
    from mobiliza.providers.services import default_account

    membership = Membership.objects.get(organization=organization, user=user)
    default_account(organization=organization)
    source = CallOperation.objects.filter(organization=organization).order_by("id").first()
    operation = operation_create(organization=organization, creator=membership)
    operation_update(
        operation=operation,
        actor=user,
        step=11,
        name=_("Demo phone bank (software calls, simulator)"),
        description=_(
            "The platform rings your phone, then the person; busy lines, no answer and "
            "voicemail are recorded automatically. Runs on the simulator: no real call."
        ),
        script=source.script if source is not None else "Hello {first_name}!",
        call_method="software",
        method_settings={
            "caller_id": "",
            "record_calls": False,
            "machine_detection": True,
            "spending_cap": "25",
        },
    )
    if source is not None and source.survey_id:
        operation_update(operation=operation, actor=user, survey=source.survey)
    operation_finish(operation=operation, actor=user)


register_demo_seeder(_demo, order=320)

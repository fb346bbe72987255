"""The voice callback endpoint: the providers' verify → store raw → dispatch path."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mobiliza.providers.webhooks import receive_webhook
from mobiliza.telephony.services import CALL_STATUS_KIND


@csrf_exempt
@require_POST
def call_status(request: HttpRequest, token: str) -> HttpResponse:
    """Status and answering-machine callbacks of both legs of a placed call."""
    return receive_webhook(request, token, CALL_STATUS_KIND)

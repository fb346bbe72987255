from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _

from mobiliza.core.models import AuditEvent
from mobiliza.core.permissions import Perm
from mobiliza.core.selectors import audit_events
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.web.dashboard import dashboard_cards

AUDIT_PAGE = 50


@org_view()
def home(request: OrgRequest) -> HttpResponse:
    """The dashboard (org_view sends visitors to log in and members of nothing to start one)."""
    cards = dashboard_cards(request.membership)
    return render(request, "web/home.html", {"cards": cards})


@org_view(Perm.AUDIT_VIEW)
def audit_log(request: OrgRequest) -> HttpResponse:
    try:
        before = int(request.GET.get("before", "") or 0) or None
    except ValueError:
        before = None
    filters = {
        "action": request.GET.get("action", ""),
        "object_type": request.GET.get("object_type", "").strip(),
        "actor_email": request.GET.get("actor", "").strip(),
    }
    events = list(
        audit_events(organization=request.organization, before_id=before, **filters)[
            : AUDIT_PAGE + 1
        ]
    )
    has_more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    return render(
        request,
        "web/audit_log.html",
        {
            "events": events,
            "filters": filters,
            "actions": AuditEvent.Action.choices,
            "next_before": events[-1].id if has_more and events else None,
        },
    )


def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest that makes Mobiliza installable on a phone."""
    return JsonResponse(
        {
            "name": "Mobiliza",
            "short_name": "Mobiliza",
            "description": _("Campaign headquarters for volunteers"),
            "start_url": "/",
            "display": "standalone",
            "background_color": "#f6f7fb",
            "theme_color": "#5b21b6",
            "icons": [
                {"src": static("web/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            ],
        },
        content_type="application/manifest+json",
    )


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from the site root so its scope is the whole app."""
    from django.contrib.staticfiles import finders

    path = finders.find("web/sw.js")
    if not path:
        from django.conf import settings

        path = str(settings.STATIC_ROOT / "web" / "sw.js")
    with open(path, encoding="utf-8") as handle:  # noqa: PTH123
        body = handle.read()
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response

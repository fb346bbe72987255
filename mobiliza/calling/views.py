"""Call operation pages: thin views over calling.services and calling.selectors."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from mobiliza.calling import selectors
from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest


@org_view(Perm.AGENT_WORK)
def dashboard(request: OrgRequest) -> HttpResponse:
    rows = selectors.dashboard_rows(
        organization=request.organization, membership=request.membership
    )
    return render(request, "calling/dashboard.html", {"rows": rows})

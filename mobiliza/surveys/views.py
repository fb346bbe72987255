from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view


@org_view(Perm.SURVEYS_MANAGE)
def list_view(request: HttpRequest) -> HttpResponse:  # replaced by the surveys app's real pages
    return render(request, "web/home.html", {"cards": []})

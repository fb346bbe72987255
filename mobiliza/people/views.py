from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view


@org_view(Perm.PEOPLE_VIEW)
def list_view(request: HttpRequest) -> HttpResponse:  # replaced by the people app's real pages
    return render(request, "web/home.html", {"cards": []})

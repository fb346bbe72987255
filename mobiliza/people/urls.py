from django.urls import include, path

from mobiliza.people import views

app_name = "people"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("imports/", include("mobiliza.people.imports.urls")),
]

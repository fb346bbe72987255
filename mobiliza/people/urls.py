from django.urls import path

from mobiliza.people import views

app_name = "people"
urlpatterns = [path("", views.list_view, name="list")]

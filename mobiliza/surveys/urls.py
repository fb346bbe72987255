from django.urls import path

from mobiliza.surveys import views

app_name = "surveys"
urlpatterns = [path("", views.list_view, name="list")]

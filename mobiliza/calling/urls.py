from django.urls import path

from mobiliza.calling import views

app_name = "calling"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]

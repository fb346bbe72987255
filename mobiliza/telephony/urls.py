from django.urls import path

from mobiliza.telephony import views

app_name = "telephony"
urlpatterns = [
    path("phone/", views.phone, name="phone"),
    path("settings/", views.settings_page, name="settings"),
]

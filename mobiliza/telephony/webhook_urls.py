from django.urls import path

from mobiliza.telephony import webhooks

app_name = "telephony_webhooks"
urlpatterns = [
    path("<str:token>/status/", webhooks.call_status, name="call_status"),
]

"""Webhook routes, mounted at /webhooks/. The token names the account; the signature proves it."""

from django.urls import path

from mobiliza.providers import webhooks

app_name = "providers"
urlpatterns = [
    path("sms/<str:token>/status/", webhooks.sms_status, name="sms_status"),
    path("sms/<str:token>/inbound/", webhooks.sms_inbound, name="sms_inbound"),
]

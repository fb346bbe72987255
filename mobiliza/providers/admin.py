from django.contrib import admin

from mobiliza.providers.models import ProviderAccount, SenderNumber, WebhookEvent


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin[ProviderAccount]):
    list_display = ("name", "kind", "organization", "is_default")
    exclude = ("auth_token_encrypted",)


@admin.register(SenderNumber)
class SenderNumberAdmin(admin.ModelAdmin[SenderNumber]):
    list_display = ("e164", "label", "organization", "is_active")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin[WebhookEvent]):
    list_display = ("kind", "provider_id", "outcome", "deliveries", "received_at")
    list_filter = ("kind", "outcome")

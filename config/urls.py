from django.contrib import admin
from django.urls import include, path

from config.api import api
from mobiliza.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("accounts/", include("mobiliza.accounts.urls")),
    path("people/", include("mobiliza.people.urls")),
    path("surveys/", include("mobiliza.surveys.urls")),
    path("calling/", include("mobiliza.calling.urls")),
    path("texting/", include("mobiliza.texting.urls")),
    path("providers/", include("mobiliza.providers.settings_urls")),
    path("telephony/", include("mobiliza.telephony.urls")),
    path("webhooks/voice/", include("mobiliza.telephony.webhook_urls")),
    path("webhooks/", include("mobiliza.providers.urls")),
    path("", include("mobiliza.web.urls")),
]

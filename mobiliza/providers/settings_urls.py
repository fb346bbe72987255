"""Provider settings pages, mounted at /providers/."""

from django.urls import path

from mobiliza.providers import views

app_name = "provider_settings"
urlpatterns = [
    path("", views.settings_page, name="index"),
    path("new/", views.account_create, name="account_create"),
    path("<uuid:provideraccount_id>/", views.account_edit, name="account_edit"),
    path("<uuid:provideraccount_id>/test/", views.account_test, name="account_test"),
    path("<uuid:provideraccount_id>/numbers/", views.number_add, name="number_add"),
    path("numbers/<uuid:sendernumber_id>/toggle/", views.number_toggle, name="number_toggle"),
]

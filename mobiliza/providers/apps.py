from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "mobiliza.providers"
    label = "providers"
    verbose_name = "Providers"

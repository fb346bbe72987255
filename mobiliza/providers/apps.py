from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "mobiliza.providers"
    label = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from mobiliza.providers.webhooks import connect_cache_signals

        connect_cache_signals()

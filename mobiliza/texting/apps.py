from django.apps import AppConfig


class TextingConfig(AppConfig):
    name = "mobiliza.texting"
    label = "texting"
    verbose_name = "Texting"

    def ready(self) -> None:
        # Webhook handlers, the person page panel, the home card and the demo seeder.
        from mobiliza.texting import dashboard, demo, panels, services  # noqa: F401

from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "mobiliza.telephony"
    label = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        # Webhook kind + handler, the claim's spending-cap check, the tick hook, the demo seeder.
        from mobiliza.telephony import hooks  # noqa: F401

from django.apps import AppConfig


class TextingConfig(AppConfig):
    name = "mobiliza.texting"
    label = "texting"
    verbose_name = "Texting"

    def ready(self) -> None:
        # Webhook handlers, the person page panel, the home card and the demo seeder.
        from django.db.models.signals import post_delete, post_save

        from mobiliza.providers.models import SenderNumber
        from mobiliza.texting import dashboard, demo, panels, services  # noqa: F401

        def forget(**kwargs: object) -> None:
            services.send_config_forget()

        # A sender number saved or deleted in this process leaves the send-config cache at once.
        post_save.connect(forget, sender=SenderNumber, weak=False, dispatch_uid="texting-senders")
        post_delete.connect(
            forget, sender=SenderNumber, weak=False, dispatch_uid="texting-senders-del"
        )

from django.apps import AppConfig


class CallingConfig(AppConfig):
    name = "mobiliza.calling"
    label = "calling"
    verbose_name = "Call operations"

    def ready(self) -> None:
        from mobiliza.calling import hooks  # noqa: F401  (dashboard card, demo seeder)

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mobiliza.core"
    label = "core"
    verbose_name = "Core"

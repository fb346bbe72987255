from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "mobiliza.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from mobiliza.people import (
            dashboard,
            demo,  # noqa: F401  (registers the demo people seeder)
        )
        from mobiliza.people.filter_builtins import register_builtin_filters

        register_builtin_filters()
        dashboard.register()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "mobiliza.surveys"
    label = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        from mobiliza.surveys import dashboard, demo, filters, panels

        filters.register()
        panels.register()
        demo.register()
        dashboard.register()

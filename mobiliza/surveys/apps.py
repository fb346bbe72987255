from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "mobiliza.surveys"
    label = "surveys"
    verbose_name = "Surveys"

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "mobiliza.web"
    label = "web"
    verbose_name = "Web"

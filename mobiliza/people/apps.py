from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "mobiliza.people"
    label = "people"
    verbose_name = "People"

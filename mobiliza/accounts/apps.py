from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mobiliza.accounts"
    label = "accounts"
    verbose_name = "Accounts"

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mobiliza.providers.models import ProviderAccount


class AccountForm(forms.Form):
    kind = forms.ChoiceField(label=_("Provider"), choices=ProviderAccount.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    account_sid = forms.CharField(label=_("Account SID"), max_length=64, required=False)
    auth_token = forms.CharField(
        label=_("Auth token"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    messaging_service_sid = forms.CharField(
        label=_("Messaging service SID (optional)"), max_length=64, required=False
    )
    make_default = forms.BooleanField(label=_("Default account"), required=False, initial=True)


class NumberForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=32)
    label = forms.CharField(label=_("Label"), max_length=100, required=False)

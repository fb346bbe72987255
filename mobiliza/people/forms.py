"""Forms of the people pages. They only shape input; services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mobiliza.people.models import CustomField, Person, PersonPhone

PERSON_FORM_FIELDS = [
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "birth_date",
    "birth_year",
    "gender",
    "language",
    "nationality",
    "street",
    "postcode",
    "city",
    "region",
    "country",
    "latitude",
    "longitude",
    "support_level",
    "donations_this_year",
    "consent_phone",
    "consent_sms",
    "consent_email",
    "do_not_contact",
    "notes",
    "external_id",
    "voter_id",
    "registration_status",
    "polling_place",
    "precinct",
]

CONSENT_CHOICES = [("", _("Not asked")), ("true", _("Given")), ("false", _("Refused"))]


class PersonForm(forms.ModelForm[Person]):
    class Meta:
        model = Person
        fields = PERSON_FORM_FIELDS
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 4}),
            "support_level": forms.Select(
                choices=[("", "—"), *((str(i), str(i)) for i in range(1, 6))]
            ),
        }

    def __init__(self, *args: Any, custom_fields: list[CustomField] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in ("consent_phone", "consent_sms", "consent_email"):
            self.fields[name] = forms.TypedChoiceField(
                label=Person._meta.get_field(name).verbose_name,  # type: ignore[union-attr]
                choices=CONSENT_CHOICES,
                required=False,
                coerce=lambda v: {"true": True, "false": False}.get(v),
                empty_value=None,
            )
            if self.instance and self.instance.pk:
                value = getattr(self.instance, name)
                self.initial[name] = "" if value is None else ("true" if value else "false")
        self.fields["country"].help_text = _("Two letters, e.g. PT")
        self.fields["donations_this_year"].required = False
        self.custom_fields = custom_fields or []
        values = (self.instance.custom_fields or {}) if self.instance else {}
        for cf in self.custom_fields:
            name = f"custom.{cf.key}"
            field: forms.Field
            if cf.type == CustomField.Type.NUMBER:
                field = forms.CharField(label=cf.label, required=False)
            elif cf.type == CustomField.Type.DATE:
                field = forms.CharField(
                    label=cf.label, required=False, widget=forms.DateInput(attrs={"type": "date"})
                )
            elif cf.type == CustomField.Type.CHOICE:
                field = forms.ChoiceField(
                    label=cf.label,
                    required=False,
                    choices=[("", "—"), *((str(c), str(c)) for c in cf.choices or [])],
                )
            elif cf.type == CustomField.Type.BOOLEAN:
                field = forms.ChoiceField(
                    label=cf.label,
                    required=False,
                    choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))],
                )
            else:
                field = forms.CharField(label=cf.label, required=False, max_length=2000)
            self.fields[name] = field
            value = values.get(cf.key)
            if isinstance(value, bool):
                value = "yes" if value else "no"
            self.initial[name] = "" if value is None else value

    def _post_clean(self) -> None:
        # The service validates and writes; don't let the ModelForm touch the instance.
        pass

    def column_values(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name)
            for name in PERSON_FORM_FIELDS
            if name in self.cleaned_data
        }

    def custom_values(self) -> dict[str, Any]:
        return {cf.key: self.cleaned_data.get(f"custom.{cf.key}") for cf in self.custom_fields}

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[f"custom.{cf.key}"] for cf in self.custom_fields]

    def grouped(self) -> list[tuple[str, list[forms.BoundField]]]:
        groups = [
            (_("Identity"), ["first_name", "middle_name", "last_name", "birth_date", "birth_year",
                             "gender", "language", "nationality"]),
            (_("Contact"), ["email"]),
            (_("Address"), ["street", "postcode", "city", "region", "country", "latitude",
                            "longitude"]),
            (_("Campaign"), ["support_level", "donations_this_year", "notes"]),
            (_("Consent"), ["consent_phone", "consent_sms", "consent_email", "do_not_contact"]),
            (_("Electoral register"), ["external_id", "voter_id", "registration_status",
                                       "polling_place", "precinct"]),
        ]  # fmt: skip
        return [(str(title), [self[name] for name in names]) for title, names in groups]


class PhoneForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=64)
    kind = forms.ChoiceField(
        label=_("Type"), choices=[("", _("Detect")), *PersonPhone.Kind.choices], required=False
    )


class CustomFieldForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=120)
    type = forms.ChoiceField(label=_("Type"), choices=CustomField.Type.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        help_text=_("For a choice field: the choices, separated by commas."),
    )

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from mobiliza.core.forms import form_add_service_errors


class _Form(forms.Form):
    name = forms.CharField()


def _bound() -> _Form:
    form = _Form({"name": "x"})
    assert form.is_valid()
    return form


def test_field_errors_land_on_their_field_and_unknown_fields_on_the_form() -> None:
    form = _bound()
    form_add_service_errors(
        form, ValidationError({"name": "Taken.", "secret_column": "Not allowed."})
    )
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Not allowed."]


def test_a_plain_message_becomes_a_form_error() -> None:
    form = _bound()
    form_add_service_errors(form, ValidationError(["First problem.", "Second problem."]))
    assert form.non_field_errors() == ["First problem.", "Second problem."]

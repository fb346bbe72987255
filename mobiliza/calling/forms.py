"""Wizard step forms. They validate input; the views hand cleaned values to the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobiliza.calling.models import CallOperation
from mobiliza.people.models import PersonList

DAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class VersionForm(forms.Form):
    version = forms.ChoiceField(
        label=_("Version"), choices=CallOperation.Version.choices, widget=forms.RadioSelect
    )


class SourceForm(forms.Form):
    source = forms.ChoiceField(
        label=_("Source of the phone numbers"), choices=PersonList.choices, widget=forms.RadioSelect
    )


class DetailsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    survey = forms.ChoiceField(label=_("Survey"), required=False)
    key_question = forms.ChoiceField(
        label=_("Key question"),
        required=False,
        help_text=_(
            "The question your agents ask everyone they reach; the dashboard counts its answers."
        ),
    )
    starts_on = forms.DateField(
        label=_("Start date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_at = forms.DateTimeField(
        label=_("End date and time"),
        help_text=_("After this moment no more calls can be made."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    window_start = forms.TimeField(
        label=_("Calls from"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    window_end = forms.TimeField(
        label=_("Calls until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    days_of_week = forms.TypedMultipleChoiceField(
        label=_("Days of the week"),
        choices=DAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    script = forms.CharField(
        label=_("Call script"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": _("Start writing…")}),
    )

    def __init__(
        self,
        *args: Any,
        surveys: list[tuple[str, str]] = (),  # type: ignore[assignment]
        questions: list[tuple[str, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["survey"].choices = [("", _("— No survey —")), *surveys]  # type: ignore[attr-defined]
        self.fields["key_question"].choices = [("", _("— None —")), *questions]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start >= end:
            self.add_error("window_end", _("The calling window must end after it starts."))
        starts_on, ends_at = data.get("starts_on"), data.get("ends_at")
        if starts_on and ends_at and timezone.localtime(ends_at).date() < starts_on:
            self.add_error("ends_at", _("The end date is before the start date."))
        return data


class MethodForm(forms.Form):
    call_method = forms.ChoiceField(
        label=_("How calls are placed"),
        choices=CallOperation.Method.choices,
        widget=forms.RadioSelect,
    )
    caller_id = forms.CharField(
        label=_("Caller id shown to the people called (software calls)"),
        required=False,
        max_length=20,
    )
    record_calls = forms.BooleanField(label=_("Record calls (software calls)"), required=False)
    machine_detection = forms.BooleanField(
        label=_("Detect answering machines (software calls)"),
        required=False,
        help_text=_(
            "Voicemail is recorded automatically and the call ends before the agent is connected."
        ),
    )
    spending_cap = forms.DecimalField(
        label=_("Spending cap for this operation (software calls)"),
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text=_("Once the calls cost this much, no new call is placed. Empty: no cap."),
    )

    def clean(self) -> dict[str, Any]:
        from mobiliza.telephony.services import method_settings_clean

        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["method_settings"] = method_settings_clean(
                caller_id=data.get("caller_id") or "",
                record_calls=bool(data.get("record_calls")),
                machine_detection=bool(data.get("machine_detection")),
                spending_cap=data.get("spending_cap"),
                region="",
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data

    def method_settings(self) -> dict[str, Any]:
        """The validated software-call settings, as `CallOperation.method_settings` stores them."""
        return dict(self.cleaned_data.get("method_settings") or {})

    @staticmethod
    def initial_for(operation: CallOperation) -> dict[str, Any]:
        stored = operation.method_settings or {}
        return {
            "call_method": operation.call_method,
            "caller_id": stored.get("caller_id", ""),
            "record_calls": stored.get("record_calls", False),
            "machine_detection": stored.get("machine_detection", True),
            "spending_cap": stored.get("spending_cap") or None,
        }


class SurveyPickForm(forms.Form):
    survey = forms.ChoiceField(label=_("Survey"), required=False)
    key_question = forms.ChoiceField(label=_("Key question"), required=False)

    def __init__(
        self,
        *args: Any,
        surveys: list[tuple[str, str]] = (),  # type: ignore[assignment]
        questions: list[tuple[str, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["survey"].choices = [("", _("— No survey —")), *surveys]  # type: ignore[attr-defined]
        self.fields["key_question"].choices = [("", _("— None —")), *questions]  # type: ignore[attr-defined]


class ContactListForm(forms.Form):
    segment = forms.ChoiceField(label=_("Contact list"), required=False)

    def __init__(
        self,
        *args: Any,
        segments: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["segment"]
        field.choices = [("", _("Everyone in the list with a phone")), *(segments or [])]


def default_ends_at(starts_on: dt.date) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(starts_on + dt.timedelta(days=30), dt.time(23, 59))
    )

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mobiliza.texting.models import Conversation, Message


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(
        label=_("Description for texters"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    segment: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("List (segment)"),
        queryset=None,
        required=False,
    )
    first_message = forms.CharField(
        label=_("First message"),
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": "1"}),
        help_text=_(
            "Merge fields: {first_name}, {last_name}, {city}, {agent_first_name} and custom fields."
        ),
    )
    opt_out_sentence = forms.CharField(
        label=_("Opt-out sentence (optional)"), max_length=160, required=False
    )
    survey: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Survey"), queryset=None, required=False
    )
    starts_at = forms.DateTimeField(
        label=_("Starts"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    ends_at = forms.DateTimeField(
        label=_("Ends"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    hours_start = forms.TimeField(
        label=_("Texting from (person's local time)"),
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    hours_end = forms.TimeField(
        label=_("Texting until (person's local time)"),
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    max_per_texter = forms.IntegerField(
        label=_("Most unsent contacts a texter may hold"), min_value=1, max_value=100_000
    )
    batch_size = forms.IntegerField(label=_("Contacts per request"), min_value=1, max_value=10_000)
    sender_numbers: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        label=_("Sender numbers (empty: the organization's)"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from mobiliza.people.models import Segment
        from mobiliza.providers.models import SenderNumber
        from mobiliza.surveys.models import Survey

        self.fields["segment"].queryset = Segment.objects.filter(organization=organization)  # type: ignore[attr-defined]
        self.fields["survey"].queryset = Survey.objects.filter(  # type: ignore[attr-defined]
            organization=organization, is_template=False, archived_at__isnull=True
        )
        self.fields["sender_numbers"].queryset = SenderNumber.objects.filter(  # type: ignore[attr-defined]
            organization=organization, is_active=True
        )


class CannedForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 2}))
    question_key = forms.CharField(label=_("Records the answer to (question key)"), required=False)
    answer_value = forms.CharField(label=_("Answer"), required=False)
    tag_name = forms.CharField(label=_("Adds the tag"), required=False, max_length=80)


class SupervisionFilter(forms.Form):
    campaign = forms.UUIDField(required=False)
    texter = forms.UUIDField(required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status")), *Conversation.Status.choices],
        required=False,
    )
    delivery = forms.ChoiceField(
        label=_("Delivery"),
        choices=[
            ("", _("Any delivery")),
            *[c for c in Message.Status.choices if c[0] != "received"],
        ],
        required=False,
    )
    tag = forms.CharField(label=_("Tag"), required=False)
    escalated = forms.BooleanField(label=_("Escalated only"), required=False)

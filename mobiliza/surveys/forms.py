"""Forms of the survey pages. Parsing only: the rules live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from mobiliza.surveys.models import BranchKind, Channel, ConsentChannel, QuestionType


class SurveyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    public_intro = forms.CharField(
        label=_("Introduction on the public form"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class QuestionForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=QuestionType.choices)
    label = forms.CharField(label=_("Question"), max_length=500)
    guidance = forms.CharField(
        label=_("Guidance for the caller"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown to the agent only, not read out."),
    )
    required = forms.BooleanField(label=_("An answer is required"), required=False)


class NewQuestionForm(QuestionForm):
    choices = forms.CharField(
        label=_("Choices, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For single and multiple choice questions. Branches and effects come next."),
    )

    def choice_labels(self) -> list[str]:
        text: str = self.cleaned_data.get("choices") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ResultsFilterForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All channels")), *Channel.choices]
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class PublicContactForm(forms.Form):
    """The contact part of the public form. `website` is the honeypot (hidden from people)."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=32, required=False)
    consent_email = forms.BooleanField(label=_("You may contact me by email"), required=False)
    consent_sms = forms.BooleanField(label=_("You may contact me by text message"), required=False)
    consent_phone = forms.BooleanField(label=_("You may call me"), required=False)
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email") and not (data.get("phone") or "").strip():
            raise forms.ValidationError(_("Give an email address or a phone number."))
        return data


BRANCH_CHOICES = BranchKind.choices
CONSENT_CHOICES = [("", _("No consent change")), *ConsentChannel.choices]
SUPPORT_CHOICES = [("", _("No change")), *[(str(n), str(n)) for n in range(1, 6)]]

CHOICE_FIELDS = (
    "id",
    "order",
    "key",
    "label",
    "branch",
    "branch_to",
    "support_level",
    "tag_add",
    "tag_remove",
    "do_not_contact",
    "consent_channel",
    "consent_granted",
    "remove",
)
BOOLEAN_FIELDS = {"do_not_contact", "remove"}


def choice_rows_from_post(data: Any, count: int) -> list[dict[str, Any]]:
    """The choice rows of the question editor (`choice-<i>-<field>`), as service specs."""
    rows = []
    for i in range(count):
        prefix = f"choice-{i}-"
        row: dict[str, Any] = {}
        for name in CHOICE_FIELDS:
            if name in BOOLEAN_FIELDS:
                row[name] = data.get(prefix + name) == "on"
            elif name == "consent_granted":
                row[name] = data.get(prefix + name, "yes") != "no"
            else:
                row[name] = str(data.get(prefix + name, "")).strip()
        rows.append(row)

    def position(item: tuple[int, dict[str, Any]]) -> tuple[float, int]:
        index, row = item
        try:
            return (float(row["order"]), index)
        except ValueError:
            return (float(index + 1), index)

    # The "order" inputs let the editor reorder choices; ties keep the page's order.
    return [row for _i, row in sorted(enumerate(rows), key=position)]

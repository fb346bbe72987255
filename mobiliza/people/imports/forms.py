"""Forms of the import pages: the upload, and the column mapping built from the file's header."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mobiliza.people.imports.presets import (
    CUSTOM_PREFIX,
    MATCH_KEYS,
    PERSON_TARGETS,
    VOTE_TARGETS,
    Preset,
    custom_key,
)
from mobiliza.people.models import CustomField, ImportJob, PersonList

ENCODING_CHOICES = [
    ("", _("Detect")),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252 (cp1252)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
]
DELIMITER_CHOICES = [
    ("", _("Detect")),
    (",", _("Comma ,")),
    (";", _("Semicolon ;")),
    ("\t", _("Tab")),
    ("|", _("Pipe |")),
]
MATCH_CHOICES = [
    ("external_id", _("External id")),
    ("phone", _("Phone")),
    ("email", _("Email")),
]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or TSV with a header row, UTF-8 or latin-1."),
        allow_empty_file=True,  # the import says "The file is empty." like the API does
    )
    person_list = forms.ChoiceField(
        label=_("Import into"),
        choices=PersonList.choices,
        initial=PersonList.CONTACTS,
        widget=forms.RadioSelect,
    )
    preset = forms.ChoiceField(label=_("Mapping preset"), required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITER_CHOICES, required=False)

    def __init__(self, *args: Any, kind: str, presets: list[Preset], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        preset_field = self.fields["preset"]
        assert isinstance(preset_field, forms.ChoiceField)
        preset_field.choices = [("", _("None: map the columns myself"))] + [
            (p.name, p.label) for p in presets
        ]
        if kind == ImportJob.Kind.VOTING_HISTORY:
            del self.fields["person_list"]
            preset_field.initial = "ncvhis"


def target_choices(
    *, kind: str, column: str, custom_fields: list[CustomField], current: str = ""
) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("— ignore —"))]
    targets = PERSON_TARGETS if kind == ImportJob.Kind.PEOPLE else VOTE_TARGETS
    choices += [(key, label) for key, (label, _kind) in targets.items()]
    if kind == ImportJob.Kind.PEOPLE:
        keys = set()
        for field in custom_fields:
            keys.add(field.key)
            choices.append((CUSTOM_PREFIX + field.key, _("Custom field: %s") % field.label))
        own = custom_key(column)
        if own not in keys:
            choices.append((CUSTOM_PREFIX + own, _("New custom field “%s”") % column))
            keys.add(own)
        if current.startswith(CUSTOM_PREFIX) and current[len(CUSTOM_PREFIX) :] not in keys:
            choices.append((current, _("New custom field “%s”") % current[len(CUSTOM_PREFIX) :]))
    return choices


class MappingForm(forms.Form):
    """One select per column of the file, then the matching options."""

    person_list = forms.ChoiceField(
        label=_("Import into"), choices=PersonList.choices, widget=forms.RadioSelect
    )
    match = forms.MultipleChoiceField(
        label=_("Find people already stored by"),
        choices=MATCH_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("In this order: external id, then phone, then email."),
    )
    on_match = forms.ChoiceField(
        label=_("When someone is already stored"),
        choices=[("update", _("Update them")), ("skip", _("Skip them"))],
        widget=forms.RadioSelect,
    )
    preset_name = forms.CharField(
        label=_("Save this mapping as a preset named"), required=False, max_length=100
    )

    def __init__(
        self,
        *args: Any,
        job: ImportJob,
        mapping: dict[str, str],
        custom_fields: list[CustomField],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        self.header: list[str] = list((job.options or {}).get("header", []))
        preview: list[list[str]] = list((job.options or {}).get("preview", []))
        self.columns: list[tuple[str, forms.BoundField, list[str]]] = []
        for index, column in enumerate(self.header):
            name = f"col_{index}"
            current = mapping.get(column, "")
            self.fields[name] = forms.ChoiceField(
                label=column,
                required=False,
                initial=current,
                choices=target_choices(
                    kind=job.kind, column=column, custom_fields=custom_fields, current=current
                ),
            )
            samples = [row[index] for row in preview if index < len(row) and row[index]][:3]
            self.columns.append((column, self[name], samples))
        opts = job.options or {}
        self.fields["person_list"].initial = job.list
        self.fields["match"].initial = opts.get("match", list(MATCH_KEYS))
        self.fields["on_match"].initial = opts.get("on_match", "update")
        if job.kind != ImportJob.Kind.PEOPLE:
            for name in ("person_list", "match", "on_match"):
                del self.fields[name]

    def mapping(self) -> dict[str, str]:
        return {
            column: self.cleaned_data.get(f"col_{index}") or ""
            for index, column in enumerate(self.header)
        }

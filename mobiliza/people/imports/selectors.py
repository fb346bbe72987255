"""Reads about imports. Every selector takes the organization."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from mobiliza.people.imports.presets import SHIPPED_PRESETS, Preset
from mobiliza.people.models import ImportJob, MappingPreset

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization


def import_jobs(*, organization: Organization, kind: str | None = None) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.filter(organization=organization).select_related("created_by")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-id")


def import_job_get(*, organization: Organization, public_id: uuid.UUID | str) -> ImportJob:
    """The job of this organization with this public id, else 404."""
    return get_object_or_404(ImportJob, organization=organization, public_id=public_id)


def mapping_presets(*, organization: Organization, kind: str | None = None) -> list[Preset]:
    """Shipped presets first, then the organization's saved ones."""
    presets = [p for p in SHIPPED_PRESETS.values() if kind is None or p.kind == kind]
    for saved in MappingPreset.objects.filter(organization=organization).order_by("name"):
        saved_kind = (saved.options or {}).get("kind", ImportJob.Kind.PEOPLE)
        if kind is None or saved_kind == kind:
            presets.append(
                Preset(
                    name=saved.name,
                    label=saved.name,
                    kind=saved_kind,
                    person_list=saved.list,
                    mapping=dict(saved.mapping),
                )
            )
    return presets


def mapping_preset_get(*, organization: Organization, public_id: uuid.UUID | str) -> MappingPreset:
    return get_object_or_404(MappingPreset, organization=organization, public_id=public_id)


def saved_presets(*, organization: Organization) -> QuerySet[MappingPreset]:
    return MappingPreset.objects.filter(organization=organization).order_by("name")

"""Imports API: upload a file with its options (it starts right away), follow its status and
counts, download the error report, list jobs; voting history; mapping presets."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from mobiliza.core.api import api_org, unprocessable
from mobiliza.core.permissions import Perm
from mobiliza.core.types import OrgRequest
from mobiliza.people.imports import selectors, services
from mobiliza.people.models import ImportJob

router = Router(tags=["imports"])


class ImportJobOut(Schema):
    id: uuid.UUID
    kind: str
    list: str
    status: str
    phase: str
    dry_run: bool
    file_name: str
    encoding: str
    delimiter: str
    preset: str
    mapping: dict[str, str]
    options: dict[str, Any]
    processed_rows: int
    total_rows: int | None
    counts: dict[str, Any]
    error_message: str
    error_report_url: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PresetOut(Schema):
    id: uuid.UUID | None
    name: str
    label: str
    kind: str
    list: str
    mapping: dict[str, str]
    shipped: bool


class PresetIn(Schema):
    name: str
    kind: str = ImportJob.Kind.PEOPLE
    list: str = "contacts"
    mapping: dict[str, str]
    options: dict[str, Any] = {}


def _out(job: ImportJob) -> ImportJobOut:
    options = {
        k: v
        for k, v in (job.options or {}).items()
        if k in {"match", "on_match", "constants", "header", "date_format", "timings"}
    }
    return ImportJobOut(
        id=job.public_id,
        kind=job.kind,
        list=job.list,
        status=job.status,
        phase=job.phase,
        dry_run=job.dry_run,
        file_name=job.original_name,
        encoding=job.encoding,
        delimiter=job.delimiter,
        preset=job.preset,
        mapping=job.mapping or {},
        options=options,
        processed_rows=job.processed_rows,
        total_rows=job.total_rows,
        counts=job.counts or {},
        error_message=job.error_message,
        error_report_url=(f"/api/v1/imports/{job.public_id}/errors" if job.error_report else None),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _json_field(raw: str, name: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise HttpError(422, _("“%(name)s” is not valid JSON.") % {"name": name}) from exc


def _create(
    request: OrgRequest,
    *,
    kind: str,
    file: UploadedFile,
    person_list: str,
    preset: str,
    encoding: str,
    delimiter: str,
    mapping: str,
    match: str,
    on_match: str,
    dry_run: bool,
) -> ImportJob:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    parsed_mapping = _json_field(mapping, "mapping")
    if parsed_mapping is not None and not (
        isinstance(parsed_mapping, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in parsed_mapping.items())
    ):
        raise HttpError(422, _("“mapping” must be an object of column name to target."))
    try:
        job = services.import_job_create(
            organization=organization,
            actor=request.user,
            kind=kind,
            person_list=person_list,
            upload=file,
            preset=preset,
            encoding=encoding,
            delimiter=delimiter,
        )
        services.import_job_configure(
            job=job,
            mapping=parsed_mapping,
            match=[m.strip() for m in match.split(",") if m.strip()] if match else None,
            on_match=on_match or None,
            dry_run=dry_run,
        )
        services.import_job_start(job=job)
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    job.refresh_from_db()
    return job


@router.post(
    "/imports",
    response={201: ImportJobOut},
    summary="Upload a people file and start importing it (a dry run with dry_run=true)",
)
def import_create(
    request: OrgRequest,
    file: File[UploadedFile],
    list: Form[str] = "contacts",
    preset: Form[str] = "",
    encoding: Form[str] = "",
    delimiter: Form[str] = "",
    mapping: Form[str] = "",
    match: Form[str] = "",
    on_match: Form[str] = "",
    dry_run: Form[bool] = False,
) -> Status:
    """Multipart form. `mapping` is a JSON object {column: target}; without it the preset's
    (or a guess from the column names). `match` is e.g. "external_id,phone,email"; `on_match`
    "update" or "skip". Poll GET /imports/{id} for the progress."""
    job = _create(
        request,
        kind=ImportJob.Kind.PEOPLE,
        file=file,
        person_list=list,
        preset=preset,
        encoding=encoding,
        delimiter=delimiter,
        mapping=mapping,
        match=match,
        on_match=on_match,
        dry_run=dry_run,
    )
    return Status(201, _out(job))


@router.post(
    "/imports/voting-history",
    response={201: ImportJobOut},
    summary="Upload a voting history file (ncvhis layout by default) and import it",
)
def import_votes_create(
    request: OrgRequest,
    file: File[UploadedFile],
    preset: Form[str] = "ncvhis",
    encoding: Form[str] = "",
    delimiter: Form[str] = "",
    mapping: Form[str] = "",
    dry_run: Form[bool] = False,
) -> Status:
    job = _create(
        request,
        kind=ImportJob.Kind.VOTING_HISTORY,
        file=file,
        person_list="electors",
        preset=preset,
        encoding=encoding,
        delimiter=delimiter,
        mapping=mapping,
        match="",
        on_match="",
        dry_run=dry_run,
    )
    return Status(201, _out(job))


@router.get("/imports", response=list[ImportJobOut], summary="Recent imports, newest first")
def import_list(
    request: OrgRequest, kind: str = "", limit: int = 50, offset: int = 0
) -> list[ImportJobOut]:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    limit = max(1, min(limit, 200))
    offset = max(0, offset)
    jobs = selectors.import_jobs(organization=organization, kind=kind or None)
    return [_out(j) for j in jobs[offset : offset + limit]]


@router.get("/imports/presets", response=list[PresetOut], summary="Shipped and saved presets")
def preset_list(request: OrgRequest) -> list[PresetOut]:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    saved = {p.name: p.public_id for p in selectors.saved_presets(organization=organization)}
    return [
        PresetOut(
            id=saved.get(p.name),
            name=p.name,
            label=str(p.label),
            kind=p.kind,
            list=p.person_list,
            mapping=p.mapping,
            shipped=p.name not in saved,
        )
        for p in selectors.mapping_presets(organization=organization)
    ]


@router.post("/imports/presets", response={201: PresetOut}, summary="Save a mapping preset")
def preset_save(request: OrgRequest, payload: PresetIn) -> Status:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    try:
        preset = services.mapping_preset_save(
            organization=organization,
            actor=request.user,
            name=payload.name,
            person_list=payload.list,
            mapping=payload.mapping,
            options=payload.options,
            kind=payload.kind,
        )
    except ValidationError as exc:
        raise unprocessable(exc) from exc
    return Status(
        201,
        PresetOut(
            id=preset.public_id,
            name=preset.name,
            label=preset.name,
            kind=payload.kind,
            list=preset.list,
            mapping=preset.mapping,
            shipped=False,
        ),
    )


@router.delete(
    "/imports/presets/{mappingpreset_id}", response={204: None}, summary="Delete a saved preset"
)
def preset_delete(request: OrgRequest, mappingpreset_id: uuid.UUID) -> Status:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    preset = selectors.mapping_preset_get(organization=organization, public_id=mappingpreset_id)
    services.mapping_preset_delete(preset=preset, actor=request.user)
    return Status(204, None)


@router.get("/imports/{importjob_id}", response=ImportJobOut, summary="Status and counts")
def import_get(request: OrgRequest, importjob_id: uuid.UUID) -> ImportJobOut:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    return _out(selectors.import_job_get(organization=organization, public_id=importjob_id))


@router.get(
    "/imports/{importjob_id}/errors",
    summary="The per-row error report (CSV: row, column, reason)",
    response={200: None},
)
def import_errors(request: OrgRequest, importjob_id: uuid.UUID) -> FileResponse:
    organization = api_org(request, Perm.PEOPLE_IMPORT)
    job = selectors.import_job_get(organization=organization, public_id=importjob_id)
    if not job.error_report:
        raise HttpError(404, _("This import has no error report."))
    return FileResponse(
        job.error_report.open("rb"),
        as_attachment=True,
        filename=f"{job.public_id}-errors.csv",
        content_type="text/csv",
    )

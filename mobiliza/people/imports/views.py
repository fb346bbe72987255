"""Import pages: upload, map the columns, run (dry or for real), watch the progress, download
the error report. Thin: forms, services and selectors do the work."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mobiliza.core.permissions import Perm
from mobiliza.core.tenancy import org_view
from mobiliza.core.types import OrgRequest
from mobiliza.people.imports import selectors, services
from mobiliza.people.imports.engine import summary_line
from mobiliza.people.imports.forms import MappingForm, UploadForm
from mobiliza.people.models import CustomField, ImportJob


@org_view(Perm.PEOPLE_IMPORT)
def import_list(request: OrgRequest) -> HttpResponse:
    jobs = list(selectors.import_jobs(organization=request.organization)[:50])
    return render(
        request,
        "people/imports/list.html",
        {
            "jobs": jobs,
            "saved_presets": list(selectors.saved_presets(organization=request.organization)),
        },
    )


def _new(request: OrgRequest, kind: str) -> HttpResponse:
    presets = selectors.mapping_presets(organization=request.organization, kind=kind)
    form = UploadForm(request.POST or None, request.FILES or None, kind=kind, presets=presets)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(
                organization=request.organization,
                actor=request.user,
                kind=kind,
                person_list=form.cleaned_data.get("person_list") or "electors",
                upload=form.cleaned_data["file"],
                preset=form.cleaned_data["preset"],
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
        else:
            return redirect("people:import_detail", importjob_id=job.public_id)
    return render(request, "people/imports/new.html", {"form": form, "kind": kind})


@org_view(Perm.PEOPLE_IMPORT)
def import_new(request: OrgRequest) -> HttpResponse:
    return _new(request, ImportJob.Kind.PEOPLE)


@org_view(Perm.PEOPLE_IMPORT)
def import_new_votes(request: OrgRequest) -> HttpResponse:
    return _new(request, ImportJob.Kind.VOTING_HISTORY)


@org_view(Perm.PEOPLE_IMPORT)
def import_detail(request: OrgRequest, importjob_id: uuid.UUID) -> HttpResponse:
    job = selectors.import_job_get(organization=request.organization, public_id=importjob_id)
    if not services.import_job_configurable(job):
        return render(request, "people/imports/job.html", _progress_context(job))
    header = list((job.options or {}).get("header", []))
    mapping = dict(job.mapping or {})
    custom_fields = list(CustomField.objects.filter(organization=request.organization))
    form = MappingForm(request.POST or None, job=job, mapping=mapping, custom_fields=custom_fields)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.import_job_configure(
                job=job,
                mapping=form.mapping(),
                match=data.get("match") if job.kind == ImportJob.Kind.PEOPLE else None,
                on_match=data.get("on_match") or None,
                person_list=data.get("person_list") or None,
                dry_run="dry_run" in request.POST,
            )
            if data.get("preset_name"):
                services.mapping_preset_save(
                    organization=request.organization,
                    actor=request.user,
                    name=data["preset_name"],
                    person_list=job.list,
                    mapping=job.mapping,
                    options=job.options,
                    kind=job.kind,
                )
                messages.success(
                    request, _("Preset “%(name)s” saved.") % {"name": data["preset_name"]}
                )
            services.import_job_start(job=job)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return redirect("people:import_detail", importjob_id=job.public_id)
    presets = selectors.mapping_presets(organization=request.organization, kind=job.kind)
    return render(
        request,
        "people/imports/job.html",
        {
            "job": job,
            "form": form,
            "presets": presets,
            "chosen_preset": job.preset,
            "preview_header": header,
            "preview_rows": (job.options or {}).get("preview", []),
        },
    )


@org_view(Perm.PEOPLE_IMPORT)
@require_POST
def import_apply_preset(request: OrgRequest, importjob_id: uuid.UUID) -> HttpResponse:
    """Step 2's preset menu: the whole preset applied to the job (its mapping, and its constant
    values, matching keys and list, as when it is chosen with the upload)."""
    job = selectors.import_job_get(organization=request.organization, public_id=importjob_id)
    try:
        services.import_job_apply_preset(job=job, name=request.POST.get("preset", ""))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("people:import_detail", importjob_id=job.public_id)


def _progress_context(job: ImportJob) -> dict[str, object]:
    running = job.status in {ImportJob.Status.PENDING, ImportJob.Status.RUNNING}
    percent = 0
    if job.status == ImportJob.Status.DONE:
        percent = 100
    elif job.total_rows:
        percent = min(99, job.processed_rows * 100 // max(job.total_rows, 1))
    counts = job.counts or {}
    return {
        "job": job,
        "running": running,
        "percent": percent,
        "counts": counts,
        "summary": summary_line(counts) if counts else "",
    }


@org_view(Perm.PEOPLE_IMPORT)
def import_progress(request: OrgRequest, importjob_id: uuid.UUID) -> HttpResponse:
    """The progress panel alone, polled by htmx while the job runs."""
    job = selectors.import_job_get(organization=request.organization, public_id=importjob_id)
    return render(request, "people/imports/job.html#progress", _progress_context(job))


@org_view(Perm.PEOPLE_IMPORT)
@require_POST
def import_run_for_real(request: OrgRequest, importjob_id: uuid.UUID) -> HttpResponse:
    """After a dry run: run the same file and mapping for real."""
    job = selectors.import_job_get(organization=request.organization, public_id=importjob_id)
    if not (job.dry_run and job.status == ImportJob.Status.DONE):
        messages.error(request, _("Only a finished dry run can be run for real."))
        return redirect("people:import_detail", importjob_id=job.public_id)
    try:
        new = services.import_job_copy_for_real(job=job, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("people:import_detail", importjob_id=job.public_id)
    try:
        services.import_job_start(job=new)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("people:import_detail", importjob_id=new.public_id)


@org_view(Perm.PEOPLE_IMPORT)
def import_errors(request: OrgRequest, importjob_id: uuid.UUID) -> HttpResponse:
    job = selectors.import_job_get(organization=request.organization, public_id=importjob_id)
    if not job.error_report:
        raise Http404(_("This import has no error report."))
    name = f"{Path(job.original_name).stem or 'import'}-errors.csv"
    response = FileResponse(
        job.error_report.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
    )
    return cast(HttpResponse, response)  # a streaming response: org_view only passes it on


@org_view(Perm.PEOPLE_IMPORT)
@require_POST
def preset_delete(request: OrgRequest, mappingpreset_id: uuid.UUID) -> HttpResponse:
    preset = selectors.mapping_preset_get(
        organization=request.organization, public_id=mappingpreset_id
    )
    services.mapping_preset_delete(preset=preset, actor=request.user)
    messages.success(request, _("Preset deleted."))
    return redirect(reverse("people:import_list"))

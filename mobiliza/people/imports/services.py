"""Import jobs: create (upload + detection), configure (mapping, options), start (queue the task),
run (the engine), and mapping presets. Pages, API and commands all come through here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mobiliza.core.audit import audit_record
from mobiliza.core.models import AuditEvent
from mobiliza.people.imports import engine
from mobiliza.people.imports.presets import (
    CUSTOM_PREFIX,
    PERSON_TARGETS,
    SHIPPED_PRESETS,
    VOTE_TARGETS,
    ImportOptions,
    Preset,
    guess_mapping,
)
from mobiliza.people.imports.reader import FileFormat, ImportFileError, detect_format
from mobiliza.people.imports.rows import ParseConfig
from mobiliza.people.models import ImportJob, MappingPreset, PersonList

if TYPE_CHECKING:
    from mobiliza.accounts.models import Organization, User

logger = logging.getLogger(__name__)

IDENTITY_TARGETS = {"first_name", "last_name", "full_name", "external_id", "phone", "email"}
STALE_AFTER = dt.timedelta(minutes=15)


def _error(message: str) -> ValidationError:
    return ValidationError(message)


def source_path(job: ImportJob) -> Path:
    """Where the job's file is: a path given to the command, or the uploaded file."""
    path = (job.options or {}).get("source_path")
    if path:
        return Path(path)
    return Path(job.file.path)


def preset_get(*, organization: Organization, name: str) -> Preset | None:
    """A shipped preset by name, else the organization's saved preset of that name."""
    if name in SHIPPED_PRESETS:
        return SHIPPED_PRESETS[name]
    saved = MappingPreset.objects.filter(organization=organization, name=name).first()
    if saved is None:
        return None
    return Preset(
        name=saved.name,
        label=saved.name,
        kind=(saved.options or {}).get("kind", ImportJob.Kind.PEOPLE),
        person_list=saved.list,
        mapping=dict(saved.mapping),
        options={k: v for k, v in (saved.options or {}).items() if k != "kind"},
    )


def validate_mapping(
    *, kind: str, header: list[str], mapping: dict[str, str], preset: Preset | None = None
) -> dict[str, str]:
    """Check a mapping against the file's header; returns the cleaned mapping."""
    if preset is not None and preset.required:
        missing = [c for c in preset.required if c not in header]
        if missing:
            raise _error(
                _("The file lacks columns that the preset “%(preset)s” needs: %(columns)s.")
                % {"preset": preset.name, "columns": ", ".join(missing)}
            )
    targets = PERSON_TARGETS if kind == ImportJob.Kind.PEOPLE else VOTE_TARGETS
    clean: dict[str, str] = {}
    for column in header:
        target = (mapping.get(column) or "").strip()
        if target.startswith(CUSTOM_PREFIX):
            if kind != ImportJob.Kind.PEOPLE or not target[len(CUSTOM_PREFIX) :]:
                raise _error(_("Custom fields can only be filled by people imports."))
        elif target and target not in targets:
            raise _error(
                _("“%(target)s” is not something a column can be imported into.")
                % {"target": target}
            )
        clean[column] = target
    unknown = [c for c in mapping if c not in header and mapping[c]]
    if unknown:
        raise _error(
            _("The file has no column named %(columns)s.")
            % {"columns": ", ".join(f"“{c}”" for c in unknown[:5])}
        )
    used = set(clean.values())
    if kind == ImportJob.Kind.PEOPLE:
        if not used & IDENTITY_TARGETS:
            raise _error(
                _("Map at least one column to a name, an external id, a phone or an email.")
            )
    else:
        needed = [t for t in ("external_id", "election_label") if t not in used]
        if needed:
            raise _error(
                _("Map a column to each of: %(targets)s.")
                % {"targets": ", ".join(str(VOTE_TARGETS[t][0]) for t in needed)}
            )
    return clean


def _detect(path: Path, encoding: str, delimiter: str) -> FileFormat:
    try:
        return detect_format(path, encoding=encoding or None, delimiter=delimiter or None)
    except ImportFileError as exc:
        raise _error(str(exc)) from exc


def import_job_create(
    *,
    organization: Organization,
    actor: User | None,
    kind: str = ImportJob.Kind.PEOPLE,
    person_list: str = PersonList.CONTACTS,
    upload: UploadedFile | None = None,
    path: str | Path | None = None,
    preset: str = "",
    encoding: str = "",
    delimiter: str = "",
) -> ImportJob:
    """Store the file (an upload, or a path on the server for the command), detect how to read
    it and propose a mapping (from the preset, else guessed from the column names).

    Raises ValidationError with a clear message for a file that can't be read; nothing is kept.
    """
    if kind not in ImportJob.Kind.values:
        raise _error(_("Unknown import kind."))
    if person_list not in PersonList.values:
        raise _error(_("Choose contacts or electors."))
    chosen = preset_get(organization=organization, name=preset) if preset else None
    if preset and chosen is None:
        raise _error(_("There is no preset named “%(name)s”.") % {"name": preset})
    if chosen is not None and chosen.kind != kind:
        raise _error(
            _("The preset “%(name)s” is for another kind of import.") % {"name": chosen.name}
        )
    encoding = encoding or (chosen.encoding if chosen else "")
    delimiter = delimiter or (chosen.delimiter if chosen else "")
    job = ImportJob(
        organization=organization,
        kind=kind,
        list=person_list,
        preset=chosen.name if chosen else "",
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if upload is not None:
        job.original_name = Path(upload.name or "upload.csv").name[:255]
        job.file.save(
            f"{uuid.uuid4().hex}{Path(job.original_name).suffix[:10]}", upload, save=False
        )
        file_path = Path(job.file.path)
    elif path is not None:
        file_path = Path(path).resolve()
        if not file_path.is_file():
            raise _error(_("There is no file at %(path)s.") % {"path": str(path)})
        job.original_name = file_path.name[:255]
        job.options = {"source_path": str(file_path)}
    else:
        raise _error(_("Choose a file to import."))
    try:
        fmt = _detect(file_path, encoding, delimiter)
        if chosen is not None:
            mapping, opts = _preset_settings(chosen, fmt)
            if chosen.kind == ImportJob.Kind.PEOPLE and chosen.person_list:
                job.list = person_list or chosen.person_list
        else:
            mapping = guess_mapping(fmt.header, kind)
            opts = ImportOptions().as_dict()
    except ValidationError:
        if upload is not None:
            job.file.delete(save=False)
        raise
    _record_format(job, fmt, mapping, opts)
    return job


def _record_format(
    job: ImportJob, fmt: FileFormat, mapping: dict[str, str], opts: dict[str, Any]
) -> None:
    """Save on the job how its file reads (encoding, delimiter, header, first rows), its mapping
    and its options."""
    job.encoding, job.delimiter, job.mapping = fmt.encoding, fmt.delimiter, mapping
    job.options = {
        **(job.options or {}),
        **opts,
        "header": fmt.header,
        "preview": fmt.preview,
        "quotechar": fmt.quotechar,
    }
    job.save()


def _preset_settings(chosen: Preset, fmt: FileFormat) -> tuple[dict[str, str], dict[str, Any]]:
    """A preset's mapping of the file's columns (checked: the columns it needs are there) and
    its options: constant values (the NC file's country), the matching keys, the date format."""
    mapping = chosen.mapping_for(fmt.header)
    validate_mapping(kind=chosen.kind, header=fmt.header, mapping=mapping, preset=chosen)
    opts = ImportOptions.from_dict(chosen.options).as_dict()
    if chosen.options.get("date_format"):
        opts["date_format"] = chosen.options["date_format"]
    if chosen.name in {"ncvoter", "ncvhis"}:
        opts["date_format"] = "mdy"
    return mapping, opts


def import_job_apply_preset(*, job: ImportJob, name: str) -> ImportJob:
    """Apply a preset to a job that has not started, as if it had been chosen with the upload:
    the file read again with the preset's encoding and delimiter if it has them, its mapping,
    its options (constants, matching keys, date format) and, for people, its list."""
    _check_not_started(job)
    chosen = preset_get(organization=job.organization, name=name)
    if chosen is None or chosen.kind != job.kind:
        raise _error(_("There is no such preset for this import."))
    fmt = _detect(
        source_path(job), chosen.encoding or job.encoding, chosen.delimiter or job.delimiter
    )
    mapping, opts = _preset_settings(chosen, fmt)
    job.preset = chosen.name
    if chosen.kind == ImportJob.Kind.PEOPLE and chosen.person_list:
        job.list = chosen.person_list
    _record_format(job, fmt, mapping, opts)
    return job


def import_job_configurable(job: ImportJob) -> bool:
    """Whether the job's file, mapping and options may still change: not started, not queued."""
    return (
        job.status == ImportJob.Status.PENDING
        and job.started_at is None
        and not (job.options or {}).get("queued")
    )


def _check_not_started(job: ImportJob) -> None:
    if not import_job_configurable(job):
        raise _error(_("This import has already started."))


def import_job_configure(
    *,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    match: list[str] | None = None,
    on_match: str | None = None,
    person_list: str | None = None,
    dry_run: bool | None = None,
    constants: dict[str, str] | None = None,
) -> ImportJob:
    """Set the mapping and options of a job that has not started."""
    _check_not_started(job)
    header = list((job.options or {}).get("header", []))
    preset = preset_get(organization=job.organization, name=job.preset) if job.preset else None
    if mapping is not None:
        job.mapping = validate_mapping(kind=job.kind, header=header, mapping=mapping, preset=None)
        if preset is not None and preset.mapping_for(header) != job.mapping:
            preset = None
    else:
        job.mapping = validate_mapping(
            kind=job.kind, header=header, mapping=job.mapping or {}, preset=preset
        )
    opts = ImportOptions.from_dict(job.options)
    if match is not None:
        opts.match = [m for m in match if m in ("external_id", "phone", "email")]
    if on_match is not None:
        if on_match not in {"update", "skip"}:
            raise _error(_("Choose update or skip for people already stored."))
        opts.on_match = on_match
    if constants is not None:
        opts.constants = {k: v for k, v in constants.items() if k in PERSON_TARGETS}
    if person_list is not None:
        if person_list not in PersonList.values:
            raise _error(_("Choose contacts or electors."))
        job.list = person_list
    if dry_run is not None:
        job.dry_run = dry_run
    job.options = {**job.options, **opts.as_dict()}
    job.save()
    return job


def import_job_start(*, job: ImportJob) -> ImportJob:
    """Queue the job's task after the surrounding transaction commits."""
    import_job_configure(job=job)  # validates the mapping once more
    job.options = {**(job.options or {}), "queued": True}
    job.save(update_fields=["options", "updated_at"])
    job_id = job.pk
    transaction.on_commit(lambda: _queue_run(job_id))
    return job


def _queue_run(job_id: int) -> None:
    """The job's task for a Celery worker; without a broker (the embedded default,
    `IMPORTS_IN_THREAD`), a thread of this process runs it, so that the page that started the
    import returns at once and shows its progress, as it does with a broker. Were the process to
    stop meanwhile, the job would stay `running` and be claimed again after `STALE_AFTER`."""
    from mobiliza.people.imports.tasks import import_job_run_task

    if settings.IMPORTS_IN_THREAD:
        threading.Thread(
            target=_run_on_thread, args=(job_id,), name=f"import-{job_id}", daemon=True
        ).start()
    else:
        import_job_run_task.delay(job_id)


def _run_on_thread(job_id: int) -> None:
    try:
        import_job_run(job_id=job_id)
    except Exception:  # the job records its own failures; this is what it couldn't record
        logger.exception("import job %s stopped on its thread", job_id)
    finally:
        connections.close_all()  # this thread's connections


def import_job_copy_for_real(*, job: ImportJob, actor: User | None) -> ImportJob:
    """After a dry run: a new pending job over the same file and settings, not a dry run."""
    kept = bool((job.options or {}).get("source_path")) or (
        bool(job.file) and job.file.storage.exists(job.file.name or "")
    )
    if not kept:
        raise _error(_("The uploaded file is no longer kept. Upload it again."))
    copy = ImportJob.objects.create(
        organization=job.organization,
        kind=job.kind,
        list=job.list,
        dry_run=False,
        file=job.file.name,
        original_name=job.original_name,
        encoding=job.encoding,
        delimiter=job.delimiter,
        preset=job.preset,
        mapping=job.mapping,
        options={k: v for k, v in (job.options or {}).items() if k not in {"queued", "timings"}},
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    return copy


def _claim(job_id: int) -> ImportJob | None:
    """Mark the job running, unless it is finished or another worker is on it right now."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("organization").get(pk=job_id)
        if job.status in {
            ImportJob.Status.DONE,
            ImportJob.Status.FAILED,
            ImportJob.Status.CANCELLED,
        }:
            return None
        if job.status == ImportJob.Status.RUNNING and job.updated_at > timezone.now() - STALE_AFTER:
            return None
        job.status = ImportJob.Status.RUNNING
        job.phase = "reading"
        job.started_at = timezone.now()
        job.processed_rows = 0
        job.error_message = ""
        job.save()
        return job


def _report_path(job: ImportJob) -> tuple[Path, str]:
    name = f"imports/errors/{job.public_id}.csv"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, name


def import_job_run(
    *,
    job_id: int,
    workers: int | None = None,
    chunk_bytes: int | None = None,
    progress: engine.ProgressCallback | None = None,
) -> ImportJob:
    """Run the job to the end: status done with counts, or failed with a message and nothing
    applied. Idempotent: a finished job is left alone; a job whose worker died is run again."""
    job = _claim(job_id)
    if job is None:
        return ImportJob.objects.get(pk=job_id)
    organization = job.organization
    opts = ImportOptions.from_dict(job.options)
    stage = engine._Stage(job.pk, job.kind)
    report_file, report_name = _report_path(job)
    report = engine._Report(report_file)
    started = time.monotonic()
    timings: dict[str, float] = {}

    def on_progress(phase: str, done: int, total: int | None) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            phase=phase, processed_rows=done, total_rows=total, updated_at=timezone.now()
        )
        if progress is not None:
            progress(phase, done, total)

    cache_setting = engine.sqlite_cache_grow()
    try:
        path = source_path(job)
        if not path.is_file():
            raise engine.ImportAbortedError(_("The file of this import is gone; upload it again."))
        fmt = _detect(path, job.encoding, job.delimiter)
        preset = preset_get(organization=organization, name=job.preset) if job.preset else None
        mapping = validate_mapping(
            kind=job.kind,
            header=fmt.header,
            mapping=job.mapping or (preset.mapping_for(fmt.header) if preset else {}),
            preset=preset,
        )
        cfg = ParseConfig(
            kind=job.kind,
            header=fmt.header,
            mapping=mapping,
            encoding=fmt.encoding,
            delimiter=fmt.delimiter,
            quotechar=fmt.quotechar,
            region=organization.default_country or "PT",
            default_tz="",
            match=opts.match,
            constants=opts.constants,
            date_format=(job.options or {}).get("date_format", "dmy"),
            output="copy" if engine._postgres() else "rows",
        )
        stage.create()
        custom_keys = {
            target[len(CUSTOM_PREFIX) :]: column
            for column, target in mapping.items()
            if target.startswith(CUSTOM_PREFIX)
        }
        n_workers = workers if workers is not None else engine.default_workers()
        done = False
        if engine.direct_wanted(
            kind=job.kind,
            dry_run=job.dry_run,
            organization_id=organization.pk,
            person_list=job.list,
            path=path,
            fmt=fmt,
        ):
            layout = engine.direct_layout(
                organization_id=organization.pk,
                person_list=job.list,
                org_tz=organization.time_zone,
                mapping=mapping,
                constants=opts.constants,
            )
            # The load is one transaction: its progress goes through a connection of its own,
            # or the page would see nothing move until the end.
            with _SideProgress(job.pk, progress) as side_progress, transaction.atomic():
                loaded = engine.load_direct(
                    stage=stage,
                    path=path,
                    fmt=fmt,
                    cfg=dataclasses.replace(cfg, output="direct"),
                    layout=layout,
                    report=report,
                    progress=side_progress,
                    workers=n_workers,
                    organization_id=organization.pk,
                    person_list=job.list,
                    custom_keys=custom_keys,
                    chunk_bytes=chunk_bytes or engine.CHUNK_BYTES,
                    timings=timings,
                )
                if loaded is not None:
                    parsed, counts = loaded
                    timings["direct"] = 1
                    _complete(job, parsed, counts, report, report_name, timings, started)
                    done = True
        if not done:
            parsed = engine.load_stage(
                stage=stage,
                path=path,
                fmt=fmt,
                cfg=cfg,
                report=report,
                progress=on_progress,
                workers=n_workers,
                chunk_bytes=chunk_bytes or engine.CHUNK_BYTES,
            )
            timings["read"] = time.monotonic() - started
            stage.analyze()
            timings["analyze"] = time.monotonic() - started - timings["read"]
            on_progress("saving", parsed["rows"], parsed["rows"])
            with transaction.atomic():
                if job.kind == ImportJob.Kind.PEOPLE:
                    counts = engine.apply_people(
                        stage=stage,
                        organization_id=organization.pk,
                        person_list=job.list,
                        org_tz=organization.time_zone,
                        mapping=mapping,
                        constants=opts.constants,
                        match=opts.match,
                        on_match=opts.on_match,
                        dry_run=job.dry_run,
                        tag_names=parsed["tag_names"],
                        custom_keys=custom_keys,
                        report=report,
                        timings=timings,
                    )
                else:
                    counts = engine.apply_votes(
                        stage=stage,
                        organization_id=organization.pk,
                        dry_run=job.dry_run,
                        report=report,
                    )
                _complete(job, parsed, counts, report, report_name, timings, started)
    except (engine.ImportAbortedError, ValidationError) as exc:
        message = str(exc.messages[0]) if isinstance(exc, ValidationError) else str(exc)
        _fail(job, report, report_file, report_name, message)
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        _fail(
            job,
            report,
            report_file,
            report_name,
            _(
                "The import stopped on an unexpected error "
                "(%(error)s). Nothing was changed; you can run it again."
            )
            % {"error": type(exc).__name__},
        )
        if settings.DEBUG:
            raise
    finally:
        try:
            stage.drop()
            engine.sqlite_cache_restore(cache_setting)
        except Exception:  # pragma: no cover - the connection itself is gone
            logger.exception("could not drop the staging tables of import %s", job.pk)
    job.refresh_from_db()
    if job.status == ImportJob.Status.FAILED or (
        job.status == ImportJob.Status.DONE and not job.dry_run
    ):
        import_upload_discard(job=job)
    return job


def _complete(
    job: ImportJob,
    parsed: dict[str, Any],
    counts: dict[str, int],
    report: engine._Report,
    report_name: str,
    timings: dict[str, float],
    started: float,
) -> None:
    """Mark the job done with its counts and audit it (inside the import's transaction)."""
    counts["rows"] = parsed["rows"]
    counts["errors"] = parsed["rejected"]
    counts["invalid_phones"] = parsed["invalid_phones"]
    report.close()
    counts["problems"] = report.count
    timings["total"] = time.monotonic() - started
    job.status = ImportJob.Status.DONE
    job.phase = "done"
    job.counts = counts
    job.processed_rows = parsed["rows"]
    job.total_rows = parsed["rows"]
    job.finished_at = timezone.now()
    job.error_report.name = report_name if report.count else ""
    job.options = {**job.options, "timings": {k: round(v, 2) for k, v in timings.items()}}
    job.save()
    audit_record(
        organization=job.organization,
        actor=job.created_by,
        action=AuditEvent.Action.IMPORT,
        target=job,
        meta={
            "kind": job.kind,
            "list": job.list,
            "file": job.original_name,
            "preset": job.preset,
            "dry_run": job.dry_run,
            "counts": counts,
        },
    )


class _SideProgress:
    """A progress callback that writes the job's progress on a connection of its own
    (autocommit), so that the page sees it while the import's transaction is open."""

    def __init__(self, job_pk: int, progress: engine.ProgressCallback | None) -> None:
        self.job_pk = job_pk
        self.progress = progress
        self.connection: Any = None

    def __enter__(self) -> engine.ProgressCallback:
        return self

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.connection is None:
            self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        table = ImportJob._meta.db_table
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET phase = %s, processed_rows = %s, total_rows = %s, "  # noqa: S608
                "updated_at = %s WHERE id = %s",
                [phase, done, total, timezone.now(), self.job_pk],
            )
        if self.progress is not None:
            self.progress(phase, done, total)

    def __exit__(self, *exc: object) -> None:
        if self.connection is not None:
            self.connection.close()


def import_upload_discard(*, job: ImportJob) -> bool:
    """Delete the uploaded file of a finished job (its people are in the database now; a copy
    of a voter file is personal data we don't keep). The error report stays. A file given to
    the command by path is the operator's own and is never touched; a file another job still
    waits to read (a queued "import for real") is kept for it. Returns True if it was deleted."""
    name = job.file.name if job.file else ""
    if not name or (job.options or {}).get("source_path"):
        return False
    users = ImportJob.objects.filter(file=name).exclude(pk=job.pk)
    if users.filter(status__in=[ImportJob.Status.PENDING, ImportJob.Status.RUNNING]).exists():
        return False
    job.file.storage.delete(name)
    # The dry run it came from can't be run for real any more: it says so.
    ImportJob.objects.filter(file=name).update(file="")
    job.file.name = ""
    return True


UPLOAD_DIR = "imports"


def import_uploads_purge(
    *, older_than: dt.timedelta, now: dt.datetime | None = None, dry_run: bool = False
) -> list[str]:
    """Retention for abandoned uploads: delete the uploaded files of jobs untouched for
    `older_than` (never started, finished dry runs never run for real, failed, or whose worker
    died), and stray files under the upload folder that no job names (an upload interrupted
    before its job was saved). Waiting jobs whose file goes are cancelled with a message.
    Error reports are kept. Returns the names of the files deleted (or that would be)."""
    cutoff = (now or timezone.now()) - older_than
    deleted: list[str] = []
    stale = (
        ImportJob.objects.exclude(file="")
        .filter(updated_at__lt=cutoff)
        .exclude(options__has_key="source_path")
        .order_by("pk")
    )
    fresh_names = set(
        ImportJob.objects.exclude(file="")
        .filter(updated_at__gte=cutoff)
        .values_list("file", flat=True)
    )
    for job in stale:
        name = job.file.name or ""
        if not name or name in fresh_names:
            continue  # a newer job (e.g. "import for real" just queued) still needs it
        if not dry_run:
            job.file.storage.delete(name)
            cancelled = job.status == ImportJob.Status.PENDING
            ImportJob.objects.filter(pk=job.pk).update(
                file="",
                status=ImportJob.Status.CANCELLED if cancelled else job.status,
                error_message=(
                    _("The uploaded file was deleted after %(days)d days without being imported.")
                    % {"days": older_than.days}
                    if cancelled
                    else job.error_message
                ),
            )
        if name not in deleted:
            deleted.append(name)
    # Stray uploads: files under imports/YYYY/MM/ that no job names (never the error reports).
    root = Path(settings.MEDIA_ROOT) / UPLOAD_DIR
    if root.is_dir():
        known = set(ImportJob.objects.exclude(file="").values_list("file", flat=True))
        for path in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/*")):
            if not path.is_file():
                continue
            name = path.relative_to(settings.MEDIA_ROOT).as_posix()
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
            if name in known or modified >= cutoff:
                continue
            if not dry_run:
                path.unlink(missing_ok=True)
            deleted.append(name)
    return deleted


def _fail(
    job: ImportJob, report: engine._Report, report_file: Path, report_name: str, message: str
) -> None:
    if not report._fh.closed:
        report.close()
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        phase="failed",
        error_message=message + " " + _("Nothing was changed."),
        finished_at=timezone.now(),
        updated_at=timezone.now(),
        error_report=report_name if report.count else "",
    )
    audit_record(
        organization=job.organization,
        actor=job.created_by,
        action=AuditEvent.Action.IMPORT,
        target=job,
        meta={"file": job.original_name, "failed": message},
    )
    if not report.count:
        report_file.unlink(missing_ok=True)


@transaction.atomic
def mapping_preset_save(
    *,
    organization: Organization,
    actor: User | None,
    name: str,
    person_list: str,
    mapping: dict[str, str],
    options: dict[str, Any] | None = None,
    kind: str = ImportJob.Kind.PEOPLE,
) -> MappingPreset:
    """Save (or replace) a named mapping for the organization's next imports."""
    name = name.strip()[:100]
    if not name:
        raise _error(_("Give the preset a name."))
    if name in SHIPPED_PRESETS:
        raise _error(_("“%(name)s” is the name of a built-in preset.") % {"name": name})
    clean = {str(k)[:200]: str(v) for k, v in mapping.items() if v}
    if not clean:
        raise _error(_("The preset maps no column."))
    opts = {**ImportOptions.from_dict(options).as_dict(), "kind": kind}
    preset, created = MappingPreset.objects.update_or_create(
        organization=organization,
        name=name,
        defaults={"list": person_list, "mapping": clean, "options": opts},
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
        target=preset,
        meta={"mapping": clean},
    )
    return preset


@transaction.atomic
def mapping_preset_delete(*, preset: MappingPreset, actor: User | None) -> None:
    audit_record(
        organization=preset.organization,
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=preset,
    )
    preset.delete()

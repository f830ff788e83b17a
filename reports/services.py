"""Exports of the case report: the permission, the record of each export, the background jobs."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cases.models import RefundCase
from reports.csv_sql import csv_chunks
from reports.models import ExportJob, ExportRecord
from reports.resources import CaseReportResource
from reports.writers import Progress, stream_json
from reports.xlsx import write_xlsx

logger = logging.getLogger(__name__)

EXPORT_PERMISSION = "cases.export_refundcase"
# Bigger exports (and every XLSX) are built by a task and offered for download when ready.
STREAM_LIMIT = 100_000
PROGRESS_EVERY = 10_000


def check_export_permission(user) -> None:
    if user is None or not user.is_active or not user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("Exporting cases needs the export permission (support managers).")


def export_record(*, user, actor_label: str, via: str, fmt: str, filters: dict, row_count: int) -> ExportRecord:
    return ExportRecord.objects.create(
        user=user, actor_label=actor_label, via=via, format=fmt, filters=filters, row_count=row_count,
    )


def needs_job(*, fmt: str, row_count: int) -> bool:
    return fmt == "xlsx" or row_count > STREAM_LIMIT


def stream(queryset: QuerySet[RefundCase], *, fmt: str, now: datetime | None = None,
           progress: Progress | None = None) -> Iterator[str]:
    """CSV or JSON text of the report for ``queryset``, chunk by chunk."""
    if fmt == "csv":  # each chunk holds whole rows, so whole UTF-8 characters
        return (chunk.decode("utf-8") for chunk in csv_chunks(queryset, now=now, progress=progress))
    resource = CaseReportResource(now=now)
    return stream_json(resource.export_rows(queryset), resource.columns, progress=progress)


def write_file(queryset: QuerySet[RefundCase], *, fmt: str, out, now: datetime | None = None,
               progress: Progress | None = None) -> None:
    """The report into a binary file object, in any of the three formats."""
    if fmt == "xlsx":
        resource = CaseReportResource(now=now)
        write_xlsx(resource.export_rows(queryset), resource.columns, out, progress=progress)
        return
    if fmt == "csv":
        # Without a progress callback nothing but these writes runs between chunks: the rows may
        # come straight from PostgreSQL's COPY, which holds the connection until it ends.
        for chunk in csv_chunks(queryset, now=now, progress=progress, spool=progress is not None):
            out.write(chunk)
        return
    for chunk in stream(queryset, fmt=fmt, now=now, progress=progress):
        out.write(chunk.encode("utf-8"))


def export_job_start(*, user, fmt: str, query: str, filters: dict, row_count: int) -> ExportJob:
    """Record the export and queue the job; the task runs once this is committed."""
    from reports.tasks import run_export_job

    check_export_permission(user)
    with transaction.atomic():
        record = export_record(user=user, actor_label=user.get_username(), via=ExportRecord.Via.ADMIN, fmt=fmt,
                               filters=filters, row_count=row_count)
        job = ExportJob.objects.create(user=user, record=record, format=fmt, query=query, total=row_count)
        transaction.on_commit(lambda: run_export_job.delay(job.pk))
    return job


def export_job_run(*, job_id: int, queryset: QuerySet[RefundCase]) -> ExportJob:
    """Build the job's file from ``queryset`` (the case list as the job's user filtered it)."""
    # A job is claimed once: a redelivered task (acks late) finds it no longer queued.
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    job = ExportJob.objects.get(pk=job_id)
    if not claimed:
        return job

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(done=min(done, job.total))

    try:
        with tempfile.TemporaryFile() as out:
            write_file(queryset, fmt=job.format, out=out, now=job.created_at, progress=progress)
            out.seek(0)
            job.file.save(job.filename, File(out), save=False)
        job.status = ExportJob.Status.DONE
        job.done = job.total
    except Exception as error:  # noqa: BLE001 - the job page shows what went wrong; the task logs it
        job.status = ExportJob.Status.FAILED
        job.error = f"{type(error).__name__}: {error}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        logger.exception("Export job %s failed", job_id)
        return job
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "done", "file", "finished_at"])
    return job

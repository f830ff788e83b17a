"""Exports of the case report: the permission, the record of each export, the background jobs."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet

from cases.models import RefundCase
from reports.csv_sql import csv_chunks
from reports.models import ExportJob, ExportRecord
from reports.resources import CaseReportResource
from reports.writers import Progress, stream_json
from reports.xlsx import write_xlsx

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
    check_export_permission(user)
    with transaction.atomic():
        record = export_record(user=user, actor_label=user.get_username(), via=ExportRecord.Via.ADMIN, fmt=fmt,
                               filters=filters, row_count=row_count)
        job = ExportJob.objects.create(requested_by=user, record=record, format=fmt, query=query, total=row_count)
        job.send_to_worker()
    return job


def export_job_run(*, job_id: int, cases: Callable[[ExportJob], QuerySet[RefundCase]]) -> ExportJob | None:
    """Build the job's file from ``cases(job)``: the case list as the job's user filters it, checked again.

    None if the job was not there to claim (run already, or cancelled before it started).
    """

    def work(job: ExportJob) -> dict:
        queryset = cases(job)

        def progress(done: int) -> None:
            job.report_progress(min(done, job.total))

        with tempfile.TemporaryFile() as out:
            write_file(queryset, fmt=job.format, out=out, now=job.created_at, progress=progress)
            out.seek(0)
            job.file.save(job.filename, File(out), save=False)
        return {"processed": job.total, "file": job.file.name}

    return ExportJob.execute(job_id, work, queryset=ExportJob.objects.select_related("requested_by", "record"))

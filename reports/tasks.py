"""Background exports of the case report (Celery; eager without a broker)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.run_export_job")
def run_export_job(job_id: int) -> None:
    from reports.admin_export import job_queryset
    from reports.models import ExportJob
    from reports.services import export_job_run

    job = ExportJob.objects.select_related("user").get(pk=job_id)
    export_job_run(job_id=job_id, queryset=job_queryset(job))

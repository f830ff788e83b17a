"""Background exports of the case report and policy backtests (Celery; eager without a broker)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.run_export_job")
def run_export_job(job_id: int) -> str:
    from reports.admin_export import job_queryset
    from reports.services import export_job_run

    job = export_job_run(job_id=job_id, cases=job_queryset)
    return "claimed elsewhere" if job is None else job.status


# Named as before backtests moved here from the policies app: messages already queued carry the name.
@shared_task(name="policies.run_backtest")
def run_backtest(backtest_id: int) -> str:
    from reports.backtest import run_backtest as run

    run_ = run(backtest_id)
    return "claimed elsewhere" if run_ is None else run_.status

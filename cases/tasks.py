"""Background jobs (Celery): mail delivery and deadline sweeps.

Each job is safe to run twice at once and to run again: the work it does is claimed under database
locks and unique constraints, not by the job system, so a redelivered or duplicated task is harmless.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="cases.deliver_mail", ignore_result=True)
def deliver_mail(message_id: int) -> str | None:
    from cases.outbox import deliver

    return deliver(message_id)


@shared_task(name="cases.deliver_due_mail", ignore_result=True)
def deliver_due_mail() -> dict[str, int]:
    from cases.outbox import deliver_due

    return deliver_due()


@shared_task(name="cases.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> int:
    from cases.sweeps import sweep_deadlines as sweep

    return sweep().total

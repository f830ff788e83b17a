"""Background jobs (Celery): mail delivery, refunds sent through a shop, and deadline sweeps.

Each job is safe to run twice at once and to run again: the work it does is claimed under database
locks and unique constraints, not by the job system, so a redelivered or duplicated task is harmless.
"""

from __future__ import annotations

from celery import shared_task

# Mail delivery: defined beside the outbox, imported here so the worker finds every task of the app.
from cases.outbox import deliver_due_mail, deliver_mail  # noqa: F401

# Refunds sent through a shop: defined beside their services.
from cases.services.refunds import send_refund_request  # noqa: F401
from cases.sweeps import sweep_deadlines as sweep


@shared_task(name="cases.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> int:

    return sweep().total
